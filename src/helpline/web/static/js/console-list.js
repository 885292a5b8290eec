// The console's chat list: filters, search, sort order, rows, the open-chat tabs and the
// badges (unread and waiting counts, the tab title).

import { formatNumber, t, tn } from "./i18n.js";
import { api } from "./api.js";
import { setTitle } from "./alerts.js";
import { BASE_TITLE, LONG_WAIT_S, customerName, isMine, queueName, state, upsert } from "./console-store.js";
import { chatClock, slaChip } from "./sla.js";
import { tagChip } from "./tags.js";
import { $, $$, formatDuration, h, icon, isOpenStatus, relative, since, statusBadge, toastError } from "./ui.js";

// What a row or tab does when clicked (the chat window's openChat and closeTab).
const actions = { open: () => {}, close: () => {} };

export function updateBadges(counts) {
  let unread = 0;
  for (const n of state.unread.values()) unread += n;
  const total = unread + counts.waiting;
  const badge = $('[data-role="total-count"]');
  badge.textContent = total ? formatNumber(total) : "";
  badge.dataset.count = String(total);
  $('[data-role="total-count-label"]').textContent = `${tn("{count} waiting", "{count} waiting", counts.waiting)}, ${tn("{count} unread", "{count} unread", unread)}`;
  setTitle(total ? `(${formatNumber(total)}) ${BASE_TITLE}` : BASE_TITLE);
}

export function matchesFilter(chat) {
  switch (state.filter) {
    case "waiting":
      return chat.status === "waiting";
    case "mine":
      return isMine(chat) && chat.status === "in_progress";
    case "closed":
      return !isOpenStatus(chat.status);
    default:
      return true;
  }
}

export function sortKey(chat) {
  const rank = chat.status === "waiting" ? 0 : chat.status === "in_progress" ? (isMine(chat) ? 1 : 2) : 3;
  const t = Date.parse(chat.waiting_since || chat.created_at || 0) || 0;
  const closed = Date.parse(chat.closed_at || chat.updated_at || chat.created_at || 0) || 0;
  return [rank, rank === 0 ? t : rank === 3 ? -closed : -(Date.parse(chat.accepted_at || 0) || t)];
}

export function compareChats(a, b) {
  const ka = sortKey(a);
  const kb = sortKey(b);
  return ka[0] - kb[0] || ka[1] - kb[1];
}

export function timeLabel(chat) {
  if (chat.status === "waiting") {
    const s = since(chat.waiting_since || chat.created_at);
    return { text: t("waiting {duration}", { duration: formatDuration(s) }), long: s >= LONG_WAIT_S };
  }
  if (chat.status === "in_progress") return { text: t("talking {duration}", { duration: formatDuration(since(chat.accepted_at || chat.created_at)) }), long: false };
  return { text: relative(chat.closed_at || chat.updated_at || chat.created_at), long: false };
}

export function scheduleRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  requestAnimationFrame(() => {
    state.renderQueued = false;
    renderList();
    renderTabs();
  });
}

