// The Agent Console: availability, the chat session list (filters, search, unread counts),
// alerts for new chats and messages (toast, sound, tab title, desktop notification), and the
// chat window with accept, composer, files and the chat options (solve, move, cancel, raise a
// Service Manager request). Several chats stay open in tabs; drafts survive switching and
// reloads (sessionStorage).

import { ApiError, api, bootData, getAll } from "./api.js";
import { apply, may, relations, statusAfter } from "./chat-state.js";
import { Composer } from "./composer.js";
import { Conversation, transcriptText } from "./conversation.js";
import { Realtime } from "./realtime.js";
import { initRequests, showRequests } from "./requests.js";
import { alertDesktop, alertSound, initAlertSettings, setTitle, startRepeat, stopRepeat } from "./alerts.js";
import { initReports, showReports } from "./reports.js";
import { SnippetPicker, initSnippetManager, showSnippets } from "./snippets.js";
import { initSupervisor, showSupervisor } from "./supervisor.js";
import {
  $,
  $$,
  CHAT_STATUS,
  audioReady,
  beep,
  formatDateTime,
  formatDuration,
  h,
  icon,
  isOpenStatus,
  openDialog,
  relative,
  setBusy,
  showFormError,
  since,
  statusBadge,
  toast,
  toastError,
  unlockAudio,
  wireLogout,
} from "./ui.js";

const boot = bootData();
const me = boot.user;
const SEES_ALL = me.role === "supervisor" || me.role === "admin";
const OPEN_KEY = "helpline.console.open";
const DRAFTS_KEY = "helpline.console.drafts";
const BASE_TITLE = "Helpline Console";
const LONG_WAIT_S = 120;

const state = {
  rt: new Realtime(),
  queues: [],
  queuesById: new Map(),
  myQueueIds: null, // Set of queue ids I belong to, when known
  chats: new Map(),
  events: new Map(),
  unread: new Map(),
  requests: new Map(), // chat id -> request reference
  joined: new Set(),
  filter: "all",
  search: "",
  queueFilter: "",
  openIds: load(OPEN_KEY, []),
  drafts: load(DRAFTS_KEY, {}),
  activeId: null,
  shownId: null,
  conv: null,
  composer: null,
  offerToast: null,
  typingTimer: null,
  picker: null,
  renderQueued: false,
  accepting: null, // the chat id of my own accept in flight
};

function load(key, fallback) {
  try {
    const raw = sessionStorage.getItem(key);
    return raw ? JSON.parse(raw) : fallback;
  } catch {
    return fallback;
  }
}

function save(key, value) {
  try {
    sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage unavailable */
  }
}

const queueName = (id) => state.queuesById.get(id)?.name || "";
const customerName = (chat) => chat?.customer?.name || "Customer";
const isMine = (chat) => chat?.agent?.id === me.id;
/** How I stand to the chat (chat-state.js relations); nothing once it left my reach. */
const myRelations = (chat) => (chat.gone ? new Set() : relations(chat, me, { joined: state.joined.has(chat.id) }));
const mayDo = (action, chat) => may(action, myRelations(chat), chat.status);

// ------------------------------------------------------------------ chats data

function upsert(chat) {
  if (!chat || !chat.id) return null;
  const prev = state.chats.get(chat.id);
  const merged = prev ? Object.assign(prev, chat) : { ...chat };
  merged.gone = false;
  state.chats.set(chat.id, merged);
  syncSubscription(merged);
  return merged;
}

function chatEvents(id) {
  if (!state.events.has(id)) state.events.set(id, []);
  return state.events.get(id);
}

/** Subscribe to chats that are open in a tab or handled by me; drop the others. */
function syncSubscription(chat) {
  const want =
    !chat.gone &&
    ( state.openIds.includes(chat.id) || (isMine(chat) && isOpenStatus(chat.status)) || state.joined.has(chat.id));
  if (want && !state.rt.isSubscribed(chat.id)) {
    state.rt.subscribe(chat.id, (ev, info) => onChatEvent(ev, info));
  } else if (!want && state.rt.isSubscribed(chat.id)) {
    state.rt.unsubscribe(chat.id);
    state.events.delete(chat.id);
  }
}

/** The event's effect on the chat (chat-state.js) and on what this page tracks about it;
 * true when the chat's status, queue or agent changed. */
function applyEvent(chat, ev) {
  const d = ev.data || {};
  const changed = apply(chat, ev);
  if (ev.type === "request.raised" && d.request?.reference) state.requests.set(chat.id, d.request.reference);
  if (ev.type === "chat.joined" && d.agent?.id === me.id) state.joined.add(chat.id);
  if (ev.type === "chat.parted" && d.agent?.id === me.id) state.joined.delete(chat.id);
  // Helpers leave when the chat goes back to the queue or ends (the server removes them).
  if (changed && !(chat.helpers || []).some((u) => u.id === me.id)) state.joined.delete(chat.id);
  return changed;
}

