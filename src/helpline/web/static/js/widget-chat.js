// The chat panel inside the web-site widget's iframe (/widget/chat?queue=…).
//
// Cross-site iframes get no cookies, so this page never uses the session cookie: it signs in
// as a guest (POST /auth/guest), keeps {token, user} in this frame's sessionStorage (per tab,
// gone when the tab closes; never given to the host page), calls the API with `Authorization: Bearer <token>` and opens the WebSocket
// with the subprotocols ["helpline", "bearer.<token>"] (docs/protocol.md).
//
// Files: uploads go through the composer (XMLHttpRequest with the bearer header); a file link
// cannot carry the token, so a click fetches the file with it and saves the blob instead;
// thumbnails and full-size images are fetched the same way (Conversation's imageUrl).

import { ApiError, api, blobUrl, download, setBearer } from "./api.js";
import { askForNotifications, offerNotifications } from "./customer-alerts.js";
import { CustomerChat } from "./customer-chat.js";
import { collectFields, fieldError, pageContext, renderFields } from "./prechat.js";
import { bindLanguageSwitchers, formatDate, formatNumber, t, tn } from "./i18n.js";
import { Realtime } from "./realtime.js";
import { $, isOpenStatus, showFormError, statusBadge } from "./ui.js";

const SESSION_KEY = "helpline.widget.session";
// The visitor the host site vouches for (widget.js puts it in the fragment), or null: a guest.
const identity = (() => {
  const f = new URLSearchParams(window.location.hash.slice(1));
  const uid = f.get("uid");
  const hash = f.get("hash");
  if (!uid || !hash) return null;
  const out = { user_id: uid, hash };
  if (f.get("name")) out.name = f.get("name").slice(0, 120);
  if (f.get("email")) out.email = f.get("email").slice(0, 320);
  return out;
})();
const CHAT_KEY = "helpline.widget.chat";
const wanted = new URLSearchParams(window.location.search).get("queue") || "";

// session: the guest's {token, user}; talk: the CustomerChat (the chat shown and its parts).
const st = {
  session: null,
  queues: [],
  rt: null,
  talk: null,
  get chat() {
    return this.talk?.chat ?? null;
  },
};

// The session (token and user) stays in this frame, never handed to the host page, whose
// scripts could then act as the guest (docs/decisions/008): in this frame's sessionStorage
// when the browser allows storage in third-party frames, else in memory; and in a partitioned
// HttpOnly cookie on /widget (POST /widget/session), which only this frame can turn back into
// the session (POST /widget/resume, same-origin only) after a reload of the host page.
const hostOrigin = new URLSearchParams(window.location.search).get("host") || "";
const memory = new Map();
let storageOk = true;
try {
  sessionStorage.getItem(SESSION_KEY);
} catch {
  storageOk = false;
}

function read(key) {
  try {
    const raw = storageOk ? sessionStorage.getItem(key) : memory.get(key);
    return JSON.parse(raw || "null");
  } catch {
    return null;
  }
}

function write(key, value) {
  const raw = value === null ? null : JSON.stringify(value);
  if (storageOk) {
    try {
      if (raw === null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, raw);
      return;
    } catch {
      /* quota: this page view only */
    }
  }
  if (raw === null) memory.delete(key);
  else memory.set(key, raw);
}

/** Our own origin's requests, outside /api (no bearer header unless given). */
async function widgetCall(method, path, token = null) {
  const headers = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const res = await fetch(path, { method, credentials: "same-origin", headers });
  return res.status === 200 ? res.json() : null;
}

/** The session the partitioned cookie kept for this panel, or null. */
async function resume() {
  try {
    const data = await widgetCall("POST", "/widget/resume");
    return data?.token ? { token: data.token, user: data.user } : null;
  } catch {
    return null;
  }
}

/** Tell widget.js to close the panel: to the host's origin only, and nothing else. */
function closePanel() {
  if (window.parent !== window) window.parent.postMessage({ type: "helpline:close" }, hostOrigin || "*");
}

function show(view) {
  for (const el of document.querySelectorAll("[data-view]")) el.hidden = el.dataset.view !== view;
  const first = $(`[data-view="${view}"] input, [data-view="${view}"] textarea`);
  if (first && view !== "chat") first.focus();
}

function showError(text) {
  const el = $('[data-role="w-error"]');
  el.textContent = text || "";
  el.hidden = !text;
}

const queueName = (id) => st.queues.find((q) => q.id === id)?.name || "";

// ------------------------------------------------------------------ sign-in

