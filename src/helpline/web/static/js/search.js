// The console's search view (`#search`; "/" anywhere outside a text field comes here): words in
// messages, notes, subjects, customers and requests (GET /search), with filters, highlighted
// snippets and "Load more". A result opens the chat scrolled to the matching message (marked
// `data-found`), or the request. Snippets are plain text: highlighting builds text nodes and
// <mark> elements, never HTML from the server.

import { t, tn } from "./i18n.js";
import { api } from "./api.js";
import { $, CHAT_STATUS, REQUEST_STATUS, formatDateTime, h } from "./ui.js";

export const KIND = { message: t("Message"), note: t("Internal note"), subject: t("Subject"), customer: t("Customer"), request: t("Request") };
const OPERATORS = new Set(["AND", "OR", "NOT", "NEAR"]);
const WORD = /[\p{L}\p{N}]+/gu;

const st = { me: null, openChat: null, next: null, terms: [], loaded: false, run: 0 };

/** The query's words as the server reads them: [{word, prefix}] per letter-and-digit run. */
export function queryTerms(q) {
  const terms = [];
  for (const word of q.split(/\s+/)) {
    const parts = word.match(WORD) || [];
    if (!parts.length || (parts.length === 1 && OPERATORS.has(parts[0]))) continue;
    parts.forEach((p, i) => terms.push({ word: p.toLowerCase(), prefix: word.endsWith("*") && i === parts.length - 1 }));
  }
  return terms;
}

/** The snippet as text nodes, with each word that matches a term inside a <mark>. */
export function highlighted(text, terms) {
  const out = [];
  let last = 0;
  for (const m of text.matchAll(WORD)) {
    const w = m[0].toLowerCase();
    if (!terms.some((t) => (t.prefix ? w.startsWith(t.word) : w === t.word))) continue;
    if (m.index > last) out.push(document.createTextNode(text.slice(last, m.index)));
    out.push(h("mark", { class: "search-hit" }, m[0]));
    last = m.index + m[0].length;
  }
  if (last < text.length) out.push(document.createTextNode(text.slice(last)));
  return out;
}

export function initSearch({ me, queues, openChat }) {
  st.me = me;
  st.openChat = openChat;
  const form = $('[data-role="search-form"]');
  form.elements.queue_id.replaceChildren(h("option", { value: "" }, t("Any queue")), ...queues.map((q) => h("option", { value: q.id }, q.name)));
  const status = form.elements.status;
  status.replaceChildren(
    h("option", { value: "" }, t("Any status")),
    h("optgroup", { label: t("Chats") }, ...Object.entries(CHAT_STATUS).map(([v, l]) => h("option", { value: v }, l))),
    h(
      "optgroup",
      { label: t("Requests") },
      ...Object.entries(REQUEST_STATUS)
        .filter(([v]) => !(v in CHAT_STATUS))
        .map(([v, l]) => h("option", { value: v }, l)),
    ),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    run(false);
  });
  // Filters apply at once when there are words to search for.
  form.addEventListener("change", (e) => {
    if (e.target.name !== "q" && form.elements.q.value.trim()) run(false);
  });
  $('[data-action="search-more"]').addEventListener("click", () => run(true));
  document.addEventListener("keydown", (e) => {
    if (e.key !== "/" || e.ctrlKey || e.metaKey || e.altKey || e.defaultPrevented) return;
    const t = e.target;
    if (t.closest?.("input, textarea, select, [contenteditable], dialog[open]")) return;
    e.preventDefault();
    if (window.location.hash !== "#search") window.location.hash = "#search";
    form.elements.q.focus();
    form.elements.q.select();
  });
}

export async function showSearch() {
  if (!st.loaded) {
    st.loaded = true;
    fillFilters();
  }
  const input = $('[data-role="search-form"]').elements.q;
  if (document.activeElement !== input) input.focus();
}

async function fillFilters() {
  const form = $('[data-role="search-form"]');
  const agents = [h("option", { value: "" }, t("Any agent")), h("option", { value: st.me.id }, t("Me"))];
  if (st.me.role === "admin" || st.me.role === "supervisor") {
    try {
      const res = await api.get("/users?limit=200");
      for (const u of res.items || []) {
        if (u.role !== "customer" && u.id !== st.me.id) agents.push(h("option", { value: u.id }, u.name));
      }
    } catch {
      /* "Me" and "Any agent" still work */
    }
  }
  form.elements.agent_id.replaceChildren(...agents);
  try {
    const res = await api.get("/tags");
    form.elements.tag.replaceChildren(h("option", { value: "" }, t("Any tag")), ...(res.items || []).map((t) => h("option", { value: t.id }, t.name)));
  } catch {
    form.elements.tag.closest("label").hidden = true;
  }
}

