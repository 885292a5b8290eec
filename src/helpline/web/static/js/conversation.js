// Renders a chat's events into a message list, strictly in seq order, plus the pending
// (sent, not yet acknowledged) messages at the end. Text goes in via text nodes only.
//
// Hooks: message (data-seq), system-line (data-seq), file-link, note (agents only),
// message-pending (sending, no seq yet), seen (the read receipt under the last message of this
// side that the other side has read).

import { formatNumber, parts, t, tn } from "./i18n.js";
import { appendLinkified, formatSize, formatTime, h, icon } from "./ui.js";

// System lines are rendered here from the event's type and data in the reader's language
// (events stay language neutral): `parts()` puts names, queues and references into the
// translated sentence as nodes.
function expireReason(reason) {
  if (reason === "no_agent") return t("No agent was free in time, so this chat expired. You can start a new one or leave a message.");
  if (reason === "inactive") return t("This chat closed after a period of inactivity.");
  return t("This chat expired.");
}

function name(actor, fallback) {
  return (actor && actor.name) || fallback || t("Someone");
}

/** Text of a system event, as an array of nodes/strings; null for events not shown. */
function systemContent(ev, ctx) {
  const d = ev.data || {};
  const who = name(ev.actor, ctx.staff ? t("The system") : t("Support"));
  const strong = (text) => h("strong", {}, text);
  switch (ev.type) {
    case "chat.started": {
      const customer = strong(name(ev.actor, t("The customer")));
      const q = ctx.queueName(d.queue_id);
      const out = q
        ? parts(t("{customer} started the chat in {queue}"), { customer, queue: strong(q) })
        : parts(t("{customer} started the chat"), { customer });
      if (d.reference) out.push(` · ${d.reference}`);
      return out;
    }
    case "chat.accepted": {
      const agent = strong(name(d.agent || ev.actor, t("An agent")));
      const out = parts(t("{agent} joined the chat"), { agent });
      if (d.greeting) out.push(" — ", d.greeting);
      return out;
    }
    case "chat.moved": {
      const from = ctx.queueName(d.from_queue_id);
      const to = ctx.queueName(d.to_queue_id);
      if (!ctx.staff) {
        return to
          ? parts(t("Your chat was moved to {queue} — the next free agent there will pick it up"), { queue: strong(to) })
          : [t("Your chat was moved — the next free agent there will pick it up")];
      }
      let out;
      if (from && to) out = parts(t("{who} moved the chat from {from} to {to}"), { who: strong(who), from: strong(from), to: strong(to) });
      else if (to) out = parts(t("{who} moved the chat to {to}"), { who: strong(who), to: strong(to) });
      else out = parts(t("{who} moved the chat"), { who: strong(who) });
      if (d.note) out.push(h("br"), h("em", {}, t("Note: {note}", { note: d.note })));
      return out;
    }
    case "chat.transferred": {
      const to = strong(name(d.to_agent, t("A colleague")));
      if (!ctx.staff) return parts(t("{agent} took over"), { agent: to });
      const from = strong(name(d.from_agent, t("the agent")));
      return ev.actor?.id === d.from_agent?.id
        ? parts(t("{from} handed the chat to {to}"), { from, to })
        : parts(t("{who} handed the chat from {from} to {to}"), { who: strong(who), from, to });
    }
    case "chat.requeued": {
      const from = strong(name(d.from_agent, t("The agent")));
      return ctx.staff
        ? parts(t("{agent} went offline; the chat went back to the queue"), { agent: from })
        : [t("Your agent went offline, so your chat is back in the queue — the next free agent will pick it up")];
    }
    case "chat.solved":
      return parts(t("{who} marked the chat as solved"), { who: strong(who) });
    case "chat.cancelled": {
      if (d.by === "customer")
        return ctx.staff ? parts(t("{who} left the chat"), { who: strong(who) }) : [t("You left the chat")];
      return d.reason
        ? parts(t("{who} cancelled the chat: {reason}"), { who: strong(who), reason: d.reason })
        : parts(t("{who} cancelled the chat"), { who: strong(who) });
    }
    case "chat.expired":
      return [expireReason(d.reason)];
    case "request.raised": {
      const r = d.request || {};
      const ref = h("strong", { class: "ref" }, r.reference || "");
      const out = r.summary
        ? parts(t("Request {reference} was raised: {summary}"), { reference: ref, summary: r.summary })
        : parts(t("Request {reference} was raised"), { reference: ref });
      if (!ctx.staff) out.push(" — ", t("follow it under “My requests”"));
      return out;
    }
    case "chat.rated": {
      const score = formatNumber(d.score);
      const out = ctx.staff
        ? parts(t("{customer} rated the chat {score}/5"), { customer: strong(name(ev.actor, t("The customer"))), score })
        : [t("You rated the chat {score}/5", { score })];
      if (d.comment) out.push(`: “${d.comment}”`);
      return out;
    }
    case "chat.inactivity_warning": {
      const mins = Math.max(1, Math.round((d.expires_in_s || 0) / 60));
      return ctx.staff
        ? [tn("The customer has been quiet; the chat closes in about {count} minute without a reply.", "The customer has been quiet; the chat closes in about {count} minutes without a reply.", mins)]
        : [tn("Are you still there? This chat closes in about {count} minute unless you reply.", "Are you still there? This chat closes in about {count} minutes unless you reply.", mins)];
    }
    case "chat.joined":
      return parts(t("{agent} joined to help"), { agent: strong(name(d.agent || ev.actor, t("An agent"))) });
    case "chat.parted":
      return parts(t("{agent} left the chat"), { agent: strong(name(d.agent || ev.actor, t("An agent"))) });
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

const THUMB_CSS_PX = 240;

/**
 * A checked image's thumbnail (made on the server), a link that opens it full size in a new
 * tab. Without cookies (the widget) both go through ctx.imageUrl(path) → an object URL.
 */
function thumbnail(a, ctx) {
  const scale = Math.min(1, THUMB_CSS_PX / Math.max(a.width || 1, a.height || 1));
  const img = h("img", {
    class: "file-thumb__img",
    alt: a.filename ? t("Image: {name}", { name: a.filename }) : t("Shared image"),
    width: Math.max(1, Math.round((a.width || THUMB_CSS_PX) * scale)),
    height: Math.max(1, Math.round((a.height || THUMB_CSS_PX) * scale)),
    decoding: "async",
    "data-testid": "file-thumbnail",
  });
  const full = `${a.url || `/api/v1/files/${a.id}`}?inline=true`;
  const link = h(
    "a",
    { class: "file-thumb", href: full, target: "_blank", rel: "noopener", "data-testid": "open-image", title: t("Open full size") },
    img,
  );
  if (ctx.imageUrl) {
    const path = (u) => u.replace(/^\/api\/v1/, "");
    ctx.imageUrl(path(a.thumbnail_url)).then(
      (url) => {
        img.src = url;
      },
      () => {
        img.alt = t("Image not available: {name}", { name: a.filename || "" });
      },
    );
    // A new tab cannot carry the token (and a blob URL of a cross-site frame may not open
    // there): the full size opens in a dialog in this frame.
    link.addEventListener("click", (e) => {
      e.preventDefault();
      ctx.imageUrl(path(full)).then((url) => showImage(url, img.alt), () => {});
    });
  } else {
    img.src = a.thumbnail_url;
  }
  return link;
}

/** The full-size image in a modal dialog (Esc or the button closes it). */
function showImage(url, alt) {
  const close = h("button", { class: "btn", type: "button", "data-testid": "close-image" }, t("Close"));
  const dialog = h(
    "dialog",
    { class: "dialog image-dialog", "aria-label": alt, "data-testid": "image-dialog" },
    h("img", { class: "image-dialog__img", src: url, alt, "data-testid": "full-image" }),
    h("div", { class: "dialog__foot" }, close),
  );
  close.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => {
    dialog.remove();
    URL.revokeObjectURL(url);
  });
  document.body.appendChild(dialog);
  dialog.showModal();
  close.focus();
}

/** The DOM node for one event, or null if this viewer does not display it. */
export function eventNode(ev, ctx) {
  const mine = ev.actor && ev.actor.id === ctx.me;
  const author = mine ? t("You") : name(ev.actor, t("Support"));
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
    const image = a.thumbnail_url ? thumbnail(a, ctx) : null;
    return h(
      "li",
      {
        class: `msg ${mine ? "msg--mine" : "msg--theirs"}`,
        "data-testid": "message",
        "data-seq": ev.seq,
        "data-kind": image ? "image" : "file",
        "data-author-role": (ev.actor && ev.actor.role) || "system",
      },
      h(
        "span",
        { class: "msg__meta" },
        image
          ? mine
            ? t("You sent an image")
            : t("{author} sent an image", { author })
          : mine
            ? t("You sent a file")
            : t("{author} sent a file", { author }),
        " · ",
        formatTime(ev.at),
      ),
      image,
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
      h("span", { class: "note__label" }, `${t("Internal note")} · ${author} · ${formatTime(ev.at)}`),
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
      h("span", { class: "note__label" }, `${t("Handover note")} · `, ...content, ` · ${formatTime(ev.at)}`),
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
  /**
   * ctx: {me, staff: bool, queueName(id) -> string, download?(attachment, link),
   *       imageUrl?(path) -> Promise<object URL> (pages without cookies: images fetched with the token)}
   */
  constructor(list, ctx) {
    this.list = list;
    this.ctx = ctx;
    this.seenSeq = 0;
    // New events are read out from here, not from the list: a live list would re-announce the
    // whole history each time a chat is opened or re-rendered.
    this.live = h("div", { class: "sr-only", "aria-live": "polite", "data-testid": "announcer" });
    list.after(this.live);
  }

  /** Tell screen readers about one new event (polite: after what they are reading). */
  announce(node) {
    const meta = node.querySelector(".msg__meta, .note__label");
    const bubble = node.querySelector(".msg__bubble, .file-card");
    let text;
    if (meta && bubble) text = `${meta.firstChild?.textContent || ""}: ${bubble.textContent}`;
    else {
      const copy = node.cloneNode(true);
      copy.querySelector(".sys__time")?.remove();
      text = copy.textContent;
    }
    this.live.append(h("p", {}, text.replace(/\s+/g, " ").trim()));
    while (this.live.childElementCount > 5) this.live.firstElementChild.remove();
  }

  clear() {
    this.list.replaceChildren();
    this.seenSeq = 0;
  }

  /** The other side has read up to `seq` (it never goes back): "Seen" goes under the last
   * message of this side (the customer's own; for staff, any agent's) at or before it. */
  setSeen(seq) {
    if (!(seq > this.seenSeq)) return;
    this.seenSeq = seq;
    this.placeSeen();
  }

  placeSeen() {
    const ours = this.ctx.staff ? '[data-testid="message"]:not([data-author-role="customer"])' : '.msg--mine[data-testid="message"]';
    let target = null;
    for (const node of this.list.querySelectorAll(`:scope > ${ours}`)) {
      if (Number(node.dataset.seq) <= this.seenSeq) target = node;
    }
    const old = this.list.querySelector('[data-testid="seen"]');
    if (old && old.parentElement === target) return;
    old?.remove();
    if (target) target.appendChild(h("span", { class: "msg__seen", "data-testid": "seen" }, t("Seen")));
  }

  nearBottom() {
    const l = this.list;
    return l.scrollHeight - l.scrollTop - l.clientHeight < 120;
  }

  scrollToBottom() {
    this.list.scrollTop = this.list.scrollHeight;
  }

  /** Insert an event by seq; a seq already shown is ignored. `announce`: a live event (not
   * history) that screen readers should hear, unless it is the reader's own message. */
  add(ev, { scroll = true, announce = false } = {}) {
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
    if (this.seenSeq && node.dataset.testid === "message") this.placeSeen();
    if (scroll && stick) this.scrollToBottom();
    if (announce && !(ev.actor && ev.actor.id === this.ctx.me)) this.announce(node);
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
      h("span", { class: "msg__meta" }, `${t("You")} · `, formatTime(at)),
      appendLinkified(h("div", { class: "msg__bubble" }), text),
      h("span", { class: "msg__status", "data-role": "status" }, t("Sending…")),
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
    node.querySelector('[data-role="status"]').textContent = t("Not sent: {reason}", { reason: message });
  }

  setPendingStatus(text) {
    for (const s of this.list.querySelectorAll('.msg--pending [data-role="status"]')) s.textContent = text;
  }
}

/** A plain-text transcript built from events (used when the server's is not available). */
export function transcriptText(events, ctx) {
  const lines = [];
  for (const ev of events) {
    const at = formatTime(ev.at);
    if (ev.type === "message.posted") lines.push(`[${at}] ${name(ev.actor)}: ${ev.data.text}`);
    else if (ev.type === "file.shared")
      lines.push(`[${at}] ${t("{name} sent a file: {file}", { name: name(ev.actor), file: ev.data.attachment?.filename || "" })}`);
    else if (ev.type === "note.added") continue;
    else {
      const node = eventNode(ev, { ...ctx, staff: true });
      if (!node) continue;
      for (const time of node.querySelectorAll("time")) time.remove(); // the line's own clock
      lines.push(`[${at}] ${node.textContent.trim()}`);
    }
  }
  return lines.join("\n");
}
