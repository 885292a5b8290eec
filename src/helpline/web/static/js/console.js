// The Agent Console: availability, the chat session list (filters, search, unread counts),
// alerts for new chats and messages (toast, sound, tab title, desktop notification), and the
// chat window with accept, composer, files and the chat options (solve, move, cancel, raise a
// Service Manager request). Several chats stay open in tabs; drafts survive switching and
// reloads (sessionStorage).
//
// This module is the wiring; the parts: console-store.js (state and rules), console-list.js
// (the list and tabs), console-window.js (the chat window).

import { api, getAll } from "./api.js";
import { alertDesktop, alertSound, initAlertSettings, startRepeat, stopRepeat } from "./alerts.js";
import { statusAfter } from "./chat-state.js";
import { scheduleRender, wireList } from "./console-list.js";
import {
  SEES_ALL,
  OPEN_KEY,
  boot,
  applyEvent,
  chatEvents,
  customerName,
  dropOfferToast,
  handleChatEvents,
  me,
  queueName,
  save,
  state,
  syncSubscription,
  upsert,
} from "./console-store.js";
import { wireCustomerPanel } from "./console-customer.js";
import { closeTab, failPending, hideTyping, openChat, readShown, renderWindow, saveDraft, setNotice, wireWindow } from "./console-window.js";
import { bindLanguageSwitchers, formatNumber, t, tn } from "./i18n.js";
import { initReports, showReports } from "./reports.js";
import { initRequests, requestSlaWarned, showRequests } from "./requests.js";
import { initSearch, showSearch } from "./search.js";
import { initSnippetManager, showSnippets } from "./snippets.js";
import { initSupervisor, showSupervisor } from "./supervisor.js";
import { initTwoFactor } from "./twofactor.js";
import { initAccountSecurity } from "./account-security.js";
import { $, $$, audioReady, beep, confirmAction, formatDuration, h, isOpenStatus, toast, toastError, unlockAudio, wireLogout, wireUserMenu } from "./ui.js";
import { startSlaTicker } from "./sla.js";

/** At most `n` characters, with an ellipsis when cut. */
function shorten(text, n) {
  return text.length > n ? text.slice(0, n) + "…" : text;
}

// ------------------------------------------------------------------ chats data

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
  // Back in the queue (its agent went offline): the offer that follows alerts like a new chat.
  if (ev.type === "chat.requeued" && changed && !initial) chat.unoffered = true;
  if (chat.id === state.shownId) {
    state.conv.add(ev, { announce: !initial });
    if (ev.type === "message.posted" && ev.actor?.id !== me.id) hideTyping();
    readShown();
  }
  const fromOther = (ev.type === "message.posted" || ev.type === "file.shared") && ev.actor && ev.actor.id !== me.id;
  if (fromOther && !initial && !(ev.seq <= (chat.ownReadSeq || 0))) {
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
  if (chat.id === state.shownId && (changed || ev.type === "request.raised" || ev.type === "chat.tagged" || ev.type.startsWith("chat.joined") || ev.type === "chat.parted"))
    renderWindow(false);
  scheduleRender();
}

/** This agent read the chat up to `seq` in some tab or on some device: what is unread here
 * is only what came after it. */
function ownRead(chat, seq) {
  chat.ownReadSeq = Math.max(seq, chat.ownReadSeq || 0);
  const fromOthers = chatEvents(chat.id).filter(
    (e) => e.seq > seq && (e.type === "message.posted" || e.type === "file.shared") && e.actor && e.actor.id !== me.id,
  ).length;
  const count = Math.min(fromOthers, state.unread.get(chat.id) || 0);
  if (count) {
    state.unread.set(chat.id, count);
  } else {
    state.unread.delete(chat.id);
    stopRepeat(chat.id);
    $(`#toasts [data-key="msg-${CSS.escape(chat.id)}"]`)?.remove();
  }
  scheduleRender();
}