function onChatEvent(ev, { initial, replay }) {
  const chat = state.chats.get(ev.chat_id);
  if (!chat) return;
  const list = chatEvents(chat.id);
  if (list.length && list[list.length - 1].seq >= ev.seq) {
    if (list.some((e) => e.seq === ev.seq)) return;
    list.push(ev);
    list.sort((a, b) => a.seq - b.seq);
  } else {
    list.push(ev);
  }
  const changed = applyEvent(chat, ev);
  if (chat.id === state.shownId) {
    state.conv.add(ev);
    if (ev.type === "message.posted" && ev.actor?.id !== me.id) hideTyping();
  }
  const fromOther = (ev.type === "message.posted" || ev.type === "file.shared") && ev.actor && ev.actor.id !== me.id;
  if (fromOther && !initial) {
    const focused = chat.id === state.activeId && document.visibilityState === "visible";
    if (!focused) {
      state.unread.set(chat.id, (state.unread.get(chat.id) || 0) + 1);
      notifyMessage(chat, ev);
    }
  }
  // During a replay the state passes through old values (a chat moved, then accepted):
  // decide about the subscription only on live events and once the replay is complete.
  if (changed) {
    if (!replay) syncSubscription(chat);
    if (!isOpenStatus(chat.status)) failPending(chat.id);
  }
  if (chat.id === state.shownId && (changed || ev.type === "request.raised" || ev.type.startsWith("chat.joined") || ev.type === "chat.parted"))
    renderWindow(false);
  scheduleRender();
}

function failPending(chatId) {
  for (const p of state.rt.pending(chatId)) {
    state.rt.discard(p.client_id);
    if (chatId === state.shownId) state.conv.failPending(p.client_id, "the chat has ended");
  }
}

async function loadQueues() {
  const res = await api.get("/queues");
  state.queues = (res.items || []).filter((q) => q.active !== false);
  state.queuesById = new Map(state.queues.map((q) => [q.id, q]));
  const filter = $("#queue-filter");
  filter.replaceChildren(h("option", { value: "" }, "All queues"), ...state.queues.map((q) => h("option", { value: q.id }, q.name)));
  filter.value = state.queueFilter;
}

async function loadChats() {
  const [waiting, active, recent] = await Promise.all([
    getAll("/chats?status=waiting&limit=200", 1000),
    getAll("/chats?status=in_progress&limit=200", 1000),
    api.get("/chats"),
  ]);
  const fresh = new Map();
  for (const c of [...(recent.items || []), ...waiting, ...active]) fresh.set(c.id, c);
  // Open chats we knew but the server no longer lists as open (closed, or moved away).
  for (const [id, chat] of state.chats) {
    if (fresh.has(id) || !isOpenStatus(chat.status)) continue;
    const found = await lookup(chat);
    if (found) fresh.set(id, found);
    else markGone(id);
  }
  for (const c of fresh.values()) upsert(c);
  scheduleRender();
}

/**
 * The chat as the server shows it to me now, or null if I may no longer see it. Asks the list
 * endpoint (by reference) rather than GET /chats/{id}, whose 404 would be a console error.
 */
async function lookup(chat) {
  try {
    const res = await api.get(`/chats?q=${encodeURIComponent(chat.reference || chat.id)}`);
    return (res.items || []).find((c) => c.id === chat.id) || null;
  } catch {
    return null;
  }
}

/** The chat left my reach (moved to a queue I'm not in): keep it only if open in a tab. */
function markGone(id) {
  const chat = state.chats.get(id);
  if (!chat) return;
  dropOfferToast(id);
  if (!state.openIds.includes(id)) {
    state.chats.delete(id);
    if (state.rt.isSubscribed(id)) state.rt.unsubscribe(id);
  } else {
    chat.gone = true;
  }
  if (id === state.shownId) renderWindow(false);
  scheduleRender();
}

async function loadClosed() {
  try {
    const page = await api.get("/chats?status=solved,cancelled,expired&limit=200");
    for (const c of page.items || []) upsert(c);
    scheduleRender();
  } catch (err) {
    toastError(err, "Could not load closed chats");
  }
}

// ------------------------------------------------------------------ alerts

function notifyNewChat(chat) {
  const q = queueName(chat.queue_id) || "a queue";
  const title = `New chat started by ${customerName(chat)} in queue ${q}`;
  state.offerToast?.close();
  const t = toast({
    title,
    text: chat.subject || "Click to open it.",
    testid: "new-chat-notification",
    key: "new-chat",
    timeout: 60000,
    onClick: () => openChat(chat.id),
  });
  t.chatId = chat.id;
  state.offerToast = t;
  alertSound();
  alertDesktop(title, chat.subject || "", () => openChat(chat.id));
  startRepeat(chat.id);
}

function notifyMessage(chat, ev) {
  const title = `New message from ${ev.actor?.name || customerName(chat)}`;
  const text = ev.type === "file.shared" ? `Sent a file: ${ev.data?.attachment?.filename || ""}` : ev.data?.text || "";
  toast({
    title,
    text: text.length > 140 ? `${text.slice(0, 140)}…` : text,
    testid: "new-message-notification",
    key: `msg-${chat.id}`,
    timeout: 8000,
    onClick: () => openChat(chat.id),
  });
  alertSound();
  if (document.visibilityState !== "visible") alertDesktop(title, text, () => openChat(chat.id));
}

function dropOfferToast(chatId) {
  stopRepeat(chatId);
  if (state.offerToast && state.offerToast.chatId === chatId) {
    state.offerToast.close();
    state.offerToast = null;
  }
}

function updateBadges(counts) {
  let unread = 0;
  for (const n of state.unread.values()) unread += n;
  const total = unread + counts.waiting;
  const badge = $('[data-role="total-count"]');
  badge.textContent = total ? String(total) : "";
  badge.dataset.count = String(total);
  $('[data-role="total-count-label"]').textContent = `${counts.waiting} waiting, ${unread} unread`;
  setTitle(total ? `(${total}) ${BASE_TITLE}` : BASE_TITLE);
}