async function guestSignIn(e) {
  e.preventDefault();
  const form = e.currentTarget;
  const name = form.elements.name.value.trim();
  const email = form.elements.email.value.trim();
  if (!name || !email) {
    showFormError(form, { message: t("Please give your name and e-mail.") });
    return;
  }
  const btn = $('[type="submit"]', form);
  btn.disabled = true;
  showFormError(form, null);
  try {
    // No cookie wanted (nor usable) here: the answer's token is the session.
    const res = await fetch("/api/v1/auth/guest", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ name, email }),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, data?.error?.code || "error", data?.error?.message || t("Could not sign in."));
    st.session = { token: data.token, user: data.user };
    write(SESSION_KEY, st.session);
    await widgetCall("POST", "/widget/session", data.token).catch(() => null);
    await signedIn();
  } catch (err) {
    showFormError(form, err);
  } finally {
    btn.disabled = false;
  }
}

/** Sign in the visitor the site vouches for (POST /auth/widget); false when it refuses them
 * (a wrong hash: the guest form then, as for any visitor). */
async function identitySignIn() {
  try {
    const res = await fetch("/api/v1/auth/widget", {
      method: "POST",
      credentials: "omit",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(identity),
    });
    const data = await res.json().catch(() => null);
    if (!res.ok) {
      // For the site's developers: their signature of the visitor did not check out.
      console.warn(`Helpline widget: the visitor was not verified (${data?.error?.code || res.status}); they continue as a guest.`);
      return false;
    }
    // Not kept in the partitioned cookie (that is for guests): the site signs the visitor in
    // again on every page, and a visitor who signed out of the site must not come back.
    st.session = { token: data.token, user: data.user, uid: identity.user_id };
    write(SESSION_KEY, st.session);
    return true;
  } catch {
    return false;
  }
}

function signOutLocally() {
  widgetCall("DELETE", "/widget/session").catch(() => null);
  if (st.chat) st.talk.close();
  write(SESSION_KEY, null);
  write(CHAT_KEY, null);
  st.session = null;
  setBearer(null);
  if (st.rt) st.rt.stop();
  st.rt = null;
  show("guest");
}

async function signedIn() {
  const { token, user } = st.session;
  setBearer(token);
  $('[data-role="w-sub"]').textContent = user.name;
  st.rt = new Realtime({ storageKey: "helpline.widget.outbox", protocols: ["helpline", `bearer.${token}`] });
  st.rt.on("signed-out", signOutLocally);
  st.talk.attach(st.rt, user);
  st.rt.start();

  let open = [];
  try {
    const [queues, chats] = await Promise.all([api.get("/queues"), api.get("/chats?status=waiting,in_progress")]);
    st.queues = (queues.items || []).filter((q) => q.active !== false);
    open = chats.items || [];
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) {
      signOutLocally();
      return;
    }
    showError(t("Could not load the chat: {reason}", { reason: err.message }));
    return;
  }
  renderQueues();
  if (!(await st.talk.recover(open, read(CHAT_KEY)))) show("start");
  loadHistory();
}

// ------------------------------------------------------------------ earlier chats

/** The visitor's earlier chats (a verified visitor's from every device), newest first. */
async function loadHistory() {
  const section = $('[data-role="w-history"]');
  let items = [];
  try {
    items = (await api.get("/chats?status=solved,cancelled,expired&limit=10")).items || [];
  } catch {
    items = [];
  }
  section.hidden = items.length === 0;
  const list = $("ul", section);
  list.replaceChildren(
    ...items.map((c) => {
      const when = formatDate(c.created_at);
      const btn = document.createElement("button");
      btn.type = "button";
      btn.className = "widget-history__row";
      btn.dataset.testid = "widget-history-row";
      btn.dataset.chatId = c.id;
      const title = document.createElement("strong");
      title.textContent = c.subject || queueName(c.queue_id) || c.reference;
      const meta = document.createElement("span");
      meta.className = "muted small";
      meta.textContent = `${c.reference} · ${when}`;
      btn.append(title, meta);
      btn.addEventListener("click", () => st.talk.open(c));
      const li = document.createElement("li");
      li.append(btn);
      return li;
    }),
  );
}

// ------------------------------------------------------------------ start

function renderQueues() {
  const select = $("#w-queue");
  select.replaceChildren(...st.queues.map((q) => new Option(q.open_now === false ? t("{queue} (closed now)", { queue: q.name }) : q.name, q.id)));
  const q = st.queues.find((x) => x.id === wanted || x.name.toLowerCase() === wanted.toLowerCase());
  if (q) {
    select.value = q.id;
    $('[data-role="w-queue-field"]').hidden = true; // the site chose the topic
    $('[data-role="w-title"]').textContent = q.name;
  }
  updateClosed();
}

