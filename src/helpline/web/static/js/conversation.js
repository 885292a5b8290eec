// Renders a chat's events into a message list, strictly in seq order, plus the pending
// (sent, not yet acknowledged) messages at the end. Text goes in via text nodes only.
//
// Hooks: message (data-seq), system-line (data-seq), file-link, note (agents only),
// message-pending (sending, no seq yet).

import { appendLinkified, formatSize, formatTime, h, icon } from "./ui.js";

const EXPIRE_REASON = {
  no_agent: "No agent was free in time, so this chat expired. You can start a new one or leave a message.",
  inactive: "This chat closed after a period of inactivity.",
};

function name(actor, fallback = "Someone") {
  return (actor && actor.name) || fallback;
}

/** Text of a system event, as an array of nodes/strings; null for events not shown. */
function systemContent(ev, ctx) {
  const d = ev.data || {};
  const who = name(ev.actor, ctx.staff ? "The system" : "Support");
  const strong = (t) => h("strong", {}, t);
  switch (ev.type) {
    case "chat.started": {
      const parts = [strong(name(ev.actor, "The customer")), " started the chat"];
      const q = ctx.queueName(d.queue_id);
      if (q) parts.push(" in ", strong(q));
      if (d.reference) parts.push(` · ${d.reference}`);
      return parts;
    }
    case "chat.accepted": {
      const agent = name(d.agent || ev.actor, "An agent");
      const parts = [strong(agent), " joined the chat"];
      if (d.greeting) parts.push(" — ", d.greeting);
      return parts;
    }
    case "chat.moved": {
      const from = ctx.queueName(d.from_queue_id);
      const to = ctx.queueName(d.to_queue_id);
      const parts = ctx.staff ? [strong(who), " moved the chat"] : ["Your chat was moved"];
      if (ctx.staff && from) parts.push(" from ", strong(from));
      if (to) parts.push(" to ", strong(to));
      parts.push(ctx.staff ? "" : " — the next free agent there will pick it up");
      if (ctx.staff && d.note) parts.push(h("br"), h("em", {}, `Note: ${d.note}`));
      return parts;
    }
    case "chat.transferred": {
      const to = name(d.to_agent, "A colleague");
      if (!ctx.staff) return [strong(to), " took over"];
      const from = name(d.from_agent, "the agent");
      return ev.actor?.id === d.from_agent?.id
        ? [strong(from), " handed the chat to ", strong(to)]
        : [strong(who), " handed the chat from ", strong(from), " to ", strong(to)];
    }
    case "chat.requeued": {
      const from = name(d.from_agent, "The agent");
      return ctx.staff
        ? [strong(from), " went offline; the chat went back to the queue"]
        : ["Your agent went offline, so your chat is back in the queue — the next free agent will pick it up"];
    }
    case "chat.solved":
      return [strong(who), " marked the chat as solved"];
    case "chat.cancelled": {
      if (d.by === "customer")
        return ctx.staff ? [strong(who), " left the chat"] : ["You left the chat"];
      const parts = [strong(who), " cancelled the chat"];
      if (d.reason) parts.push(`: ${d.reason}`);
      return parts;
    }
    case "chat.expired":
      return [EXPIRE_REASON[d.reason] || "This chat expired."];
    case "request.raised": {
      const r = d.request || {};
      const parts = ["Request ", h("strong", { class: "ref" }, r.reference || ""), " was raised"];
      if (r.summary) parts.push(`: ${r.summary}`);
      if (!ctx.staff) parts.push(" — follow it under “My requests”");
      return parts;
    }
    case "chat.rated": {
      const parts = [
        ctx.staff ? strong(name(ev.actor, "The customer")) : "You",
        ` rated the chat ${d.score}/5`,
      ];
      if (d.comment) parts.push(`: “${d.comment}”`);
      return parts;
    }
    case "chat.inactivity_warning": {
      const mins = Math.max(1, Math.round((d.expires_in_s || 0) / 60));
      return ctx.staff
        ? [`The customer has been quiet; the chat closes in about ${mins} min without a reply.`]
        : [`Are you still there? This chat closes in about ${mins} min unless you reply.`];
    }
    case "chat.joined":
      return [strong(name(d.agent || ev.actor, "An agent")), " joined to help"];
    case "chat.parted":
      return [strong(name(d.agent || ev.actor, "An agent")), " left the chat"];
    default:
      return null;
  }
}

const SYSTEM_CLASS = {
  "request.raised": "sys sys--request",
  "chat.requeued": "sys sys--warning",
  "chat.inactivity_warning": "sys sys--warning",
  "chat.solved": "sys sys--closed",
  "chat.cancelled": "sys sys--closed",
  "chat.expired": "sys sys--closed",
};

function timeEl(iso) {
  const t = formatTime(iso);
  return t ? h("time", { class: "sys__time", datetime: iso }, t) : null;
}

