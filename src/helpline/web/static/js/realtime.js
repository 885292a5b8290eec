// The one client of the WebSocket protocol (/api/v1/ws), shared by portal and console.
//
// Invariants:
// - Per chat we remember the last seq delivered; an event with seq <= that is a duplicate and
//   is dropped, so handlers see each event once, in seq order. (Customers may see seqs skip:
//   internal events are filtered by the server, that is not loss.)
// - After every (re)connect each chat is subscribed again with `after` = its last seq, so the
//   server replays exactly what was missed.
// - Messages go through an outbox keyed by client_id (crypto.randomUUID), kept in
//   sessionStorage. An entry leaves the outbox when its ack (or its message.posted event, or an
//   error) arrives; anything still there is resent after reconnect. The server is idempotent on
//   (chat_id, client_id), so a resend never doubles a message, and a reload loses nothing.
// - Reconnects back off exponentially with jitter, and reset on success, on `online` and when
//   the tab becomes visible again (a laptop waking up).

const OUTBOX_KEY = "helpline.outbox.v1";
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 15000;
const PING_EVERY_MS = 20000;
const DEAD_AFTER_MS = 50000;
const SIGNED_OUT = 4401;

function wsUrl(path = "/api/v1/ws") {
  const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${window.location.host}${path}`;
}

function newClientId() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return crypto.randomUUID();
  // Fallback for non-secure contexts (plain http on a LAN address): 128 random bits.
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export class Realtime {
  /** protocols: WebSocket subprotocols, e.g. ["helpline", "bearer.<token>"] (the widget). */
  constructor({ url = wsUrl(), storageKey = OUTBOX_KEY, protocols = null } = {}) {
    this.url = url;
    this.protocols = protocols;
    this.storageKey = storageKey;
    this.ws = null;
    this.state = "idle"; // idle | connecting | open | closed
    this.stopped = true;
    this.attempt = 0;
    this.retryTimer = null;
    this.pingTimer = null;
    this.lastRx = 0;
    this.everOpened = false;
    this.subs = new Map(); // chat_id -> {lastSeq, handler, ready}
    this.listeners = new Map(); // frame type -> Set<fn>
    this.outbox = this.loadOutbox(); // client_id -> {chat_id, text, at}
    this.onOnline = () => this.reconnectNow();
    this.onVisible = () => {
      if (document.visibilityState === "visible") this.reconnectNow();
    };
  }

  // ------------------------------------------------------------ lifecycle

  start() {
    if (!this.stopped) return this;
    this.stopped = false;
    window.addEventListener("online", this.onOnline);
    document.addEventListener("visibilitychange", this.onVisible);
    this.pingTimer = setInterval(() => this.heartbeat(), PING_EVERY_MS);
    this.connect();
    return this;
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearInterval(this.pingTimer);
    window.removeEventListener("online", this.onOnline);
    document.removeEventListener("visibilitychange", this.onVisible);
    if (this.ws) {
      this.ws.onclose = null;
      this.ws.close(1000, "bye");
      this.ws = null;
    }
    this.setState("closed");
  }

  connect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    this.setState("connecting");
    let ws;
    try {
      ws = this.protocols ? new WebSocket(this.url, this.protocols) : new WebSocket(this.url);
    } catch {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.lastRx = Date.now();
      const reconnect = this.everOpened;
      this.everOpened = true;
      this.setState("open");
      for (const [chatId, sub] of this.subs) {
        sub.ready = false;
        this.sendFrame({ type: "subscribe", chat_id: chatId, after: sub.lastSeq });
      }
      this.flushOutbox();
      this.emit("open", { reconnect });
    };
    ws.onmessage = (msg) => {
      if (this.ws !== ws) return;
      this.lastRx = Date.now();
      let frame;
      try {
        frame = JSON.parse(msg.data);
      } catch {
        return;
      }
      this.handleFrame(frame);
    };
    ws.onclose = (e) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.setState("closed");
      this.emit("close", { code: e.code, reason: e.reason });
      if (e.code === SIGNED_OUT) {
        // Signed out elsewhere, deactivated or password changed: resuming cannot work.
        this.stop();
        this.emit("signed-out", { reason: e.reason });
        return;
      }
      this.scheduleReconnect();
    };
    ws.onerror = () => {
      /* onclose follows; the browser already logged the reason */
    };
  }

  scheduleReconnect() {
    if (this.stopped) return;
    clearTimeout(this.retryTimer);
    const cap = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** this.attempt);
    const delay = cap / 2 + Math.random() * (cap / 2); // "equal jitter"
    this.attempt += 1;
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }

  reconnectNow() {
    if (this.stopped || this.state === "open" || this.state === "connecting") return;
    this.attempt = 0;
    this.connect();
  }

  heartbeat() {
    if (this.state !== "open") return;
    if (Date.now() - this.lastRx > DEAD_AFTER_MS) {
      // Nothing heard for too long (sleep, dead NAT): drop it and reconnect.
      const ws = this.ws;
      this.ws = null;
      if (ws) {
        ws.onclose = null;
        ws.close(4000, "stale");
      }
      this.setState("closed");
      this.emit("close", { code: 4000, reason: "stale" });
      this.scheduleReconnect();
      return;
    }
    this.sendFrame({ type: "ping" });
  }

  setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit("state", state);
  }

  get isOpen() {
    return this.state === "open";
  }

  // ------------------------------------------------------------ listeners

  on(type, fn) {
    if (!this.listeners.has(type)) this.listeners.set(type, new Set());
    this.listeners.get(type).add(fn);
    return () => this.listeners.get(type)?.delete(fn);
  }

  emit(type, payload) {
    for (const fn of this.listeners.get(type) || []) {
      try {
        fn(payload);
      } catch (err) {
        // A failing handler must not break the connection; report it once, visibly.
        setTimeout(() => {
          throw err;
        });
      }
    }
  }

  sendFrame(frame) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(frame));
    return true;
  }

  // ------------------------------------------------------------ chats

  /** Subscribe to a chat; `handler(event)` gets each event once, in seq order. */
  subscribe(chatId, handler, after = 0) {
    const existing = this.subs.get(chatId);
    if (existing) {
      existing.handler = handler;
      return;
    }
    this.subs.set(chatId, { lastSeq: after, handler, ready: false, everReady: false });
    this.sendFrame({ type: "subscribe", chat_id: chatId, after });
  }

  unsubscribe(chatId) {
    if (!this.subs.delete(chatId)) return;
    this.sendFrame({ type: "unsubscribe", chat_id: chatId });
  }

  isSubscribed(chatId) {
    return this.subs.has(chatId);
  }

  lastSeq(chatId) {
    return this.subs.get(chatId)?.lastSeq ?? 0;
  }

  /** Queue a message; it is sent now if connected, else on reconnect. Returns its client_id. */
  sendMessage(chatId, text) {
    const clientId = newClientId();
    this.outbox.set(clientId, { chat_id: chatId, text, at: new Date().toISOString() });
    this.saveOutbox();
    this.sendFrame({ type: "message", chat_id: chatId, text, client_id: clientId });
    return clientId;
  }

  /** Unacknowledged messages of a chat, oldest first: [{client_id, text, at}]. */
  pending(chatId) {
    const out = [];
    for (const [clientId, item] of this.outbox)
      if (item.chat_id === chatId) out.push({ client_id: clientId, ...item });
    return out;
  }

  /** Forget a queued message (e.g. the chat closed and it can never be delivered). */
  discard(clientId) {
    if (this.outbox.delete(clientId)) this.saveOutbox();
  }

  /** Tell the server this page showed the chat up to `seq` (read receipts); sent once per
   * new position, again after a reconnect. */
  read(chatId, seq) {
    const sub = this.subs.get(chatId);
    if (!sub || !(seq > (sub.readSent || 0))) return;
    if (this.sendFrame({ type: "read", chat_id: chatId, seq })) sub.readSent = seq;
  }

  typing(chatId, active) {
    this.sendFrame({ type: "typing", chat_id: chatId, active: Boolean(active) });
  }

  flushOutbox() {
    for (const [clientId, item] of this.outbox)
      this.sendFrame({ type: "message", chat_id: item.chat_id, text: item.text, client_id: clientId });
  }

  loadOutbox() {
    try {
      const raw = sessionStorage.getItem(this.storageKey);
      return new Map(raw ? Object.entries(JSON.parse(raw)) : []);
    } catch {
      return new Map();
    }
  }

  saveOutbox() {
    try {
      sessionStorage.setItem(this.storageKey, JSON.stringify(Object.fromEntries(this.outbox)));
    } catch {
      /* storage full or unavailable: the outbox still lives in memory */
    }
  }

  // ------------------------------------------------------------ frames

  handleFrame(frame) {
    switch (frame.type) {
      case "event":
        this.deliver(frame.event);
        break;
      case "subscribed": {
        const sub = this.subs.get(frame.chat_id);
        if (sub) {
          sub.ready = true;
          sub.everReady = true;
        }
        this.emit("subscribed", frame);
        break;
      }
      case "unsubscribed":
        // The server ended the subscription (the chat moved out of our reach): do not resume it.
        this.subs.delete(frame.chat_id);
        this.emit("unsubscribed", frame);
        break;
      case "ack":
        if (frame.client_id && this.outbox.delete(frame.client_id)) this.saveOutbox();
        this.emit("ack", frame);
        break;
      case "error":
        if (frame.client_id && this.outbox.has(frame.client_id)) {
          const item = this.outbox.get(frame.client_id);
          this.outbox.delete(frame.client_id);
          this.saveOutbox();
          this.emit("send-error", { ...frame, chat_id: frame.chat_id || item.chat_id, text: item.text });
        } else {
          this.emit("error", frame);
        }
        break;
      case "pong":
      case "ping":
        break;
      default:
        this.emit(frame.type, frame);
    }
  }

  deliver(event) {
    if (!event || typeof event.seq !== "number") return;
    const sub = this.subs.get(event.chat_id);
    if (!sub || event.seq <= sub.lastSeq) return; // not ours, or a duplicate
    sub.lastSeq = event.seq;
    const clientId = event.data && event.data.client_id;
    if (event.type === "message.posted" && clientId && this.outbox.delete(clientId)) this.saveOutbox();
    // replay: part of a subscribe's catch-up; initial: the history before the first catch-up
    // completed (a page uses it to avoid alerting about old messages).
    sub.handler(event, { replay: !sub.ready, initial: !sub.everReady });
    this.emit("event", event);
  }
}
