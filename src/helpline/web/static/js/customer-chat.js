// A customer's chat session, shared by the portal and the widget panel: start a chat (or go
// back to the one already open), recover it after a reload (the open chat, else the one
// remembered), follow it live (events through chat-state.js, resumed by seq by realtime.js
// after a reconnect; a fresh read after one), the conversation, the composer, the typing
// indicator, the queue position, read receipts (says `read` while the conversation is on
// screen; "Seen" under the last own message the agent read) and leaving. The page draws
// everything else through hooks.

import { t, tn } from "./i18n.js";
import { ApiError, api } from "./api.js";
import { apply, isOpen } from "./chat-state.js";
import { Composer } from "./composer.js";
import { Conversation } from "./conversation.js";
import { CustomerAlerts } from "./customer-alerts.js";
import { $ } from "./ui.js";

export class CustomerChat {
  /**
   * root: the element holding the message list, typing indicator and composer.
   * opts: queueName(id), remember(chatId | null),
   *   render(chat) — the page's header and after-chat parts, on open and on every change,
   *   onEvent(ev, {initial, changed}) — after the chat took the event (optional),
   *   onOpen(chat) — before the chat's events arrive (optional),
   *   onPosition(position, estimatedWaitS) (optional), download and imageUrl (Conversation's,
   *   optional),
   *   uploaded (true: show an upload at once, without waiting for its event),
   *   shown() — false while the conversation is out of sight, so nothing counts as read (optional),
   *   onUnseen(count, title) — alerts not yet seen while the tab was hidden and the newest
   *   one's title (optional; the widget, whose frame shows no desktop notification itself).
   * Then `attach(rt, me)` once signed in (again after a new sign-in: the widget's guest).
   */
  constructor(root, opts) {
    this.root = root;
    this.opts = opts;
    this.rt = null;
    this.me = null;
    this.conv = null;
    this.chat = null;
    this.events = [];
    this.typingTimer = null;
    this.readTimer = null;
    this.alerts = new CustomerAlerts($('[data-testid="sound-toggle"]'), { onUnseen: opts.onUnseen, desktop: !opts.onUnseen });
    document.addEventListener("visibilitychange", () => this.markRead());
    this.composer = new Composer(root, {
      onSend: (text) => this.send(text),
      onTyping: (active) => this.chat && this.rt.typing(this.chat.id, active),
      uploadPath: () => (this.chat && isOpen(this.chat.status) ? `/chats/${this.chat.id}/files` : null),
      onUploaded: opts.uploaded ? (ev) => this.chat && ev.chat_id === this.chat.id && this.conv.add(ev) : undefined,
    });
  }

  /** Follow chats over `rt` (a Realtime) as `me`. */
  attach(rt, me) {
    this.rt = rt;
    this.me = me;
    this.chat = null;
    this.events = [];
    this.conv = new Conversation($('[data-testid="message-list"]', this.root), {
      me: me.id,
      staff: false,
      queueName: this.opts.queueName,
      download: this.opts.download,
      imageUrl: this.opts.imageUrl,
    });
    this.wireRealtime();
  }

  get isOpen() {
    return Boolean(this.chat && isOpen(this.chat.status));
  }

  wireRealtime() {
    const rt = this.rt;
    const mine = (frame) => this.chat && frame.chat_id === this.chat.id;
    rt.on("queue.position", (frame) => {
      if (!mine(frame) || this.chat.status !== "waiting") return;
      this.chat.position = frame.position;
      this.chat.estimated_wait_s = frame.estimated_wait_s;
      this.opts.onPosition?.(frame.position, frame.estimated_wait_s);
    });
    rt.on("typing", (frame) => {
      if (!mine(frame)) return;
      const who = frame.user || frame.actor || frame.agent || {};
      if (who.id === this.me.id) return;
      const el = $('[data-testid="typing-indicator"]', this.root);
      clearTimeout(this.typingTimer);
      el.hidden = !frame.active;
      $('[data-role="typing-text"]', el).textContent = t("{name} is typing…", { name: who.name || t("The agent") });
      if (frame.active) this.typingTimer = setTimeout(() => (el.hidden = true), 8000);
    });
    rt.on("read", (frame) => {
      if (mine(frame) && frame.role === "agent") this.conv.setSeen(frame.seq);
    });
    rt.on("send-error", (frame) => this.conv.failPending(frame.client_id, frame.error?.message || t("the message could not be sent")));
    rt.on("state", (s) => {
      if (s === "open") this.conv.setPendingStatus(t("Sending…"));
      else if (s === "closed" && rt.everOpened) this.conv.setPendingStatus(t("Waiting for connection…"));
    });
    // realtime.js resubscribes after the last seq; the chat itself is read again too (the
    // position and anything a missed frame would have said).
    rt.on("open", ({ reconnect }) => reconnect && this.refresh());
  }