/** The DOM node for one event, or null if this viewer does not display it. */
export function eventNode(ev, ctx) {
  const mine = ev.actor && ev.actor.id === ctx.me;
  const author = mine ? "You" : name(ev.actor, "Support");
  if (ev.type === "message.posted") {
    const bubble = appendLinkified(h("div", { class: "msg__bubble" }), (ev.data && ev.data.text) || "");
    return h(
      "li",
      {
        class: `msg ${mine ? "msg--mine" : "msg--theirs"}`,
        "data-testid": "message",
        "data-seq": ev.seq,
        "data-kind": "text",
        "data-author-role": (ev.actor && ev.actor.role) || "system",
        "data-client-id": (ev.data && ev.data.client_id) || null,
      },
      h("span", { class: "msg__meta" }, author, " · ", h("time", { datetime: ev.at }, formatTime(ev.at))),
      bubble,
    );
  }
  if (ev.type === "file.shared") {
    const a = (ev.data && ev.data.attachment) || {};
    const link = h(
      "a",
      { href: a.url || `/api/v1/files/${a.id}`, download: a.filename || "", "data-testid": "file-link" },
      a.filename || "file",
    );
    // Without cookies (the widget panel) the link itself cannot authenticate: the page's own
    // download(attachment) fetches the file with its bearer token instead.
    if (ctx.download)
      link.addEventListener("click", (e) => {
        e.preventDefault();
        ctx.download(a, link);
      });
    return h(
      "li",
      {
        class: `msg ${mine ? "msg--mine" : "msg--theirs"}`,
        "data-testid": "message",
        "data-seq": ev.seq,
        "data-kind": "file",
        "data-author-role": (ev.actor && ev.actor.role) || "system",
      },
      h("span", { class: "msg__meta" }, mine ? "You sent a file" : `${author} sent a file`, " · ", formatTime(ev.at)),
      h(
        "div",
        { class: "file-card" },
        icon("file"),
        h("div", { class: "file-card__info" }, link, h("span", { class: "file-card__size" }, [a.content_type, formatSize(a.size)].filter(Boolean).join(" · "))),
      ),
    );
  }
  if (ev.type === "note.added") {
    if (!ctx.staff) return null;
    return h(
      "li",
      { class: "note", "data-testid": "note", "data-seq": ev.seq },
      h("span", { class: "note__label" }, `Internal note · ${author} · ${formatTime(ev.at)}`),
      (ev.data && ev.data.text) || "",
    );
  }
  const content = systemContent(ev, ctx);
  if (!content) return null;
  if (ev.type === "chat.transferred" && ctx.staff && ev.data?.note) {
    // The handover note is internal: shown to agents like a note, with who handed to whom.
    return h(
      "li",
      { class: "note", "data-testid": "note", "data-seq": ev.seq, "data-type": ev.type },
      h("span", { class: "note__label" }, "Handover note · ", ...content, ` · ${formatTime(ev.at)}`),
      ev.data.note,
    );
  }
  return h(
    "li",
    {
      class: SYSTEM_CLASS[ev.type] || "sys",
      "data-testid": "system-line",
      "data-seq": ev.seq,
      "data-type": ev.type,
    },
    ...content,
    timeEl(ev.at),
  );
}

export class Conversation {
  /** ctx: {me, staff: bool, queueName(id) -> string, download?(attachment, link)} */
  constructor(list, ctx) {
    this.list = list;
    this.ctx = ctx;
  }

  clear() {
    this.list.replaceChildren();
  }

  nearBottom() {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 120;
  }

  scrollToBottom() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  /** Insert an event by seq; a seq already shown is ignored. */
  add(ev, { scroll = true } = {}) {
    if (this.list.querySelector(`:scope > [data-seq="${ev.seq}"]`)) return;
    const node = eventNode(ev, this.ctx);
    if (ev.type === "message.posted" && ev.data && ev.data.client_id)
      this.removePending(ev.data.client_id);
    if (!node) return;
    const stick = this.nearBottom() || (ev.actor && ev.actor.id === this.ctx.me);
    let before = null;
    for (const child of this.list.children) {
      const seq = child.dataset.seq;
      if (seq === undefined || Number(seq) > ev.seq) {
        before = child;
        break;
      }
    }
    this.list.insertBefore(node, before);
    if (scroll && stick) this.scrollToBottom();
  }

  addAll(events) {
    for (const ev of events) this.add(ev, { scroll: false });
    this.scrollToBottom();
  }

  addPending({ client_id: clientId, text, at }) {
    if (this.list.querySelector(`[data-pending="${CSS.escape(clientId)}"]`)) return;
    const node = h(
      "li",
      { class: "msg msg--mine msg--pending", "data-testid": "message-pending", "data-pending": clientId },
      h("span", { class: "msg__meta" }, "You · ", formatTime(at)),
      appendLinkified(h("div", { class: "msg__bubble" }), text),
      h("span", { class: "msg__status", "data-role": "status" }, "Sending…"),
    );
    this.list.appendChild(node);
    this.scrollToBottom();
  }

  removePending(clientId) {
    this.list.querySelector(`[data-pending="${CSS.escape(clientId)}"]`)?.remove();
  }

  failPending(clientId, message) {
    const node = this.list.querySelector(`[data-pending="${CSS.escape(clientId)}"]`);
    if (!node) return;
    node.classList.remove("msg--pending");
    node.classList.add("msg--failed");
    node.querySelector('[data-role="status"]').textContent = `Not sent: ${message}`;
  }

  setPendingStatus(text) {
    for (const s of this.list.querySelectorAll('.msg--pending [data-role="status"]')) s.textContent = text;
  }
}

/** A plain-text transcript built from events (used when the server's is not available). */
export function transcriptText(events, ctx) {
  const lines = [];
  for (const ev of events) {
    const t = formatTime(ev.at);
    if (ev.type === "message.posted") lines.push(`[${t}] ${name(ev.actor)}: ${ev.data.text}`);
    else if (ev.type === "file.shared")
      lines.push(`[${t}] ${name(ev.actor)} sent a file: ${ev.data.attachment?.filename}`);
    else if (ev.type === "note.added") continue;
    else {
      const node = eventNode(ev, { ...ctx, staff: true });
      if (node) lines.push(`[${t}] ${node.textContent.replace(/\d{1,2}:\d{2}$/, "").trim()}`);
    }
  }
  return lines.join("\n");
}