// ------------------------------------------------------------------ list

function matchesFilter(chat) {
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

function sortKey(chat) {
  const rank = chat.status === "waiting" ? 0 : chat.status === "in_progress" ? (isMine(chat) ? 1 : 2) : 3;
  const t = Date.parse(chat.waiting_since || chat.created_at || 0) || 0;
  const closed = Date.parse(chat.closed_at || chat.updated_at || chat.created_at || 0) || 0;
  return [rank, rank === 0 ? t : rank === 3 ? -closed : -(Date.parse(chat.accepted_at || 0) || t)];
}

function compareChats(a, b) {
  const ka = sortKey(a);
  const kb = sortKey(b);
  return ka[0] - kb[0] || ka[1] - kb[1];
}

function timeLabel(chat) {
  if (chat.status === "waiting") {
    const s = since(chat.waiting_since || chat.created_at);
    return { text: `waiting ${formatDuration(s)}`, long: s >= LONG_WAIT_S };
  }
  if (chat.status === "in_progress") return { text: `talking ${formatDuration(since(chat.accepted_at || chat.created_at))}`, long: false };
  return { text: relative(chat.closed_at || chat.updated_at || chat.created_at), long: false };
}

function scheduleRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  requestAnimationFrame(() => {
    state.renderQueued = false;
    renderList();
    renderTabs();
  });
}

function renderList() {
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
    .filter((c) => !q || (c.reference || "").toLowerCase().includes(q) || customerName(c).toLowerCase().includes(q))
    .sort(compareChats);
  listEl.replaceChildren(...rows.map(chatRow));
  for (const key of ["all", "waiting", "mine"]) {
    const n = $(`[data-count-for="${key}"]`);
    if (n) n.textContent = counts[key] ? String(counts[key]) : "";
  }
  const empty = $('[data-role="list-empty"]');
  empty.hidden = rows.length > 0;
  if (!rows.length) {
    const texts = {
      waiting: ["Nobody is waiting", "New chats show up here the moment a customer starts one."],
      mine: ["No chats in progress", "Accept a waiting chat and it shows up here."],
      closed: ["No closed chats", "Solved, cancelled and expired chats show up here."],
      all: ["No chats yet", "New chats show up here the moment a customer starts one."],
    };
    const [title, text] = q || state.queueFilter ? ["No matches", "Try another search or queue."] : texts[state.filter];
    $('[data-role="list-empty-title"]').textContent = title;
    $('[data-role="list-empty-text"]').textContent = text;
  }
  if (focusedId) listEl.querySelector(`[data-chat-id="${CSS.escape(focusedId)}"] button`)?.focus();
  updateBadges(counts);
}