  send(text) {
    if (!this.isOpen) return false;
    const clientId = this.rt.sendMessage(this.chat.id, text);
    this.conv.addPending({ client_id: clientId, text, at: new Date().toISOString() });
    if (!this.rt.isOpen) this.conv.setPendingStatus(t("Waiting for connection…"));
    return true;
  }

  /** Show `chat` and follow it. */
  open(chat) {
    if (this.chat && this.chat.id !== chat.id) this.rt.unsubscribe(this.chat.id);
    this.chat = chat;
    this.events = [];
    this.opts.remember(chat.id);
    this.conv.clear();
    this.opts.onOpen?.(chat);
    this.opts.render(chat);
    this.conv.setSeen(chat.read?.agent || 0);
    this.rt.subscribe(chat.id, (ev, { initial }) => this.onEvent(ev, initial));
    for (const p of this.rt.pending(chat.id)) this.conv.addPending(p);
    if (this.isOpen) this.composer.focus();
  }

  /** Stop showing the chat (the page shows its start view). */
  close() {
    if (this.chat) this.rt.unsubscribe(this.chat.id);
    this.chat = null;
    this.events = [];
    this.opts.remember(null);
  }

  onEvent(ev, initial) {
    const chat = this.chat;
    if (!chat || ev.chat_id !== chat.id) return;
    this.events.push(ev);
    const changed = apply(chat, ev);
    this.conv.add(ev, { announce: !initial });
    if (ev.type === "message.posted" && ev.actor?.id !== this.me.id) $('[data-testid="typing-indicator"]', this.root).hidden = true;
    this.alertFor(ev, initial);
    this.opts.onEvent?.(ev, { initial, changed });
    if (changed) this.opts.render(chat);
    this.markRead();
    if (!isOpen(chat.status)) {
      for (const p of this.rt.pending(chat.id)) {
        this.rt.discard(p.client_id);
        this.conv.failPending(p.client_id, t("the chat has ended"));
      }
    }
  }

  /** The agent joined or wrote while the tab is hidden: title, sound, notification. */
  alertFor(ev, initial) {
    const agent = ev.data?.agent?.name || ev.actor?.name || t("Support");
    if (ev.type === "chat.accepted") {
      this.alerts.alert({ initial, title: t("{agent} joined the chat", { agent }), body: ev.data?.greeting || "" });
    } else if ((ev.type === "message.posted" || ev.type === "file.shared") && ev.actor && ev.actor.id !== this.me.id) {
      const file = ev.data?.attachment;
      const body = ev.type === "message.posted" ? ev.data?.text || "" : file?.filename || "";
      const title =
        ev.type === "message.posted"
          ? t("New message from {agent}", { agent })
          : file?.thumbnail_url
            ? t("{name} sent you an image", { name: agent })
            : t("{name} sent you a file", { name: agent });
      this.alerts.alert({ initial, title, body });
    }
  }

  /** Say how far the conversation was shown, once the events of the moment are in (a replay
   * brings many at once), and only while the page is visible. */
  markRead() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => {
      const chat = this.chat;
      const last = this.events[this.events.length - 1];
      if (!chat || !last || document.visibilityState !== "visible") return;
      if (this.opts.shown && !this.opts.shown()) return;
      this.rt.read(chat.id, last.seq);
    }, 200);
  }

  /** Start a chat; the one already open instead when there is one. {chat, existing}.
   * `extra`: the pre-chat answers (`fields`) and the page `context`. */
  async start(queueId, message, extra = {}) {
    try {
      const chat = await api.post("/chats", { queue_id: queueId, message, ...extra });
      this.open(chat);
      return { chat, existing: false };
    } catch (err) {
      if (!(err instanceof ApiError && err.code === "chat_already_open" && err.details?.chat_id)) throw err;
      const chat = await api.get(`/chats/${encodeURIComponent(err.details.chat_id)}`);
      this.open(chat);
      return { chat, existing: true };
    }
  }

  /** After a reload: open the customer's open chat, else the remembered one if it is among
   * `known` (ids the caller may see; null: any); true when a chat was opened. */
  async recover(chats, remembered, known = null) {
    const open = chats.find((c) => isOpen(c.status));
    if (open) {
      this.open(open);
      return true;
    }
    if (!remembered || (known && !known.has(remembered))) return false;
    try {
      this.open(await api.get(`/chats/${encodeURIComponent(remembered)}`));
      return true;
    } catch {
      this.opts.remember(null);
      return false;
    }
  }

  async leave() {
    const chat = this.chat;
    if (!chat) return;
    const updated = await api.post(`/chats/${chat.id}/leave`, {});
    if (this.chat !== chat) return;
    Object.assign(chat, updated);
    this.opts.render(chat);
  }

  async refresh() {
    const chat = this.chat;
    if (!chat) return;
    try {
      const fresh = await api.get(`/chats/${chat.id}`);
      if (this.chat !== chat) return;
      Object.assign(chat, fresh);
      this.conv.setSeen(fresh.read?.agent || 0);
      this.opts.render(chat);
    } catch {
      /* the event stream tells the rest */
    }
  }
}