async function loadQueues() {
  const res = await api.get("/queues");
  state.queues = (res.items || []).filter((q) => q.active !== false);
  state.queuesById = new Map(state.queues.map((q) => [q.id, q]));
  const filter = $("#queue-filter");
  filter.replaceChildren(h("option", { value: "" }, t("All queues")), ...state.queues.map((q) => h("option", { value: q.id }, q.name)));
  filter.value = state.queueFilter;
}

async function loadTags() {
  try {
    state.tags = (await api.get("/tags")).items || [];
  } catch {
    state.tags = [];
  }
  const filter = $("#tag-filter");
  filter.replaceChildren(h("option", { value: "" }, t("All tags")), ...state.tags.map((t) => h("option", { value: t.id }, t.name)));
  filter.value = state.tagFilter;
  filter.hidden = state.tags.length === 0;
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

function notifyNewChat(chat) {
  const q = queueName(chat.queue_id) || t("a queue");
  const title = t("New chat started by {name} in queue {queue}", { name: customerName(chat), queue: q });
  state.offerToast?.close();
  const note = toast({
    title,
    text: chat.subject || t("Click to open it."),
    testid: "new-chat-notification",
    key: "new-chat",
    timeout: 60000,
    onClick: () => openChat(chat.id),
  });
  note.chatId = chat.id;
  state.offerToast = note;
  alertSound();
  alertDesktop(title, chat.subject || "", () => openChat(chat.id));
  startRepeat(chat.id);
}

function notifyHandedOver(chat, events) {
  const handover = [...events].reverse().find((e) => e.type === "chat.transferred");
  const by = handover?.actor?.name;
  const title = (by ? t("{reference} was handed to you by {name}", { reference: chat.reference || t("A chat"), name: by }) : t("{reference} was handed to you", { reference: chat.reference || t("A chat") }));
  const note = handover?.data?.note;
  const text = note ? t("Note: {note}", { note: shorten(note, 140) }) : t("Chat with {name}", { name: customerName(chat) });
  toast({
    title,
    text,
    testid: "assigned-notification",
    key: `assigned-${chat.id}`,
    timeout: 60000,
    onClick: () => openChat(chat.id),
  });
  alertSound();
  alertDesktop(title, text, () => openChat(chat.id));
}

function notifyMessage(chat, ev) {
  const title = t("New message from {name}", { name: ev.actor?.name || customerName(chat) });
  const file = ev.data?.attachment;
  const text =
    ev.type !== "file.shared"
      ? ev.data?.text || ""
      : file?.thumbnail_url
        ? t("Sent an image: {file}", { file: file.filename || "" })
        : t("Sent a file: {file}", { file: file?.filename || "" });
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

// ------------------------------------------------------------------ views (hash routes)

/** `#chats` (default), `#requests`, `#requests/SR-000001`, `#search`, `#supervisor`. */
function route() {
  const [view, arg] = decodeURIComponent(window.location.hash.slice(1)).split("/");
  // Other fragments (the skip link's #main) are not views: keep the current one.
  if (view && !["chats", "requests", "search", "snippets", "supervisor", "reports"].includes(view) && route.done) return;
  route.done = true;
  const staffOnly = view === "supervisor" || view === "reports";
  const name = ["requests", "search", "snippets"].includes(view) || (staffOnly && SEES_ALL) ? view : "chats";
  $(".console-layout").hidden = name !== "chats";
  $("#requests-view").hidden = name !== "requests";
  $("#supervisor-view").hidden = name !== "supervisor";
  $("#snippets-view").hidden = name !== "snippets";
  $("#search-view").hidden = name !== "search";
  $("#reports-view").hidden = name !== "reports";
  for (const link of $$("[data-view-link]")) {
    if (link.dataset.viewLink === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (name === "requests") showRequests(arg || null);
  if (name === "snippets") showSnippets();
  if (name === "search") showSearch();
  if (name === "reports") showReports();
  if (SEES_ALL) showSupervisor(name === "supervisor");
}

// ------------------------------------------------------------------ wiring

// ------------------------------------------------------------------ wiring

function wire() {
  wireList({ open: openChat, close: closeTab });
  wireWindow();
  wireCustomerPanel({ openChat });

  const availability = $("#availability");
  availability.addEventListener("change", async () => {
    const status = availability.value;
    const mine = Array.from(state.chats.values()).filter((c) => c.agent?.id === me.id && c.status === "in_progress");
    if (status === "offline" && boot.requeue_on_offline && mine.length) {
      const text = tn("Your chat in progress goes back to the queue for a colleague to take.", "Your {count} chats in progress go back to the queue for a colleague to take.", mine.length);
      const ok = await confirmAction({ title: t("Go offline?"), text, ok: t("Go offline") });
      if (!ok) {
        availability.value = me.status;
        return;
      }
    }
    availability.disabled = true;
    try {
      await api.put("/me/status", { status });
      showStatus(status);
      toast({ title: t("You are now {status}", { status: availability.selectedOptions[0].textContent.toLowerCase() }), kind: "success", timeout: 3000 });
    } catch (err) {
      availability.value = me.status;
      toastError(err, t("Could not change your status"));
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
  bell.title = canAsk ? t("Turn on sound and desktop alerts") : t("Turn on sound alerts");
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

  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible" && state.activeId && state.unread.get(state.activeId)) {
      state.unread.delete(state.activeId);
      scheduleRender();
    }
    readShown();
  });
  window.addEventListener("beforeunload", saveDraft);
  startSlaTicker();
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
        title: t("{reference} was assigned to you", { reference: chat.reference || t("A chat") }),
        text: t("Chat with {name}", { name: customerName(chat) }),
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
      if (wasWaiting && frame.agent?.id !== me.id) setNotice(t("{name} accepted this chat.", { name: frame.agent?.name || t("A colleague") }), "warning");
      renderWindow(false);
    }
    scheduleRender();
  });
  // A chat in progress handed to me (a colleague's transfer, a supervisor's assign): it joins
  // my chats (the subscription brings its whole history) and I am alerted like for a new chat.
  rt.on("chat.assigned", (frame) => {
    const incoming = frame.chat;
    if (!incoming?.id || incoming.agent?.id !== me.id) return;
    const chat = upsert(incoming);
    if (!chat) return;
    notifyHandedOver(chat, frame.events || []);
    if (chat.id === state.shownId) renderWindow(false);
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
  // My availability changed elsewhere: another tab, the offline grace, or a supervisor.
  rt.on("status", (frame) => {
    if (frame.status) statusChanged(frame.status);
  });
  rt.on("sla.warning", (frame) => {
    // 80 % of a request's response or resolution time is used.
    if (frame.request_id) return requestSlaWarned(frame);
    // 80 % of the first-response time is used: the chip turns to "At risk" at once.
    const chat = state.chats.get(frame.chat_id);
    if (!chat) return;
    chat.slaWarned = true;
    scheduleRender();
    if (chat.id === state.shownId) renderWindow(false);
  });
  rt.on("unsubscribed", (frame) => markGone(frame.chat_id));
  rt.on("read", (frame) => {
    const chat = state.chats.get(frame.chat_id);
    if (!chat) return;
    if (frame.own) {
      ownRead(chat, frame.seq);
    } else if (frame.role === "customer") {
      chat.read = { agent: 0, ...chat.read, customer: Math.max(frame.seq, chat.read?.customer || 0) };
      if (chat.id === state.shownId) state.conv.setSeen(frame.seq);
    }
  });
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
      $('[data-role="typing-text"]', el).textContent = t("{name} is typing…", { name: who.name || t("The customer") });
      el.hidden = false;
      state.typingTimer = setTimeout(() => {
        el.hidden = true;
      }, 8000);
    } else {
      el.hidden = true;
    }
  });
  rt.on("send-error", (frame) => {
    if (frame.chat_id === state.shownId) state.conv.failPending(frame.client_id, frame.error?.message || t("not delivered"));
    else toast({ title: t("A message was not sent"), text: frame.error?.message || "", kind: "error" });
  });
  rt.on("error", (frame) => {
    if (frame.chat_id && frame.chat_id === state.shownId && frame.error?.message) setNotice(frame.error.message, "error");
  });
  rt.on("state", (s) => {
    const dot = $('[data-role="conn-dot"]');
    const label = $('[data-role="conn-label"]');
    const map = { open: ["open", t("Live")], connecting: ["connecting", t("Connecting…")], closed: ["closed", t("Reconnecting…")] };
    const [cls, text] = map[s] || map.connecting;
    dot.className = `dot dot--${cls}`;
    label.textContent = text;
    $('[data-role="conn"]').title = s === "open" ? t("Connected: updates arrive live") : t("Not connected: retrying");
    if (state.conv) state.conv.setPendingStatus(s === "open" ? t("Sending…") : t("Waiting for connection…"));
  });
  rt.on("open", ({ reconnect }) => {
    if (reconnect) loadChats().catch(() => {});
    // Availability may have changed while no socket was open to hear it: the offline grace
    // of an earlier page may end between this page's rendering and its first connection.
    // A change shown meanwhile (the agent's own, a status frame) is newer than this answer.
    const shown = statusShown;
    api
      .get("/me")
      .then((user) => {
        me.max_chats = user.max_chats;
        if (statusShown === shown) statusChanged(user.status);
      })
      .catch(() => {});
  });
}