function chatRow(chat) {
  const badge = h("span", {});
  statusBadge(badge, chat.status);
  const unread = state.unread.get(chat.id) || 0;
  const t = timeLabel(chat);
  const btn = h(
    "button",
    { class: "chat-row__btn", type: "button" },
    h("span", { class: "chat-row__customer" }, customerName(chat)),
    h(
      "span",
      { class: "chat-row__side" },
      unread ? h("span", { class: "count", "data-testid": "unread-count", "aria-label": `${unread} unread` }, String(unread)) : null,
      badge,
    ),
    h(
      "span",
      { class: "chat-row__meta" },
      h("span", { class: "chat-row__ref" }, chat.reference || ""),
      h("span", {}, queueName(chat.queue_id)),
      chat.agent ? h("span", {}, isMine(chat) ? "you" : chat.agent.name) : null,
      h("span", { class: `chat-row__time${t.long ? " chat-row__time--long" : ""}` }, t.text),
    ),
  );
  btn.addEventListener("click", () => openChat(chat.id));
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

function renderTabs() {
  const bar = $('[data-role="open-tabs"]');
  bar.hidden = state.openIds.length === 0;
  bar.replaceChildren(
    ...state.openIds
      .map((id) => state.chats.get(id))
      .filter(Boolean)
      .map((chat) => {
        const unread = state.unread.get(chat.id) || 0;
        const sel = chat.id === state.activeId;
        const main = h(
          "button",
          { class: "open-tab__btn", type: "button", role: "tab", "aria-selected": String(sel), title: `${customerName(chat)} · ${chat.reference}` },
          h("span", { class: `dot dot--${chat.status === "waiting" ? "connecting" : isOpenStatus(chat.status) ? "open" : ""}` }),
          h("span", {}, customerName(chat)),
          unread ? h("span", { class: "count" }, String(unread)) : null,
        );
        main.addEventListener("click", () => openChat(chat.id));
        const close = h("button", { class: "icon-btn open-tab__close", type: "button", "aria-label": `Close ${customerName(chat)}` }, icon("close"));
        close.addEventListener("click", () => closeTab(chat.id));
        return h("div", { class: "open-tab", "data-testid": "open-chat-tab", "data-chat-id": chat.id, "aria-selected": String(sel) }, main, close);
      }),
  );
}

// ------------------------------------------------------------------ chat window

function saveDraft() {
  if (!state.shownId || !state.composer) return;
  const text = state.composer.value;
  if (text) state.drafts[state.shownId] = text;
  else delete state.drafts[state.shownId];
  save(DRAFTS_KEY, state.drafts);
}

async function openChat(id) {
  stopRepeat(id);
  let chat = state.chats.get(id);
  if (!chat) {
    try {
      chat = upsert(await api.get(`/chats/${id}`));
    } catch (err) {
      toastError(err, "Could not open the chat");
      return;
    }
  }
  if (!state.openIds.includes(id)) {
    state.openIds.push(id);
    save(OPEN_KEY, state.openIds);
  }
  state.activeId = id;
  state.unread.delete(id);
  syncSubscription(chat);
  $(".console-layout").dataset.view = "chat";
  if (state.offerToast?.chatId === id) dropOfferToast(id);
  $(`#toasts [data-key="msg-${CSS.escape(id)}"]`)?.remove();
  renderWindow(true);
  scheduleRender();
}

function closeTab(id) {
  if (id === state.shownId) saveDraft();
  const idx = state.openIds.indexOf(id);
  if (idx >= 0) state.openIds.splice(idx, 1);
  save(OPEN_KEY, state.openIds);
  const chat = state.chats.get(id);
  if (chat) syncSubscription(chat);
  if (state.activeId === id) {
    const next = state.openIds[Math.min(idx, state.openIds.length - 1)];
    state.activeId = null;
    if (next) openChat(next);
    else {
      state.shownId = null;
      renderWindow(true);
      $(".console-layout").dataset.view = "list";
    }
  }
  scheduleRender();
}

function setNotice(text, kind = "info") {
  const n = $('[data-role="chat-notice"]');
  n.hidden = !text;
  n.className = `chat-notice alert alert--${kind}`;
  n.textContent = text || "";
}

function hideTyping() {
  clearTimeout(state.typingTimer);
  $('.chat-window [data-testid="typing-indicator"]').hidden = true;
}

/** Render the chat window for the active chat. full: rebuild the conversation (chat switch). */
function renderWindow(full) {
  const win = $('[data-role="chat-window"]');
  const chat = state.chats.get(state.activeId);
  $('[data-role="workspace-empty"]').hidden = Boolean(chat);
  win.hidden = !chat;
  if (!chat) return;
  if (full || state.shownId !== chat.id) {
    if (state.shownId && state.shownId !== chat.id) saveDraft();
    state.shownId = chat.id;
    state.conv.clear();
    state.conv.addAll(chatEvents(chat.id));
    for (const p of state.rt.pending(chat.id)) state.conv.addPending(p);
    state.composer.value = state.drafts[chat.id] || "";
    setNotice(null);
    hideTyping();
    setNoteMode(false);
    $(".chat-options").dataset.open = "false";
    $('[data-action="toggle-options"]').setAttribute("aria-expanded", "false");
  }
  $('[data-role="chat-title"]').textContent = customerName(chat);
  $('[data-role="chat-ref"]').textContent = chat.reference || "";
  $('[data-role="chat-queue"]').textContent = queueName(chat.queue_id);
  statusBadge($('.chat-window [data-testid="chat-status"]'), chat.status);
  const ref = state.requests.get(chat.id);
  const refEl = $('[data-role="chat-request"]');
  refEl.hidden = !ref;
  refEl.textContent = ref || "";
  $('[data-role="chat-agent"]').textContent = chat.agent ? `· ${isMine(chat) ? "you" : chat.agent.name}` : "";

  const gone = Boolean(chat.gone);
  const open = isOpenStatus(chat.status) && !gone;
  // Buttons from the transition table's "who may do what from which status".
  $('[data-testid="mark-solved"]').disabled = !mayDo("solve", chat);
  $('[data-testid="move-queue"]').disabled = !mayDo("move", chat);
  $('[data-testid="cancel-chat"]').disabled = !mayDo("cancel", chat);
  $('[data-testid="raise-request"]').disabled = !mayDo("raise_request", chat);

  const acceptable = mayDo("accept", chat);
  $('[data-role="accept-bar"]').hidden = !acceptable;
  if (acceptable) {
    const waited = formatDuration(since(chat.waiting_since || chat.created_at));
    $('[data-role="accept-text"]').textContent = `${customerName(chat)} has been waiting ${waited} in ${queueName(chat.queue_id) || "the queue"}.`;
  }
  const canTalk = mayDo("agent_message", chat);
  $('[data-role="composer-wrap"]').hidden = !canTalk;
  state.composer.setEnabled(canTalk);
  const joined = state.joined.has(chat.id);
  const observe = !gone && !isMine(chat) && (mayDo("join", chat) || mayDo("part", chat));
  $('[data-role="observe-bar"]').hidden = !observe;
  if (observe) {
    $('[data-role="observe-text"]').textContent = joined
      ? `${chat.agent?.name || "A colleague"} owns this chat; you joined to help.`
      : `${chat.agent?.name || "A colleague"} is handling this chat.`;
    $('[data-testid="join-chat"]').hidden = joined;
    $('[data-testid="part-chat"]').hidden = !joined;
  }
  const closedBar = $('[data-role="closed-bar"]');
  closedBar.hidden = open;
  $('[data-role="transcript-link"]').hidden = gone;
  const transcript = $('[data-role="options-transcript"]');
  transcript.hidden = gone;
  transcript.href = `/api/v1/chats/${chat.id}/transcript`;
  transcript.setAttribute("download", `${chat.reference || "chat"}-transcript.txt`);
  if (gone) {
    const q = queueName(chat.queue_id);
    $('[data-role="closed-text"]').textContent = `This chat moved${q ? ` to ${q}` : ""}, a queue you're not in; its agents take it from here.`;
  } else if (!open) {
    const when = chat.closed_at ? ` on ${formatDateTime(chat.closed_at)}` : "";
    $('[data-role="closed-text"]').textContent = `This chat was ${CHAT_STATUS[chat.status].toLowerCase()}${when}.`;
    const link = $('[data-role="transcript-link"]');
    link.href = `/api/v1/chats/${chat.id}/transcript`;
    link.setAttribute("download", `${chat.reference || "chat"}-transcript.txt`);
  }
}

function setNoteMode(on) {
  const toggle = $('[data-role="note-toggle"]');
  toggle.checked = on;
  $('.chat-window [data-role="composer"]').classList.toggle("composer--note", on);
  $('.chat-window [data-testid="message-input"]').placeholder = on ? "Write an internal note (agents only)…" : "Write a message…";
}

/** Why this agent cannot accept now (checked here so no request is made to fail), or null. */
function cannotAccept() {
  if (me.role !== "agent") return null;
  const status = $("#availability").value;
  if (status !== "available") return `You are ${status}. Set your status to Available to accept chats.`;
  const mine = Array.from(state.chats.values()).filter((c) => isMine(c) && c.status === "in_progress").length;
  if (mine >= me.max_chats)
    return `You already have ${mine} chat${mine === 1 ? "" : "s"} in progress, your limit. Finish one to accept another.`;
  return null;
}

async function accept() {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  const why = cannotAccept();
  if (why) {
    setNotice(why, "warning");
    return;
  }
  const btn = $('[data-testid="accept-chat"]');
  setBusy(btn, true);
  state.accepting = chat.id;
  try {
    const updated = upsert(await api.post(`/chats/${chat.id}/accept`, {}));
    dropOfferToast(updated.id);
    setNotice(null);
    renderWindow(false);
    scheduleRender();
    state.composer.focus();
  } catch (err) {
    if (err instanceof ApiError && err.code === "already_accepted") {
      try {
        upsert(await api.get(`/chats/${chat.id}`));
      } catch {
        /* keep what we have */
      }
      const c = state.chats.get(chat.id);
      setNotice(`Too late — ${c?.agent?.name || "a colleague"} already accepted this chat.`, "warning");
      renderWindow(false);
      scheduleRender();
    } else {
      setNotice(err.message, "error");
    }
  } finally {
    state.accepting = null;
    setBusy(btn, false);
  }
}

async function solve() {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  const btn = $('[data-testid="mark-solved"]');
  setBusy(btn, true);
  try {
    upsert(await api.post(`/chats/${chat.id}/solve`, {}));
    failPending(chat.id);
    renderWindow(false);
    scheduleRender();
    toast({ title: `${chat.reference} marked as solved`, kind: "success", timeout: 4000 });
  } catch (err) {
    setNotice(err.message, "error");
  } finally {
    setBusy(btn, false);
    renderWindow(false);
  }
}

function openMove() {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  const dialog = $("#move-dialog");
  const select = $("#move-queue-select");
  const others = state.queues.filter((q) => q.id !== chat.queue_id);
  select.replaceChildren(...others.map((q) => h("option", { value: q.id }, q.name)));
  $("#move-note").value = "";
  $('[data-testid="move-queue-confirm"]').disabled = others.length === 0;
  openDialog(dialog);
  if (!others.length) showFormError($("form", dialog), { message: "There is no other queue to move this chat to." });
  select.focus();
}

async function submitMove(e) {
  e.preventDefault();
  const chat = state.chats.get(state.activeId);
  const form = e.currentTarget;
  const body = { queue_id: $("#move-queue-select").value };
  const note = $("#move-note").value.trim();
  if (note) body.note = note;
  const btn = $('[data-testid="move-queue-confirm"]');
  setBusy(btn, true);
  showFormError(form, null);
  try {
    upsert(await api.post(`/chats/${chat.id}/move`, body));
    $("#move-dialog").close("done");
    failPending(chat.id);
    renderWindow(false);
    scheduleRender();
    toast({ title: `${chat.reference} moved to ${queueName(body.queue_id)}`, kind: "success", timeout: 4000 });
  } catch (err) {
    showFormError(form, err);
  } finally {
    setBusy(btn, false);
  }
}

function openCancel() {
  if (!state.chats.get(state.activeId)) return;
  $("#cancel-reason").value = "";
  openDialog($("#cancel-dialog"));
  $("#cancel-reason").focus();
}

async function submitCancel(e) {
  e.preventDefault();
  const chat = state.chats.get(state.activeId);
  const form = e.currentTarget;
  const reason = $("#cancel-reason").value.trim();
  const btn = $('[data-testid="cancel-confirm"]');
  setBusy(btn, true);
  showFormError(form, null);
  try {
    upsert(await api.post(`/chats/${chat.id}/cancel`, reason ? { reason } : {}));
    $("#cancel-dialog").close("done");
    failPending(chat.id);
    renderWindow(false);
    scheduleRender();
  } catch (err) {
    showFormError(form, err);
  } finally {
    setBusy(btn, false);
  }
}

async function openRaise() {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  const dialog = $("#request-dialog");
  const events = chatEvents(chat.id);
  const first = events.find((e) => e.type === "message.posted" && e.actor?.role === "customer");
  const summary = (first?.data?.text || chat.subject || `Chat ${chat.reference}`).replace(/\s+/g, " ").trim();
  $("#request-summary").value = summary.length > 200 ? `${summary.slice(0, 197)}…` : summary;
  $("#request-priority").value = "medium";
  const team = $("#request-team");
  team.replaceChildren(...state.queues.map((q) => h("option", { value: q.id }, q.name)));
  team.value = chat.queue_id;
  const email = chat.customer?.email ? ` (${chat.customer.email})` : "";
  $('[data-role="request-for"]').textContent = `For ${customerName(chat)}${email} · from chat ${chat.reference}`;
  const desc = $("#request-description");
  desc.value = transcriptText(events, { me: me.id, staff: true, queueName });
  openDialog(dialog);
  $("#request-summary").focus();
  try {
    const text = await api.get(`/chats/${chat.id}/transcript`);
    if (typeof text === "string" && text.trim() && dialog.open && !desc.dataset.edited) desc.value = text;
  } catch {
    /* keep the transcript built from the events */
  }
}

async function submitRaise(e) {
  e.preventDefault();
  const chat = state.chats.get(state.activeId);
  const form = e.currentTarget;
  const summary = $("#request-summary").value.trim();
  if (!summary) {
    showFormError(form, { message: "A request needs a summary." });
    $("#request-summary").focus();
    return;
  }
  const body = {
    summary,
    description: $("#request-description").value,
    priority: $("#request-priority").value,
  };
  if ($("#request-team").value) body.team_id = $("#request-team").value;
  const btn = $('[data-testid="request-submit"]');
  setBusy(btn, true);
  showFormError(form, null);
  try {
    const req = await api.post(`/chats/${chat.id}/requests`, body);
    state.requests.set(chat.id, req.reference);
    $("#request-dialog").close("done");
    renderWindow(false);
    toast({ title: `Request ${req.reference} raised`, text: req.summary, kind: "success", timeout: 8000, testid: "request-raised-notification" });
  } catch (err) {
    showFormError(form, err);
  } finally {
    setBusy(btn, false);
  }
}

async function joinOrPart(action) {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  try {
    await api.post(`/chats/${chat.id}/${action}`, {});
    if (action === "join") state.joined.add(chat.id);
    else state.joined.delete(chat.id);
    syncSubscription(chat);
    renderWindow(false);
  } catch (err) {
    setNotice(err.message, "error");
  }
}

// ------------------------------------------------------------------ views (hash routes)

/** `#chats` (default), `#requests`, `#requests/SR-000001`, `#supervisor`. */
function route() {
  const [view, arg] = decodeURIComponent(window.location.hash.slice(1)).split("/");
  // Other fragments (the skip link's #main) are not views: keep the current one.
  if (view && !["chats", "requests", "snippets", "supervisor", "reports"].includes(view) && route.done) return;
  route.done = true;
  const staffOnly = view === "supervisor" || view === "reports";
  const name = view === "requests" || view === "snippets" || (staffOnly && SEES_ALL) ? view : "chats";
  $(".console-layout").hidden = name !== "chats";
  $("#requests-view").hidden = name !== "requests";
  $("#supervisor-view").hidden = name !== "supervisor";
  $("#snippets-view").hidden = name !== "snippets";
  $("#reports-view").hidden = name !== "reports";
  for (const link of $$("[data-view-link]")) {
    if (link.dataset.viewLink === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (name === "requests") showRequests(arg || null);
  if (name === "snippets") showSnippets();
  if (name === "reports") showReports();
  if (SEES_ALL) showSupervisor(name === "supervisor");
}

// ------------------------------------------------------------------ wiring

function wire() {
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

  const availability = $("#availability");
  availability.addEventListener("change", async () => {
    const status = availability.value;
    availability.disabled = true;
    try {
      await api.put("/me/status", { status });
      me.status = status;
      $('[data-role="availability-dot"]').className = `dot dot--${status}`;
      toast({ title: `You are now ${availability.selectedOptions[0].textContent.toLowerCase()}`, kind: "success", timeout: 3000 });
    } catch (err) {
      availability.value = me.status;
      toastError(err, "Could not change your status");
    } finally {
      availability.disabled = false;
    }
  });

  // The bell turns on alerts: sound (browsers allow audio only after a click on the page)
  // and desktop notifications (asks once). Any click on the page also enables the sound.
  const bell = $('[data-action="enable-notifications"]');
  const canAsk = "Notification" in window && Notification.permission === "default";
  const updateBell = () => {
    bell.hidden = audioReady() && !("Notification" in window && Notification.permission === "default");
  };
  bell.title = canAsk ? "Turn on sound and desktop alerts" : "Turn on sound alerts";
  bell.addEventListener("click", async () => {
    unlockAudio();
    if ("Notification" in window && Notification.permission === "default") {
      try {
        await Notification.requestPermission();
      } catch {
        /* the browser decides */
      }
    }
    beep();
    updateBell();
  });
  window.addEventListener("pointerdown", () => setTimeout(updateBell), { once: true });
  updateBell();

  $('[data-action="accept"]').addEventListener("click", accept);
  $('[data-action="solve"]').addEventListener("click", solve);
  $('[data-action="move"]').addEventListener("click", openMove);
  $('[data-action="cancel"]').addEventListener("click", openCancel);
  $('[data-action="raise"]').addEventListener("click", openRaise);
  $('[data-action="join"]').addEventListener("click", () => joinOrPart("join"));
  $('[data-action="part"]').addEventListener("click", () => joinOrPart("part"));
  $('[data-action="back"]').addEventListener("click", () => {
    saveDraft();
    $(".console-layout").dataset.view = "list";
  });
  const options = $(".chat-options");
  const toggle = $('[data-action="toggle-options"]');
  const setOptionsOpen = (open) => {
    options.dataset.open = String(open);
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", () => setOptionsOpen(options.dataset.open !== "true"));
  $('[data-role="options-menu"]').addEventListener("click", () => setOptionsOpen(false));
  $('[data-role="options-more"]').addEventListener("click", () => setOptionsOpen(false));
  document.addEventListener("click", (e) => {
    if (options.dataset.open === "true" && !options.contains(e.target)) setOptionsOpen(false);
  });
  $('[data-action="close-tab"]').addEventListener("click", () => state.activeId && closeTab(state.activeId));
  $("#move-dialog form").addEventListener("submit", submitMove);
  $("#cancel-dialog form").addEventListener("submit", submitCancel);
  $("#request-dialog form").addEventListener("submit", submitRaise);
  $("#request-description").addEventListener("input", (e) => {
    e.target.dataset.edited = "1";
  });
  $("#request-dialog").addEventListener("close", () => {
    delete $("#request-description").dataset.edited;
  });
  for (const chip of $$("[data-reason]"))
    chip.addEventListener("click", () => {
      $("#cancel-reason").value = chip.dataset.reason;
      $("#cancel-reason").focus();
    });

  state.conv = new Conversation($('.chat-window [data-testid="message-list"]'), { me: me.id, staff: true, queueName });
  state.composer = new Composer($(".chat-window"), {
    onSend: (text) => {
      const chat = state.chats.get(state.shownId);
      if (!chat || !mayDo("agent_message", chat)) return false;
      if ($('[data-role="note-toggle"]').checked) {
        api.post(`/chats/${chat.id}/notes`, { text }).catch((err) => {
          setNotice(`Note not saved: ${err.message}`, "error");
          if (!state.composer.value) state.composer.value = text;
        });
        delete state.drafts[chat.id];
        save(DRAFTS_KEY, state.drafts);
        return true;
      }
      const clientId = state.rt.sendMessage(chat.id, text);
      state.conv.addPending({ client_id: clientId, text, at: new Date().toISOString() });
      if (!state.rt.isOpen) state.conv.setPendingStatus("Waiting for connection…");
      delete state.drafts[chat.id];
      save(DRAFTS_KEY, state.drafts);
      return true;
    },
    onTyping: (active) => {
      if (state.shownId && !$('[data-role="note-toggle"]').checked) state.rt.typing(state.shownId, active);
    },
    onInput: () => saveDraft(),
    uploadPath: () => {
      const chat = state.chats.get(state.shownId);
      return chat && mayDo("agent_message", chat) ? `/chats/${chat.id}/files` : null;
    },
  });
  $('[data-role="note-toggle"]').addEventListener("change", (e) => setNoteMode(e.target.checked));
  state.picker = new SnippetPicker({
    input: $("#message-input"),
    button: $('[data-action="snippets"]'),
    list: $('[data-role="snippet-list"]'),
    getChat: () => state.chats.get(state.shownId),
    insert: (text, replaceSlash) => {
      const cur = replaceSlash ? "" : state.composer.value;
      state.composer.value = cur ? `${cur}${cur.endsWith("\n") || cur.endsWith(" ") ? "" : " "}${text}` : text;
      saveDraft();
    },
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") setOptionsOpen(false);
  });

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.activeId && state.unread.get(state.activeId)) {
      state.unread.delete(state.activeId);
      scheduleRender();
    }
  });
  window.addEventListener("beforeunload", saveDraft);
  setInterval(() => {
    scheduleRender();
    if (state.shownId && state.chats.get(state.shownId)?.status === "waiting") renderWindow(false);
  }, 15000);
}

function wireRealtime() {
  const rt = state.rt;
  rt.on("chat.offered", (frame) => {
    const incoming = frame.chat;
    if (!incoming) return;
    const known = state.chats.get(incoming.id);
    const isNew = !known || known.status !== "waiting" || known.queue_id !== incoming.queue_id || known.unoffered;
    const merged = upsert({ ...incoming, status: incoming.status || statusAfter("chat.started", null) });
    if (merged) merged.unoffered = false;
    if (isNew) notifyNewChat(state.chats.get(incoming.id));
    if (incoming.id === state.shownId) renderWindow(false);
    scheduleRender();
  });
  rt.on("chat.taken", (frame) => {
    const chat = state.chats.get(frame.chat_id);
    dropOfferToast(frame.chat_id);
    if (!chat) return;
    const wasWaiting = chat.status === "waiting";
    if (wasWaiting && frame.agent?.id === me.id && state.accepting !== chat.id) {
      // Not my own accept: a supervisor assigned this chat to me.
      toast({
        title: `${chat.reference || "A chat"} was assigned to you`,
        text: `Chat with ${customerName(chat)}`,
        testid: "assigned-notification",
        key: `assigned-${chat.id}`,
        onClick: () => openChat(chat.id),
      });
      alertSound();
    }
    chat.status = statusAfter("chat.accepted", chat.status);
    chat.agent = frame.agent || chat.agent;
    chat.accepted_at = chat.accepted_at || new Date().toISOString();
    syncSubscription(chat);
    if (chat.id === state.shownId) {
      if (wasWaiting && frame.agent?.id !== me.id) setNotice(`${frame.agent?.name || "A colleague"} accepted this chat.`, "warning");
      renderWindow(false);
    }
    scheduleRender();
  });
  // Any change of status, queue or agent (e.g. a supervisor assigned a chat to me).
  rt.on("chat.updated", (frame) => {
    const incoming = frame.chat;
    if (!incoming?.id) return;
    const known = state.chats.get(incoming.id);
    // Newly waiting here (moved in): the offer that may follow must still alert.
    const newlyWaiting = incoming.status === "waiting" && (!known || known.status !== "waiting" || known.queue_id !== incoming.queue_id);
    const chat = upsert(incoming);
    if (!chat) return;
    if (newlyWaiting) chat.unoffered = true;
    if (chat.status !== "waiting") dropOfferToast(chat.id);
    if (chat.id === state.shownId) renderWindow(false);
    scheduleRender();
  });
  rt.on("chat.withdrawn", async (frame) => {
    dropOfferToast(frame.chat_id);
    const chat = state.chats.get(frame.chat_id);
    // A subscribed chat tells its own story (moved, cancelled, expired, unsubscribed).
    if (!chat || rt.isSubscribed(chat.id)) return;
    const found = await lookup(chat);
    if (found) upsert(found);
    else markGone(chat.id);
    if (chat.id === state.shownId) renderWindow(false);
    scheduleRender();
  });
  rt.on("unsubscribed", (frame) => markGone(frame.chat_id));
  rt.on("subscribed", (frame) => {
    const chat = state.chats.get(frame.chat_id);
    if (chat) syncSubscription(chat);
  });
  rt.on("typing", (frame) => {
    if (frame.chat_id !== state.shownId) return;
    const who = frame.user || frame.actor || frame.customer || {};
    if (who.id === me.id) return;
    const el = $('.chat-window [data-testid="typing-indicator"]');
    clearTimeout(state.typingTimer);
    if (frame.active) {
      $('[data-role="typing-text"]', el).textContent = `${who.name || "The customer"} is typing…`;
      el.hidden = false;
      state.typingTimer = setTimeout(() => {
        el.hidden = true;
      }, 8000);
    } else {
      el.hidden = true;
    }
  });
  rt.on("send-error", (frame) => {
    if (frame.chat_id === state.shownId) state.conv.failPending(frame.client_id, frame.error?.message || "not delivered");
    else toast({ title: "A message was not sent", text: frame.error?.message || "", kind: "error" });
  });
  rt.on("error", (frame) => {
    if (frame.chat_id && frame.chat_id === state.shownId && frame.error?.message) setNotice(frame.error.message, "error");
  });
  rt.on("state", (s) => {
    const dot = $('[data-role="conn-dot"]');
    const label = $('[data-role="conn-label"]');
    const map = { open: ["open", "Live"], connecting: ["connecting", "Connecting…"], closed: ["closed", "Reconnecting…"] };
    const [cls, text] = map[s] || map.connecting;
    dot.className = `dot dot--${cls}`;
    label.textContent = text;
    $('[data-role="conn"]').title = s === "open" ? "Connected: updates arrive live" : "Not connected: retrying";
    if (state.conv) state.conv.setPendingStatus(s === "open" ? "Sending…" : "Waiting for connection…");
  });
  rt.on("open", ({ reconnect }) => {
    if (!reconnect) return;
    loadChats().catch(() => {});
    // Availability may have changed while we were away (offline after the grace period).
    api
      .get("/me")
      .then((user) => {
        me.status = user.status;
        me.max_chats = user.max_chats;
        $("#availability").value = user.status;
        $('[data-role="availability-dot"]').className = `dot dot--${user.status}`;
      })
      .catch(() => {});
  });
}

async function loadOverview() {
  if (!SEES_ALL) return;
  const box = $('[data-role="overview"]');
  try {
    const data = await api.get("/supervisor/overview");
    const queues = data.queues || [];
    box.hidden = queues.length === 0;
    box.replaceChildren(
      ...queues.map((q) =>
        h(
          "span",
          { class: "overview__queue", title: `${q.in_progress} in progress · longest wait ${formatDuration(q.longest_wait_s || 0)} · ${q.agents_available} agents free` },
          h("strong", {}, q.name),
          `${q.waiting} waiting · ${q.agents_available} free`,
        ),
      ),
    );
  } catch {
    box.hidden = true;
  }
}

async function main() {
  wireLogout(() => state.rt.stop());
  state.rt.on("signed-out", () => window.location.reload());
  wire();
  initAlertSettings();
  wireRealtime();
  try {
    await loadQueues();
    await loadChats();
  } catch (err) {
    toastError(err, "Could not load your chats");
  }
  state.rt.start();
  // Restore the tabs of the previous page load (drafts come back with them).
  state.openIds = state.openIds.filter((id) => state.chats.has(id));
  save(OPEN_KEY, state.openIds);
  for (const id of state.openIds) syncSubscription(state.chats.get(id));
  if (state.openIds.length) {
    await openChat(state.openIds[state.openIds.length - 1]);
    if (window.matchMedia("(max-width: 760px)").matches) $(".console-layout").dataset.view = "list";
  }
  scheduleRender();
  initRequests({ me, queues: state.queues });
  initSnippetManager({ me, queues: state.queues });
  if (SEES_ALL) {
    initSupervisor({ rt: state.rt, queues: state.queues });
    initReports({ queues: state.queues });
  }
  window.addEventListener("hashchange", route);
  route();
  // The skip link must not change the hash (it names the view): focus the view shown instead.
  $(".skip-link")?.addEventListener("click", (e) => {
    e.preventDefault();
    const view = $$(".console-layout, .view-page").find((el) => !el.hidden);
    if (!view) return;
    view.setAttribute("tabindex", "-1");
    view.focus();
  });
  loadOverview();
  setInterval(loadOverview, 15000);
  setInterval(() => loadChats().catch(() => {}), 60000);
}

main();