function updateClosed() {
  const q = st.queues.find((x) => x.id === $("#w-queue").value);
  renderFields($('[data-role="prechat-fields"]'), q);
  const box = $('[data-role="w-closed"]');
  // The queue's away text replaces the start form while it is closed or nobody is free.
  const away = Boolean(q && (q.open_now === false || (q.agents_available === 0 && q.away_text)));
  box.hidden = !away;
  $('[data-role="w-start-parts"]').hidden = away;
  $('[data-role="w-closed-text"]').textContent = q?.away_text || (q ? t("{queue} is closed right now, so no one can answer. Leave a message and we'll reply by e-mail.", { queue: q.name }) : "");
}

// ------------------------------------------------------------------ leave a message

function showLeaveMessage() {
  const form = $('[data-view="leave"]');
  const start = $('[data-view="start"]');
  form.elements.description.value = start.elements.message.value;
  form.elements.summary.value = start.elements.message.value.split("\n")[0].slice(0, 200);
  show("leave");
}

async function leaveMessage(e) {
  e.preventDefault();
  const form = e.currentTarget;
  const summary = form.elements.summary.value.trim();
  if (!summary) {
    showFormError(form, { message: t("Please write what it is about.") });
    form.elements.summary.focus();
    return;
  }
  const btn = $('[type="submit"]', form);
  btn.disabled = true;
  showFormError(form, null);
  try {
    const req = await api.post("/requests", { summary, description: form.elements.description.value.trim(), team_id: $("#w-queue").value || undefined });
    form.reset();
    $('[data-role="w-left"]').textContent = t("Thanks! We got your message ({reference}) and will reply by e-mail.", { reference: req.reference });
    show("left");
  } catch (err) {
    showFormError(form, err);
  } finally {
    btn.disabled = false;
  }
}

async function startChat(e) {
  e.preventDefault();
  const form = e.currentTarget;
  const message = form.elements.message.value.trim();
  const queueId = form.elements.queue_id.value;
  if (!message) {
    showFormError(form, { message: t("Write a first message so we know how to help.") });
    form.elements.message.focus();
    return;
  }
  const queue = st.queues.find((x) => x.id === queueId);
  const box = $('[data-role="prechat-fields"]');
  const { answers, error } = collectFields(box, queue);
  if (error) {
    showFormError(form, null);
    fieldError(box, error.key, error.message);
    return;
  }
  // Asked inside the click (browsers want a gesture), before anything is awaited.
  if (form.elements.notify.checked) askForNotifications();
  const btn = $('[type="submit"]', form);
  btn.disabled = true;
  showFormError(form, null);
  const params = new URLSearchParams(window.location.search);
  const context = pageContext({ pageUrl: params.get("page") || "", referrer: params.get("ref") || "" });
  try {
    await st.talk.start(queueId, message, { fields: answers, context });
    form.elements.message.value = "";
    renderFields(box, queue);
  } catch (err) {
    if (!(err instanceof ApiError && err.code === "invalid_field" && fieldError(box, err.details?.field, err.message))) showFormError(form, err);
  } finally {
    btn.disabled = false;
  }
}

// ------------------------------------------------------------------ chat

function positionText(position, wait) {
  if (!position) return t("You are in the queue");
  if (Number.isFinite(wait)) {
    const mins = Math.max(1, Math.round(wait / 60));
    return tn("You are number {position} in the queue, about {count} minute", "You are number {position} in the queue, about {count} minutes", mins, { position: formatNumber(position) });
  }
  return t("You are number {position} in the queue, a few minutes", { position: formatNumber(position) });
}

function setPosition(position, wait) {
  $('[data-testid="queue-position"]').textContent = positionText(position, wait);
}

function onEvent(ev) {
  if (ev.type === "chat.expired") {
    st.chat.endReason = ev.data?.reason;
    render();
  }
}

function render() {
  const chat = st.chat;
  show("chat");
  const badge = $('[data-role="w-status"]');
  badge.hidden = false;
  statusBadge(badge, chat.status);
  // Who the chat is with; back in a queue (moved), the topic when the site chose one.
  $('[data-role="w-title"]').textContent = chat.agent ? t("Chat with {name}", { name: chat.agent.name }) : (wanted && queueName(chat.queue_id)) || t("Chat with us");
  const open = isOpenStatus(chat.status);
  $('[data-action="w-leave"]').hidden = !open;
  $('[data-testid="sound-toggle"]').hidden = !open;
  $('[data-role="waiting"]').hidden = chat.status !== "waiting";
  if (chat.status === "waiting") setPosition(chat.position, chat.estimated_wait_s);
  $('[data-role="composer-wrap"]').hidden = !open;
  st.talk.composer.setEnabled(open);
  $('[data-role="after"]').hidden = open;
  if (!open) {
    const texts = {
      solved: t("This chat is closed. Thanks for talking to us!"),
      cancelled: t("This chat was ended."),
      expired: chat.endReason === "no_agent" ? t("No one was free to answer in time. Please try again a little later.") : t("This chat ended after a while without messages."),
    };
    $('[data-role="after-text"]').textContent = texts[chat.status] || t("This chat has ended.");
  }
}