/** My availability as the server has it now, if not what the header shows: shown, and
 * said when it is offline (no chats are offered until the agent sets themselves available). */
function statusChanged(status) {
  if (status === me.status) return;
  showStatus(status);
  if (status === "offline")
    toast({ title: t("You are now offline"), text: t("You will not be offered chats until you set yourself available."), kind: "info", testid: "offline-notification" });
}

let statusShown = 0; // how many times showStatus ran

/** My availability as the header shows it: the select and its dot. */
function showStatus(status) {
  statusShown += 1;
  me.status = status;
  $("#availability").value = status;
  $('[data-role="availability-dot"]').className = `dot dot--${status}`;
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
          {
            class: "overview__queue",
            title: t("{in_progress} in progress · longest wait {wait} · {free} agents free", {
              in_progress: formatNumber(q.in_progress),
              wait: formatDuration(q.longest_wait_s || 0),
              free: formatNumber(q.agents_available),
            }),
          },
          h("strong", {}, q.name),
          `${tn("{count} waiting", "{count} waiting", q.waiting)} · ${tn("{count} free", "{count} free", q.agents_available)}`,
        ),
      ),
    );
  } catch {
    box.hidden = true;
  }
}

async function main() {
  wireUserMenu();
  bindLanguageSwitchers({ save: (code) => api.patch("/me", { locale: code }) });
  if (me.totp_setup_required) {
    // Every other call would answer 403 totp_setup_required: only the setup, then a reload.
    wireLogout();
    initTwoFactor({ me, required: true });
    return;
  }
  initTwoFactor({ me });
  initAccountSecurity();
  wireLogout(() => state.rt.stop());
  state.rt.on("signed-out", () => window.location.reload());
  handleChatEvents(onChatEvent);
  wire();
  initAlertSettings();
  wireRealtime();
  try {
    await loadQueues();
    await loadTags();
    await loadChats();
  } catch (err) {
    toastError(err, t("Could not load your chats"));
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
  initSearch({ me, queues: state.queues, openChat });
  if (SEES_ALL) {
    initSupervisor({ rt: state.rt, queues: state.queues });
    initReports({ queues: state.queues, tags: state.tags });
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
