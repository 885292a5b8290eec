// The chat's state machine for every page (console, portal, widget), derived from the
// server's transition table (helpline.chats.lifecycle.as_json, in the boot data as
// `lifecycle`): which status an event leads to, which statuses are open, and who may do what
// from which status. No page writes a target status itself.
//
// `reduce` is lifecycle.reduce on the API's chat shape (GET /chats/{id}): status, queue_id,
// agent, helpers, rating, last_seq — plus the times the console sorts and labels by
// (accepted_at, waiting_since, closed_at). tests/e2e/test_chat_state.py holds the two equal.

import { bootData } from "./api.js";

const EMPTY = { statuses: [], open: [], final: [], actions: {}, events: {} };

/** The transition table (lifecycle.as_json). */
export const table = bootData().lifecycle || EMPTY;

const OPEN = new Set(table.open);
const FINAL = new Set(table.final);

// Where a chat waits for an agent: the status it starts in (and goes back to when moved).
const QUEUED = table.events["chat.started"];

export const isOpen = (status) => OPEN.has(status);
export const isFinal = (status) => FINAL.has(status);

/** The status right after an event of type `type` (events not in the table change nothing). */
export const statusAfter = (type, current) => table.events[type] ?? current;

/** Whether someone standing in any of `relations` (an iterable of relation names) to a chat
 * in `status` may do `action` (lifecycle.may). */
export function may(action, relations, status) {
  const who = table.actions[action]?.who || {};
  for (const r of relations) if ((who[r] || []).includes(status)) return true;
  return false;
}

/**
 * How `me` ({id, role}) stands to `chat`: owner (its agent), helper (joined to help; `joined`
 * says so when the page knows better than chat.helpers), member (other staff who see it: the
 * server lists agents only their queues' chats), supervisor (supervisors and admins),
 * customer (its customer).
 */
export function relations(chat, me, { joined = null, member = true } = {}) {
  const out = new Set();
  if (!chat || !me) return out;
  if (me.role === "customer") {
    if (!chat.customer || chat.customer.id === me.id) out.add("customer");
    return out;
  }
  if (me.role === "supervisor" || me.role === "admin") out.add("supervisor");
  const helper = joined ?? (chat.helpers || []).some((u) => u?.id === me.id);
  if (chat.agent?.id === me.id) out.add("owner");
  else if (helper) out.add("helper");
  else if (member) out.add("member");
  return out;
}

/**
 * The chat after one event envelope (a new object; `chat` is not changed). `chat` is null
 * before `chat.started`. An event the chat already reflects (seq <= last_seq: a snapshot read
 * after it, or a replay) returns the chat unchanged, so a replay never steps back in time.
 */
export function reduce(chat, ev) {
  const d = ev.data || {};
  if (!chat) {
    if (ev.type !== "chat.started") throw new Error(`a chat starts with chat.started, not ${ev.type}`);
    return { status: statusAfter(ev.type, null), queue_id: d.queue_id, agent: null, helpers: [], rating: null, last_seq: ev.seq, waiting_since: ev.at };
  }
  if (Number.isFinite(chat.last_seq) && ev.seq <= chat.last_seq) return chat;
  const status = statusAfter(ev.type, chat.status);
  const next = { ...chat, status, last_seq: ev.seq };
  switch (ev.type) {
    case "chat.accepted":
      next.agent = d.agent;
      next.accepted_at = ev.at;
      break;
    case "chat.moved":
      next.queue_id = d.to_queue_id;
      next.agent = null;
      next.accepted_at = null;
      next.waiting_since = ev.at;
      break;
    case "chat.transferred":
      // A helper who takes the chat over is its owner now, no longer a helper.
      next.agent = d.to_agent;
      next.helpers = (chat.helpers || []).filter((u) => u?.id !== d.to_agent.id);
      break;
    case "chat.requeued":
      next.agent = null;
      next.accepted_at = null;
      next.waiting_since = ev.at;
      break;
    case "chat.joined":
      next.helpers = [...(chat.helpers || []).filter((u) => u?.id !== d.agent.id), d.agent];
      break;
    case "chat.parted":
      next.helpers = (chat.helpers || []).filter((u) => u?.id !== d.agent.id);
      break;
    case "chat.rated":
      next.rating = { ...(chat.rating || {}), score: d.score, comment: d.comment ?? null };
      break;
    default:
      break;
  }
  if (status !== chat.status && (isFinal(status) || status === QUEUED)) {
    // Helpers leave when the chat goes back to the queue or ends (lifecycle.reduce).
    next.helpers = [];
  }
  if (status !== chat.status && isFinal(status)) next.closed_at = ev.at;
  return next;
}

/** Apply `ev` to `chat` in place (pages keep one object per chat); true when the status,
 * queue or agent changed. */
export function apply(chat, ev) {
  const next = reduce(chat, ev);
  if (next === chat) return false;
  const changed = next.status !== chat.status || next.queue_id !== chat.queue_id || next.agent?.id !== chat.agent?.id;
  Object.assign(chat, next);
  return changed;
}

/** The contract's fields of a chat, for comparing a reduced state with the server's. */
export function contractState(chat) {
  return {
    status: chat.status,
    queue_id: chat.queue_id,
    agent_id: chat.agent?.id ?? null,
    helper_ids: (chat.helpers || []).map((u) => u.id).sort(),
    rating_score: chat.rating?.score ?? null,
    last_seq: chat.last_seq,
  };
}