async function leave(e) {
  const btn = e.currentTarget;
  btn.disabled = true;
  try {
    await st.talk.leave();
  } catch (err) {
    showError(err.message);
  } finally {
    btn.disabled = false;
  }
}

function newChat() {
  st.talk.close();
  $('[data-role="w-status"]').hidden = true;
  const q = st.queues.find((x) => x.id === $("#w-queue").value);
  $('[data-role="w-title"]').textContent = q && wanted ? q.name : t("Chat with us");
  show("start");
  loadHistory();
}

// ------------------------------------------------------------------ files

/** A file link's click: fetch with the bearer token, then save the blob (no cookies here). */
async function downloadFile(attachment, link) {
  if (link.getAttribute("aria-busy") === "true") return;
  link.setAttribute("aria-busy", "true");
  showError("");
  try {
    await download(`/files/${encodeURIComponent(attachment.id)}`, attachment.filename);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) signOutLocally();
    else showError(t("Could not download {file}: {reason}", { file: attachment.filename || t("the file"), reason: err.message }));
  } finally {
    link.removeAttribute("aria-busy");
  }
}

// ------------------------------------------------------------------ boot

// Whether the host page shows the panel (widget.js says when it opens and closes it).
let panelShown = true;
window.addEventListener("message", (e) => {
  if (e.source !== window.parent || e.data?.type !== "helpline:shown") return;
  if (hostOrigin && e.origin !== hostOrigin) return;
  panelShown = Boolean(e.data.shown);
  if (panelShown) st.talk?.markRead();
});

async function main() {
  // The frame's cookie may be refused (third party): the choice travels in ?lang= as well.
  bindLanguageSwitchers({ inUrl: true, save: (code) => (st.session?.token ? api.patch("/me", { locale: code }) : null) });
  $('[data-view="guest"]').addEventListener("submit", guestSignIn);
  $('[data-view="start"]').addEventListener("submit", startChat);
  offerNotifications($('[data-view="start"]'));
  $("#w-queue").addEventListener("change", updateClosed);
  $('[data-action="w-leave"]').addEventListener("click", leave);
  $('[data-action="w-new"]').addEventListener("click", newChat);
  $('[data-action="w-close"]').addEventListener("click", closePanel);
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape" && !document.querySelector("dialog[open]")) closePanel();
  });
  st.talk = new CustomerChat($('[data-view="chat"]'), {
    queueName,
    remember: (id) => {
      write(CHAT_KEY, id);
      $('[data-view="chat"]').dataset.chatId = id || "";
    },
    render,
    onEvent,
    onPosition: setPosition,
    download: downloadFile,
    imageUrl: blobUrl,
    uploaded: true,
    shown: () => panelShown,
    // The visitor sees the host page's tab, not this frame's title: the host shows the count,
    // and (where the site opted in and may) the desktop notification this frame cannot show.
    // Only the alert's title ("New message from Ana") leaves the frame, never a message.
    onUnseen: (count, title) => window.parent !== window && window.parent.postMessage({ type: "helpline:unseen", count, title }, hostOrigin || "*"),
  });
  $('[data-action="w-leave-message"]').addEventListener("click", showLeaveMessage);
  $('[data-view="leave"]').addEventListener("submit", leaveMessage);
  $('[data-action="w-back"]').addEventListener("click", () => show("start"));
  $('[data-action="w-back-left"]').addEventListener("click", () => show("start"));
  st.session = read(SESSION_KEY);
  if (!st.session?.token) st.session = await resume();
  // A kept session is used only for the same person: another (or no more) verified visitor
  // on this site must not carry on in it.
  if (st.session?.token && (st.session.uid || null) !== (identity?.user_id || null)) {
    widgetCall("DELETE", "/widget/session").catch(() => null);
    write(SESSION_KEY, null);
    write(CHAT_KEY, null);
    st.session = null;
  }
  if (!st.session?.token && identity) await identitySignIn();
  if (st.session?.token) {
    write(SESSION_KEY, st.session);
    signedIn();
  } else show("guest");
}

main();