export function renderList() {
  const listEl = $('[data-testid="chat-list"]');
  const focusedId = document.activeElement?.closest?.('[data-testid="chat-row"]')?.dataset.chatId;
  const q = state.search.trim().toLowerCase();
  const all = Array.from(state.chats.values());
  const counts = {
    all: all.length,
    waiting: all.filter((c) => c.status === "waiting").length,
    mine: all.filter((c) => isMine(c) && c.status === "in_progress").length,
  };
  const rows = all
    .filter(matchesFilter)
    .filter((c) => !state.queueFilter || c.queue_id === state.queueFilter)
    .filter((c) => !state.tagFilter || (c.tags || []).some((t) => t.id === state.tagFilter))
    .filter((c) => !q || (c.reference || "").toLowerCase().includes(q) || customerName(c).toLowerCase().includes(q))
    .sort(compareChats);
  placeRows(listEl, placedRows, rows.map((chat) => [chat.id, chatRow(chat)]));
  for (const key of ["all", "waiting", "mine"]) {
    const n = $(`[data-count-for="${key}"]`);
    if (n) n.textContent = counts[key] ? formatNumber(counts[key]) : "";
  }
  const empty = $('[data-role="list-empty"]');
  empty.hidden = rows.length > 0;
  if (!rows.length) {
    const texts = {
      waiting: [t("Nobody is waiting"), t("New chats show up here the moment a customer starts one.")],
      mine: [t("No chats in progress"), t("Accept a waiting chat and it shows up here.")],
      closed: [t("No closed chats"), t("Solved, cancelled and expired chats show up here.")],
      all: [t("No chats yet"), t("New chats show up here the moment a customer starts one.")],
    };
    const [title, text] = q || state.queueFilter || state.tagFilter ? [t("No matches"), t("Try another search, queue or tag.")] : texts[state.filter];
    $('[data-role="list-empty-title"]').textContent = title;
    $('[data-role="list-empty-text"]').textContent = text;
  }
  if (focusedId) listEl.querySelector(`[data-chat-id="${CSS.escape(focusedId)}"] button`)?.focus();
  updateBadges(counts);
}

/** Show `rows` (`[chat id, freshly built element]`) in `listEl`, keeping each chat's element
 * across renders (`placed`: chat id -> the element and what it showed). A row whose contents
 * changed keeps its element and its buttons, which get new attributes and contents; rows
 * move only when the order changed. On a busy desk the list renders many times a second, and
 * the browser drops a click whose button left the page between the mouse going down and up:
 * rebuilt rows lost clicks. */
function placeRows(listEl, placed, rows) {
  const seen = new Set();
  const els = rows.map(([id, fresh]) => {
    seen.add(id);
    const shows = fresh.outerHTML;
    const kept = placed.get(id);
    if (!kept || kept.el.children.length !== fresh.children.length) {
      placed.set(id, { el: fresh, shows });
      return fresh;
    }
    if (kept.shows !== shows) {
      const pairs = [[kept.el, fresh], ...Array.from(kept.el.children, (el, i) => [el, fresh.children[i]])];
      for (const [old, now] of pairs) {
        for (const { name } of Array.from(old.attributes)) if (!now.hasAttribute(name)) old.removeAttribute(name);
        for (const { name, value } of Array.from(now.attributes)) old.setAttribute(name, value);
      }
      for (const [old, now] of pairs.slice(1)) old.replaceChildren(...now.childNodes);
      kept.shows = shows;
    }
    return kept.el;
  });
  for (const id of placed.keys()) if (!seen.has(id)) placed.delete(id);
  const shown = listEl.children;
  if (shown.length !== els.length || els.some((el, i) => shown[i] !== el)) listEl.replaceChildren(...els);
}

const placedRows = new Map();
const placedTabs = new Map();

export function chatRow(chat) {
  const badge = h("span", {});
  statusBadge(badge, chat.status);
  const unread = state.unread.get(chat.id) || 0;
  const time = timeLabel(chat);
  const btn = h(
    "button",
    { class: "chat-row__btn", type: "button" },
    h("span", { class: "chat-row__customer" }, customerName(chat)),
    h(
      "span",
      { class: "chat-row__side" },
      unread ? h("span", { class: "count", "data-testid": "unread-count", "aria-label": tn("{count} unread", "{count} unread", unread) }, formatNumber(unread)) : null,
      badge,
    ),
    h(
      "span",
      { class: "chat-row__meta" },
      h("span", { class: "chat-row__ref" }, chat.reference || ""),
      h("span", {}, queueName(chat.queue_id)),
      chat.agent ? h("span", {}, isMine(chat) ? t("you") : chat.agent.name) : null,
      h("span", { class: `chat-row__time${time.long ? " chat-row__time--long" : ""}` }, time.text),
      slaChip(chatClock(chat)),
    ),
    chat.tags?.length ? h("span", { class: "chat-row__tags" }, ...chat.tags.map((tag) => tagChip(tag, { testid: "chat-row-tag" }))) : null,
  );
  btn.addEventListener("click", () => actions.open(chat.id));
  return h(
    "li",
    {
      class: "chat-row",
      "data-testid": "chat-row",
      "data-chat-id": chat.id,
      "data-status": chat.status,
      "data-reference": chat.reference || "",
      "aria-current": chat.id === state.activeId ? "true" : null,
    },
    btn,
  );
}

