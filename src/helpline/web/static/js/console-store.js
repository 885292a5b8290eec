// The Agent Console's store: what the page knows (chats and their events, tabs, drafts,
// filters, unread counts) in one state object, and the rules that read it (how I stand to a
// chat, what I may do: chat-state.js). The chat list, the chat window and the wiring
// (console.js) share it.

import { t, tn } from "./i18n.js";
import { bootData } from "./api.js";
import { stopRepeat } from "./alerts.js";
import { apply, may, relations } from "./chat-state.js";
import { Realtime } from "./realtime.js";
import { isOpenStatus } from "./ui.js";

export const boot = bootData();
export const me = boot.user;
export const SEES_ALL = me.role === "supervisor" || me.role === "admin";
export const OPEN_KEY = "helpline.console.open";
export const DRAFTS_KEY = "helpline.console.drafts";
export const BASE_TITLE = t("Helpline Console");
export const LONG_WAIT_S = 120;

export const state = {
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
  tagFilter: "",
  tags: [], // every tag {id, name, color} (GET /tags)
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

export function load(key, fallback) {
  try {
    const raw = sessionStorage.getItem(key);
    return raw ? JSON.parse(raw) : fallback;
  } catch {
    return fallback;
  }
}

export function save(key, value) {
  try {
    sessionStorage.setItem(key, JSON.stringify(value));
  } catch {
    /* storage unavailable */
  }
}

export const queueName = (id) => state.queuesById.get(id)?.name || "";
export const customerName = (chat) => chat?.customer?.name || t("Customer");
export const isMine = (chat) => chat?.agent?.id === me.id;
/** How I stand to the chat (chat-state.js relations); nothing once it left my reach. */
export const myRelations = (chat) => (chat.gone ? new Set() : relations(chat, me, { joined: state.joined.has(chat.id) }));
export const mayDo = (action, chat) => may(action, myRelations(chat), chat.status);

// The wiring's handler of a subscribed chat's events (console.js).
let eventHandler = () => {};

export function handleChatEvents(fn) {
  eventHandler = fn;
}

export function upsert(chat) {
  if (!chat || !chat.id) return null;
  const prev = state.chats.get(chat.id);
  const merged = prev ? Object.assign(prev, chat) : { ...chat };
  merged.gone = false;
  state.chats.set(chat.id, merged);
  syncSubscription(merged);
  return merged;
}

export function chatEvents(id) {
  if (!state.events.has(id)) state.events.set(id, []);
  return state.events.get(id);
}

/** Subscribe to chats that are open in a tab or handled by me; drop the others. */
export function syncSubscription(chat) {
  const want =
    !chat.gone &&
    ( state.openIds.includes(chat.id) || (isMine(chat) && isOpenStatus(chat.status)) || state.joined.has(chat.id));
  if (want && !state.rt.isSubscribed(chat.id)) {
    state.rt.subscribe(chat.id, (ev, info) => eventHandler(ev, info));
  } else if (!want && state.rt.isSubscribed(chat.id)) {
    state.rt.unsubscribe(chat.id);
    state.events.delete(chat.id);
  }
}

/** The event's effect on the chat (chat-state.js) and on what this page tracks about it;
 * true when the chat's status, queue or agent changed. */
export function applyEvent(chat, ev) {
  const d = ev.data || {};
  const changed = apply(chat, ev);
  if (ev.type === "request.raised" && d.request?.reference) state.requests.set(chat.id, d.request.reference);
  if (ev.type === "chat.tagged" && Array.isArray(d.tag_ids)) {
    const byId = new Map(state.tags.map((t) => [t.id, t]));
    chat.tags = d.tag_ids.map((id) => byId.get(id)).filter(Boolean).sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }));
  }
  if (ev.type === "chat.joined" && d.agent?.id === me.id) state.joined.add(chat.id);
  if (ev.type === "chat.parted" && d.agent?.id === me.id) state.joined.delete(chat.id);
  // Helpers leave when the chat goes back to the queue or ends (the server removes them).
  if (changed && !(chat.helpers || []).some((u) => u.id === me.id)) state.joined.delete(chat.id);
  return changed;
}

export function dropOfferToast(chatId) {
  stopRepeat(chatId);
  if (state.offerToast && state.offerToast.chatId === chatId) {
    state.offerToast.close();
    state.offerToast = null;
  }
}