async function run(more) {
  const form = $('[data-role="search-form"]');
  const list = $('[data-testid="search-results"]');
  const error = $('[data-role="search-error"]');
  const summary = $('[data-role="search-summary"]');
  const q = form.elements.q.value.trim();
  error.hidden = true;
  if (!more && queryTerms(q).length === 0) {
    error.textContent = t("Type at least one word to search for.");
    error.hidden = false;
    form.elements.q.focus();
    return;
  }
  const params = new URLSearchParams({ q });
  for (const name of ["queue_id", "agent_id", "status", "tag", "from", "to"]) {
    const value = form.elements[name].value;
    if (value) params.set(name, value);
  }
  if (more && st.next) params.set("cursor", st.next);
  const mine = ++st.run;
  const button = $('[data-action="search-more"]');
  list.setAttribute("aria-busy", "true");
  try {
    const page = await api.get(`/search?${params}`);
    if (mine !== st.run) return; // a newer search answered first
    if (!more) {
      st.terms = queryTerms(q);
      list.replaceChildren();
    }
    list.append(...(page.items || []).map(row));
    st.next = page.next || null;
    button.hidden = !st.next;
    $('[data-role="search-empty"]').hidden = list.children.length > 0;
    const n = list.children.length;
    summary.textContent = !n
      ? ""
      : st.next
        ? tn("{count}+ result for “{query}”", "{count}+ results for “{query}”", n, { query: q })
        : tn("{count} result for “{query}”", "{count} results for “{query}”", n, { query: q });
    if (more) list.children[n - (page.items || []).length]?.querySelector("button")?.focus();
  } catch (err) {
    if (mine !== st.run) return;
    error.textContent = err.message || String(err);
    error.hidden = false;
  } finally {
    if (mine === st.run) list.removeAttribute("aria-busy");
  }
}

function row(item) {
  const where = item.kind === "request" ? t("Open the request") : item.seq ? t("Open the chat at this message") : t("Open the chat");
  return h(
    "li",
    {},
    h(
      "button",
      {
        type: "button",
        class: `req-row search-row search-row--${item.kind}`,
        "data-testid": "search-result",
        "data-kind": item.kind,
        "data-chat-id": item.chat_id || "",
        "data-seq": item.seq ?? "",
        title: where,
        on: { click: () => open(item) },
      },
      h(
        "span",
        { class: "req-row__top" },
        h("span", { class: "badge badge--ref" }, item.reference),
        h("span", { class: `badge search-kind search-kind--${item.kind}` }, KIND[item.kind] || item.kind),
        h("span", { class: "req-row__meta" }, formatDateTime(item.at)),
      ),
      h("span", { class: "search-row__snippet", "data-testid": "search-snippet" }, highlighted(item.snippet, st.terms)),
    ),
  );
}

async function open(item) {
  if (item.kind === "request") {
    window.location.hash = `#requests/${encodeURIComponent(item.reference)}`;
    return;
  }
  if (!item.chat_id) return;
  window.location.hash = "#chats";
  await st.openChat(item.chat_id);
  if (item.seq) reveal(item.seq);
}

/**
 * Scroll the open chat to event `seq` and mark it, once the chats view is shown and the
 * message has arrived (the history replays after the chat opens). Events still arriving may
 * scroll the list: for a moment after the message shows, each change brings it back.
 */
function reveal(seq) {
  const list = $('.chat-window [data-testid="message-list"]');
  for (const old of list.querySelectorAll("[data-found]")) {
    old.removeAttribute("data-found");
    old.classList.remove("is-found");
  }
  const started = performance.now();
  let shownAt = 0;
  let dirty = true;
  const observer = new MutationObserver(() => {
    dirty = true;
  });
  observer.observe(list, { childList: true });
  const tick = () => {
    const now = performance.now();
    const node = list.querySelector(`:scope > [data-seq="${Number(seq)}"]`);
    // offsetParent is null while the chats view is still hidden (the route follows the hash).
    if (node && list.offsetParent !== null && dirty) {
      dirty = false;
      node.classList.add("is-found");
      node.setAttribute("data-found", "true");
      node.setAttribute("tabindex", "-1");
      node.scrollIntoView({ block: "center" });
      if (!shownAt) {
        shownAt = now;
        node.focus({ preventScroll: true });
      }
    }
    if ((shownAt && now - shownAt > 1500) || now - started > 10000) observer.disconnect();
    else requestAnimationFrame(tick);
  };
  tick();
}