export function renderTabs() {
  const bar = $('[data-role="open-tabs"]');
  bar.hidden = state.openIds.length === 0;
  placeRows(
    bar,
    placedTabs,
    state.openIds
      .map((id) => state.chats.get(id))
      .filter(Boolean)
      .map((chat) => {
        const unread = state.unread.get(chat.id) || 0;
        const sel = chat.id === state.activeId;
        const main = h(
          "button",
          { class: "open-tab__btn", type: "button", "aria-current": sel ? "true" : null, title: `${customerName(chat)} · ${chat.reference}` },
          h("span", { class: `dot dot--${chat.status === "waiting" ? "connecting" : isOpenStatus(chat.status) ? "open" : ""}` }),
          h("span", {}, customerName(chat)),
          unread ? h("span", { class: "count" }, formatNumber(unread)) : null,
        );
        main.addEventListener("click", () => actions.open(chat.id));
        const close = h("button", { class: "icon-btn open-tab__close", type: "button", "aria-label": t("Close {name}", { name: customerName(chat) }) }, icon("close"));
        close.addEventListener("click", () => actions.close(chat.id));
        // A list of buttons, not an ARIA tablist: the tabs have no tab panels or arrow keys.
        return [chat.id, h("li", { class: "open-tab", "data-testid": "open-chat-tab", "data-chat-id": chat.id, "data-selected": String(sel) }, main, close)];
      }),
  );
}

export async function loadClosed() {
  try {
    const page = await api.get("/chats?status=solved,cancelled,expired&limit=200");
    for (const c of page.items || []) upsert(c);
    scheduleRender();
  } catch (err) {
    toastError(err, t("Could not load closed chats"));
  }
}

/** Filters, search and the queue filter; `open`/`close` open and close a chat's tab. */
export function wireList({ open, close }) {
  actions.open = open;
  actions.close = close;
  for (const tab of $$("[data-filter]")) {
    tab.addEventListener("click", () => {
      state.filter = tab.dataset.filter;
      for (const t of $$("[data-filter]")) t.setAttribute("aria-pressed", String(t === tab));
      if (state.filter === "closed") loadClosed();
      scheduleRender();
    });
  }
  let searchTimer = null;
  $("#chat-search").addEventListener("input", (e) => {
    state.search = e.target.value;
    scheduleRender();
    clearTimeout(searchTimer);
    const q = state.search.trim();
    if (q.length < 2) return;
    // Also ask the server, so older (closed) chats are found too.
    searchTimer = setTimeout(async () => {
      try {
        const res = await api.get(`/chats?q=${encodeURIComponent(q)}&limit=50`);
        for (const c of res.items || []) if (!state.chats.has(c.id)) upsert(c);
        scheduleRender();
      } catch {
        /* the local results stay */
      }
    }, 300);
  });
  $("#queue-filter").addEventListener("change", (e) => {
    state.queueFilter = e.target.value;
    scheduleRender();
  });
  $("#tag-filter").addEventListener("change", async (e) => {
    state.tagFilter = e.target.value;
    scheduleRender();
    if (!state.tagFilter) return;
    // Also ask the server, so older (closed) chats with the tag are found too.
    try {
      const res = await api.get(`/chats?tag=${encodeURIComponent(state.tagFilter)}&limit=200`);
      for (const c of res.items || []) upsert(c);
      scheduleRender();
    } catch (err) {
      toastError(err, t("Could not load the chats with this tag"));
    }
  });
}
