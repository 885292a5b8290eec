// The self-service portal: sign in or continue as guest, start a chat, wait with a live queue
// position, talk, send and receive files, and afterwards read/download the transcript, rate
// the chat and follow "My requests".

import { ApiError, api, bootData, getAll, latestOnly } from "./api.js";
import { CustomerChat } from "./customer-chat.js";
import { askForNotifications, offerNotifications } from "./customer-alerts.js";
import { collectFields, fieldError, pageContext, renderFields } from "./prechat.js";
import { bindLanguageSwitchers, formatNumber, t, tn } from "./i18n.js";
import { Realtime } from "./realtime.js";
import { KIND, highlighted, queryTerms } from "./search.js";
import {
  $,
  REQUEST_STATUS,
  formatDateTime,
  h,
  isOpenStatus,
  relative,
  setBusy,
  showFormError,
  statusBadge,
  submitForm,
  toast,
  wireAuthForms,
  wireLogout,
} from "./ui.js";

const CHAT_KEY = "helpline.portal.chat";
const boot = bootData();
const me = boot.user;

const state = {
  queues: [],
  queuesById: new Map(),
  rt: null,
  session: null, // CustomerChat: the chat shown, its events, conversation and composer
  get chat() {
    return this.session?.chat ?? null;
  },
  get events() {
    return this.session?.events ?? [];
  },
};

function queueName(id) {
  return state.queuesById.get(id)?.name || "";
}

function remember(chatId) {
  try {
    if (chatId) sessionStorage.setItem(CHAT_KEY, chatId);
    else sessionStorage.removeItem(CHAT_KEY);
  } catch {
    /* private mode */
  }
}

function remembered() {
  try {
    return sessionStorage.getItem(CHAT_KEY);
  } catch {
    return null;
  }
}

function show(view) {
  $("#portal-loading").hidden = true;
  $("#start-view").hidden = view !== "start";
  $("#chat-view").hidden = view !== "chat";
}

// ------------------------------------------------------------------ start

function renderQueues() {
  const select = $("#start-queue");
  select.replaceChildren();
  if (!state.queues.length) {
    select.append(h("option", { value: "" }, t("No topics available")));
    select.disabled = true;
    return;
  }
  for (const q of state.queues) {
    const label = q.open_now === false ? t("{queue} (closed now)", { queue: q.name }) : q.name;
    select.append(h("option", { value: q.id }, label));
  }
  select.disabled = false;
  // ?queue=<id or name> (the widget's data-queue) preselects a topic.
  const wanted = new URLSearchParams(window.location.search).get("queue");
  if (wanted) {
    const q = state.queues.find((x) => x.id === wanted || x.name.toLowerCase() === wanted.toLowerCase());
    if (q) select.value = q.id;
  }
  updateQueueHint();
}

function updateQueueHint() {
  const q = state.queuesById.get($("#start-queue").value);
  renderFields($('[data-role="prechat-fields"]'), q);
  const hint = $("#start-queue-hint");
  if (!q) {
    hint.textContent = "";
    $('[data-testid="queue-closed"]').hidden = true;
    $('[data-role="start-parts"]').hidden = false;
    return;
  }
  const parts = [];
  if (q.description) parts.push(q.description);
  const closed = $('[data-testid="queue-closed"]');
  // The queue's away text (CONTRACT-2 "Automatic messages") stands instead of the start form
  // while it is closed or nobody is free; its "Leave a message" is the way on.
  const away = q.open_now === false || (q.agents_available === 0 && Boolean(q.away_text));
  closed.hidden = !away;
  $('[data-role="start-parts"]').hidden = away;
  $('[data-role="queue-closed-text"]').textContent = q.away_text || t("{queue} is closed right now, so no one can chat. Leave a message and we'll reply by e-mail.", { queue: q.name });
  if (away) {
    // The notice above says it; the hint keeps the description only.
  } else if (q.agents_available === 0)
    parts.push(t("No agent is free at the moment. You can wait in the queue, or leave a message."));
  else if (q.agents_available > 0)
    parts.push(tn("{count} agent available", "{count} agents available", q.agents_available));
  hint.textContent = parts.join(" · ");
}

function showLeaveMessage(prefill = "", intro = "") {
  const form = $("#leave-message-form");
  form.hidden = false;
  $("#start-form").hidden = true;
  if (intro) $('[data-role="intro"]', form).textContent = intro;
  if (prefill) {
    form.elements.summary.value = prefill.split("\n")[0].slice(0, 200);
    form.elements.description.value = prefill;
  }
  form.elements.summary.focus();
}

function hideLeaveMessage() {
  $("#leave-message-form").hidden = true;
  $("#start-form").hidden = false;
}

function wireStart() {
  const form = $("#start-form");
  offerNotifications(form);
  $("#start-queue").addEventListener("change", updateQueueHint);
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const queueId = form.elements.queue_id.value;
    const message = form.elements.message.value.trim();
    if (!queueId) {
      showFormError(form, { message: t("Pick a topic.") });
      return;
    }
    if (!message) {
      showFormError(form, { message: t("Write a first message so the agent knows how to help.") });
      form.elements.message.focus();
      return;
    }
    const queue = state.queuesById.get(queueId);
    if (queue && queue.open_now === false) {
      showLeaveMessage(message, t("{queue} is closed right now. Leave a message and we'll get back to you.", { queue: queue.name }));
      return;
    }
    const box = $('[data-role="prechat-fields"]');
    const { answers, error } = collectFields(box, queue);
    if (error) {
      showFormError(form, null);
      fieldError(box, error.key, error.message);
      return;
    }
    // Asked inside the click (browsers want a gesture), before anything is awaited.
    if (form.elements.notify.checked) askForNotifications();
    const btn = $('[data-testid="start-chat"]', form);
    setBusy(btn, true);
    showFormError(form, null);
    try {
      const { existing } = await state.session.start(queueId, message, { fields: answers, context: pageContext() });
      if (existing) toast({ title: t("You already have an open chat"), text: t("We've taken you back to it.") });
      else {
        form.elements.message.value = "";
        renderFields(box, queue);
      }
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_field" && fieldError(box, err.details?.field, err.message)) {
        // shown next to its field
      } else if (err instanceof ApiError && err.code === "queue_closed") {
        showLeaveMessage(message, t("{reason} Leave a message and we'll get back to you.", { reason: err.message }));
      } else {
        showFormError(form, err);
      }
    } finally {
      setBusy(btn, false);
    }
  });
  document.querySelector('[data-action="show-leave-message"]').addEventListener("click", () =>
    showLeaveMessage(form.elements.message.value.trim()),
  );
  document.querySelector('[data-action="closed-leave-message"]').addEventListener("click", () => {
    const q = state.queuesById.get(form.elements.queue_id.value);
    const intro = q && q.open_now === false ? t("{queue} is closed right now. Leave a message and we'll get back to you.", { queue: q.name }) : "";
    showLeaveMessage(form.elements.message.value.trim(), intro);
  });
  document.querySelector('[data-action="hide-leave-message"]').addEventListener("click", hideLeaveMessage);

  const lm = $("#leave-message-form");
  lm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const summary = lm.elements.summary.value.trim();
    if (!summary) {
      showFormError(lm, { message: t("Give your message a short summary.") });
      lm.elements.summary.focus();
      return;
    }
    const body = { summary, description: lm.elements.description.value.trim() };
    const team = $("#start-queue").value;
    if (team) body.team_id = team;
    await submitForm(lm, async () => {
      const req = await api.post("/requests", body);
      lm.reset();
      hideLeaveMessage();
      toast({
        title: t("Message received — {reference}", { reference: req.reference }),
        text: t("We'll get back to you by e-mail. Follow it under My requests."),
        kind: "success",
        timeout: 10000,
      });
      loadRequests();
    });
  });
}

// ------------------------------------------------------------------ chat

function positionText(position, wait) {
  if (!position) return t("You are in the queue");
  if (wait !== null && wait !== undefined && Number.isFinite(wait)) {
    const mins = Math.max(1, Math.round(wait / 60));
    return tn("You are number {position} in the queue, about {count} minute", "You are number {position} in the queue, about {count} minutes", mins, { position: formatNumber(position) });
  }
  return t("You are number {position} in the queue, a few minutes", { position: formatNumber(position) });
}

function setPosition(position, wait) {
  $('[data-testid="queue-position"]').textContent = positionText(position, wait);
}

function renderChatHeader() {
  const chat = state.chat;
  const q = queueName(chat.queue_id);
  $('[data-role="chat-title"]').textContent = chat.agent
    ? t("Chat with {name}", { name: chat.agent.name })
    : chat.status === "waiting"
      ? t("Waiting for an agent")
      : t("Your chat");
  $('[data-role="chat-subtitle"]').textContent = [chat.reference, q, formatDateTime(chat.created_at)]
    .filter(Boolean)
    .join(" · ");
  statusBadge($('[data-testid="chat-status"]'), chat.status);
  const open = isOpenStatus(chat.status);
  const leave = $('[data-testid="leave-chat"]');
  leave.hidden = !open;
  leave.textContent = chat.status === "waiting" ? t("Cancel and leave") : t("Leave chat");
  $('[data-role="waiting"]').hidden = chat.status !== "waiting";
  if (chat.status === "waiting") setPosition(chat.position, chat.estimated_wait_s);
  $('[data-role="composer-wrap"]').hidden = !open;
  state.session.composer.setEnabled(open);
  const after = $('[data-role="after"]');
  const wasHidden = after.hidden;
  after.hidden = open;
  if (!open && wasHidden) {
    renderAfter();
    state.session.conv.scrollToBottom();
  }
}

function renderAfter() {
  const chat = state.chat;
  $('[data-action="email-transcript"]').hidden = !boot.mail || !me.email;
  $('[data-action="email-transcript"]').disabled = false;
  $('[data-role="email-transcript-status"]').textContent = "";
  const expired = state.events.find((e) => e.type === "chat.expired");
  $('[data-role="expired-notice"]').hidden = !(expired && expired.data?.reason === "no_agent");
  $('[data-role="download-transcript"]').href = `/api/v1/chats/${chat.id}/transcript`;
  $('[data-role="print-transcript"]').href = `/transcript/${chat.id}`;
  $('[data-role="download-transcript"]').setAttribute("download", `${chat.reference || "chat"}-transcript.txt`);
  const rated = state.events.find((e) => e.type === "chat.rated");
  const score = rated?.data?.score ?? chat.rating_score ?? chat.rating?.score;
  if (score) showRated(score);
  else {
    $("#rating-form").hidden = false;
    $('[data-role="rated"]').hidden = true;
  }
  loadRequests();
}

async function emailTranscript() {
  const btn = $('[data-action="email-transcript"]');
  const status = $('[data-role="email-transcript-status"]');
  if (!state.chat) return;
  setBusy(btn, true, t("Sending…"));
  status.className = "small";
  try {
    const res = await api.post(`/chats/${state.chat.id}/transcript/email`, {});
    status.textContent = t("On its way to {email}. It may take a minute to arrive.", { email: res?.to || me.email });
    status.className = "small form-success";
  } catch (err) {
    status.textContent =
      err instanceof ApiError && err.code === "mail_not_configured"
        ? t("E-mail isn't set up on this help desk, so we can't send it. Use Download instead.")
        : t("Could not send it: {reason}", { reason: err.message });
    status.className = "small form-error";
  } finally {
    setBusy(btn, false);
  }
}

function showRated(score) {
  $("#rating-form").hidden = true;
  const box = $('[data-role="rated"]');
  box.hidden = false;
  box.textContent = t("Thanks for your feedback — you rated this chat {score}/5.", { score: formatNumber(score) });
}

/** What the portal does with an event besides what every customer chat does. */
function onEvent(ev, { initial, changed }) {
  if (ev.type === "chat.expired") {
    const notice = $('[data-role="expired-notice"]');
    notice.hidden = ev.data?.reason !== "no_agent";
    if (!notice.hidden && !initial) setTimeout(() => notice.scrollIntoView({ block: "nearest" }), 50);
  }
  if ((ev.type === "chat.moved" || ev.type === "chat.requeued") && changed) {
    state.chat.position = null;
    refreshPosition();
  }
  if (ev.type === "request.raised") loadRequests();
  if (ev.type === "file.shared" && ev.actor?.id !== me.id && !initial) {
    toast({
      title: ev.data?.attachment?.thumbnail_url
        ? t("{name} sent you an image", { name: ev.actor?.name || t("Support") })
        : t("{name} sent you a file", { name: ev.actor?.name || t("Support") }),
      text: ev.data?.attachment?.filename || "",
      testid: "file-notification",
    });
  }
}

async function refreshPosition() {
  const chat = state.chat;
  try {
    const fresh = await api.get(`/chats/${chat.id}`);
    if (state.chat !== chat) return;
    if (fresh.status === "waiting" && chat.status === "waiting") setPosition(fresh.position, fresh.estimated_wait_s);
  } catch {
    /* the live position frame will follow */
  }
}

/** A chat is about to be shown: reset what belonged to the previous one. */
function onOpen() {
  $('[data-role="transcript"]').hidden = true;
  $('[data-role="transcript"]').textContent = "";
  $('[data-action="read-transcript"]').setAttribute("aria-expanded", "false");
  $('[data-role="after"]').hidden = true;
  $("#rating-form").reset();
  showFormError($("#rating-form"), null);
  show("chat");
}

function openChat(chat) {
  state.session.open(chat);
}

function closeChatView() {
  state.session.close();
  show("start");
  loadHistory();
  $("#start-message").focus();
}

function wireChat() {
  state.session = new CustomerChat($("#chat-view"), {
    queueName,
    remember,
    render: renderChatHeader,
    onOpen,
    onEvent,
    onPosition: setPosition,
  });
  state.session.attach(state.rt, me);

  $('[data-testid="leave-chat"]').addEventListener("click", async (e) => {
    const btn = e.currentTarget;
    btn.disabled = true;
    try {
      await state.session.leave();
    } catch (err) {
      toast({ title: t("Could not leave the chat"), text: err.message, kind: "error" });
    } finally {
      btn.disabled = false;
    }
  });

  $("#rating-form").addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const chat = state.chat;
    const score = Number(form.elements.score.value);
    const comment = form.elements.comment.value.trim();
    const body = { score };
    if (comment) body.comment = comment;
    await submitForm(form, async () => {
      await api.post(`/chats/${chat.id}/rating`, body);
      showRated(score);
    }, $('[data-testid="rating-submit"]', form));
  });

  $('[data-action="read-transcript"]').addEventListener("click", async (e) => {
    const btn = e.currentTarget;
    const pre = $('[data-role="transcript"]');
    const err = $('[data-role="transcript-error"]');
    if (!pre.hidden) {
      pre.hidden = true;
      btn.setAttribute("aria-expanded", "false");
      btn.textContent = t("Read transcript");
      return;
    }
    btn.disabled = true;
    err.textContent = "";
    try {
      const text = await api.get(`/chats/${state.chat.id}/transcript`);
      pre.textContent = typeof text === "string" ? text : JSON.stringify(text, null, 2);
      pre.hidden = false;
      btn.setAttribute("aria-expanded", "true");
      btn.textContent = t("Hide transcript");
    } catch (e2) {
      err.textContent = e2.message;
    } finally {
      btn.disabled = false;
    }
  });

  $('[data-action="new-chat"]').addEventListener("click", closeChatView);
  $('[data-action="email-transcript"]').addEventListener("click", emailTranscript);
  $('[data-action="expired-leave-message"]').addEventListener("click", () => {
    const first = state.events.find((e) => e.type === "message.posted" && e.actor?.id === me.id)?.data?.text || "";
    const queueId = state.chat?.queue_id;
    closeChatView();
    if (queueId && state.queuesById.has(queueId)) {
      $("#start-queue").value = queueId;
      updateQueueHint();
    }
    showLeaveMessage(first, t("No agent was free in time. Leave a message and we'll get back to you by e-mail."));
  });

  state.rt.on("state", (s) => {
    const notice = $('[data-role="conn-notice"]');
    if (s === "open") notice.hidden = true;
    else if (s === "closed" && state.rt.everOpened) {
      notice.hidden = false;
      notice.textContent = t("Connection lost — reconnecting. Your messages will be sent as soon as we're back.");
    }
  });
}

// ------------------------------------------------------------------ requests

// Loads overlap (the page's first one, a link's, a refresh): only the latest one's answer is
// drawn. Requests asked to open by any load wait in `requestsToOpen` until a list is drawn; the
// last one asked is scrolled to.
const requestsLoad = latestOnly();
const requestsToOpen = new Set();
let requestToShow = null;

async function loadRequests(expand = null) {
  const list = $('[data-testid="my-requests"]');
  const empty = $('[data-role="requests-empty"]');
  const current = requestsLoad();
  // A button's click handler passes its event here, not a reference.
  if (typeof expand === "string") {
    requestsToOpen.add(expand);
    requestToShow = expand;
  }
  let items;
  try {
    items = await getAll("/requests", 100);
  } catch (err) {
    if (!current()) return;
    list.replaceChildren(h("li", { class: "alert alert--error" }, t("Could not load your requests: {reason}", { reason: err.message })));
    empty.hidden = true;
    return;
  }
  if (!current()) return;
  const open = new Set(
    Array.from(list.querySelectorAll('[data-testid="request-row"][data-expanded="true"]'), (el) => el.dataset.reference),
  );
  for (const reference of requestsToOpen) open.add(reference);
  const show = requestToShow;
  requestsToOpen.clear();
  requestToShow = null;
  list.replaceChildren(...items.map((r) => requestRow(r, open.has(r.reference))));
  empty.hidden = items.length > 0;
  if (show) list.querySelector(`[data-reference="${CSS.escape(show)}"]`)?.scrollIntoView({ block: "start" });
}

/** `#requests/SR-000042` (the links in our e-mails) opens that request under My requests. */
function hashReference() {
  const m = /^#requests\/(SR-\d+)$/.exec(decodeURIComponent(window.location.hash));
  return m ? m[1] : null;
}

function requestRow(r, expanded) {
  const detailId = `req-${r.reference}`;
  const statusEl = h("span", {});
  statusBadge(statusEl, r.status, REQUEST_STATUS);
  const head = h(
    "button",
    { class: "request-row__head", type: "button", "aria-expanded": "false", "aria-controls": detailId },
    h("span", { class: "badge badge--ref" }, r.reference),
    h("span", { class: "request-row__summary" }, r.summary),
    statusEl,
    h("span", { class: "request-row__when" }, t("Updated {when}", { when: relative(r.updated_at || r.created_at) })),
  );
  const detail = h("div", { class: "request-detail", id: detailId, hidden: true });
  const row = h(
    "li",
    { class: "request-row", "data-testid": "request-row", "data-reference": r.reference, "data-status": r.status },
    head,
    detail,
  );
  const toggle = async () => {
    const open = detail.hidden;
    detail.hidden = !open;
    head.setAttribute("aria-expanded", String(open));
    row.dataset.expanded = String(open);
    if (open) await renderRequestDetail(r, detail);
  };
  head.addEventListener("click", toggle);
  if (expanded) toggle();
  return row;
}

async function renderRequestDetail(r, detail) {
  detail.replaceChildren(h("p", { class: "muted small" }, t("Loading…")));
  let timeline = [];
  try {
    const res = await api.get(`/requests/${encodeURIComponent(r.reference)}/timeline`);
    timeline = Array.isArray(res) ? res : res.items || [];
  } catch (err) {
    detail.replaceChildren(h("p", { class: "form-error" }, err.message));
    return;
  }
  const items = timeline.map((t) => h("li", {}, h("span", { class: "timeline__text" }, timelineText(t)), h("span", { class: "timeline__when" }, formatDateTime(t.at))));
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    h("p", { class: "form-error", role: "alert", "data-role": "error" }),
    h(
      "div",
      { class: "field" },
      h("label", { for: `c-${r.reference}` }, t("Add a comment")),
      h("textarea", { class: "textarea", id: `c-${r.reference}`, name: "text", maxlength: "10000", "data-testid": "request-comment" }),
    ),
    h("div", { class: "form-actions form-actions--start" }, h("button", { class: "btn btn--primary btn--sm", type: "submit" }, t("Send comment"))),
  );
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = form.elements.text.value.trim();
    if (!text) return;
    try {
      await api.post(`/requests/${encodeURIComponent(r.reference)}/comments`, { text });
      await renderRequestDetail(r, detail);
    } catch (err) {
      showFormError(form, err);
    }
  });
  detail.replaceChildren(
    r.description ? requestDescription(r) : null,
    h("ol", { class: "timeline", "aria-label": t("Updates") }, items.length ? items : h("li", {}, t("No updates yet."))),
    ["new", "open", "in_progress", "on_hold", "resolved"].includes(r.status) ? form : null,
    statusActions(r),
  );
}

/** The whole description (a raised chat's is its transcript), folded to a few lines when long;
 * cutting the text itself would leave the customer no way to read the rest of their request. */
function requestDescription(r) {
  const id = `desc-${r.reference}`;
  const text = h("p", { class: "small timeline__text request-desc", id, "data-testid": "request-description" }, r.description);
  if (r.description.length <= 600 && r.description.split("\n").length <= 8) return text;
  text.classList.add("request-desc--folded");
  const toggle = h("button", { class: "btn btn--ghost btn--sm", type: "button", "aria-expanded": "false", "aria-controls": id, "data-testid": "request-description-toggle" }, t("Show the whole description"));
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    text.classList.toggle("request-desc--folded", !open);
    toggle.textContent = open ? t("Show less") : t("Show the whole description");
  });
  return h("div", { class: "request-desc-box" }, text, toggle);
}

/** Customers may cancel their own new/open request and reopen a resolved one. */
function statusActions(r) {
  let button = null;
  if (r.status === "new" || r.status === "open") {
    button = h("button", { class: "btn btn--sm btn--danger-ghost", type: "button", "data-testid": "request-cancel" }, t("Cancel this request"));
    button.addEventListener("click", () => changeStatus(r, "cancelled", button));
  } else if (r.status === "resolved") {
    button = h("button", { class: "btn btn--sm", type: "button", "data-testid": "request-reopen" }, t("Not solved? Reopen"));
    button.addEventListener("click", () => changeStatus(r, "open", button));
  }
  if (!button) return null;
  return h("div", { class: "form-actions form-actions--start request-status-actions" }, button, h("p", { class: "form-error", role: "alert", "data-role": "status-error" }));
}

async function changeStatus(r, status, button) {
  button.disabled = true;
  try {
    await api.patch(`/requests/${encodeURIComponent(r.reference)}`, { status });
    const title = status === "cancelled" ? t("{reference} cancelled", { reference: r.reference }) : t("{reference} reopened", { reference: r.reference });
    toast({ title, kind: "success", timeout: 3000 });
    await loadRequests(r.reference);
  } catch (err) {
    button.disabled = false;
    const box = button.parentElement.querySelector('[data-role="status-error"]');
    if (box) box.textContent = err.message;
  }
}

function timelineText(entry) {
  const who = entry.actor?.name || t("Support");
  const d = entry.data || {};
  switch (entry.type) {
    case "created":
      return t("{who} created the request", { who });
    case "comment":
      return `${who}: ${d.text || ""}`;
    case "status_changed":
      return t("Status changed to {status}", { status: REQUEST_STATUS[d.to || d.status] || d.to || d.status || "?" });
    case "assigned":
      return d.assignee?.name ? t("Assigned to {name}", { name: d.assignee.name }) : t("Assignment changed");
    case "priority_changed":
      return t("Priority changed to {priority}", { priority: PRIORITY[d.to || d.priority] || d.to || d.priority || "?" });
    case "team_changed":
      return t("Moved to another team");
    case "chat_linked":
      return t("Linked to chat {reference}", { reference: d.reference || d.chat_reference || "" }).trim();
    default:
      return `${who}: ${entry.type}`;
  }
}

// ------------------------------------------------------------------ history

const historyLoad = latestOnly();

async function loadHistory() {
  const current = historyLoad();
  let chats;
  try {
    chats = await getAll("/chats", 20);
  } catch {
    return;
  }
  if (!current()) return;
  const closed = chats.filter((c) => !isOpenStatus(c.status)).slice(0, 10);
  const section = $("#history-section");
  section.hidden = closed.length === 0;
  $('[data-role="history"]').replaceChildren(
    ...closed.map((c) => {
      const badge = h("span", {});
      statusBadge(badge, c.status);
      const btn = h("button", { class: "btn btn--sm", type: "button" }, t("View"));
      btn.addEventListener("click", async () => {
        try {
          openChat(await api.get(`/chats/${c.id}`));
          window.scrollTo({ top: 0 });
        } catch (err) {
          toast({ title: t("Could not open the chat"), text: err.message, kind: "error" });
        }
      });
      return h(
        "li",
        { class: "history-row" },
        h("div", { class: "history-row__main" }, c.subject || queueName(c.queue_id) || c.reference, h("span", {}, [c.reference, formatDateTime(c.created_at)].join(" · "))),
        badge,
        btn,
      );
    }),
  );
  return chats;
}

// ------------------------------------------------------------------ search

/** Customers search their own chats and requests (GET /search finds only those). */
function wireSearch() {
  const form = $('[data-role="portal-search"]');
  const list = $('[data-testid="portal-search-results"]');
  const status = $('[data-role="portal-search-status"]');
  const card = $('[data-role="portal-search-card"]');
  const searchRun = latestOnly();
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const current = searchRun();
    const q = form.elements.q.value.trim();
    const terms = queryTerms(q);
    if (!terms.length) {
      card.hidden = true;
      status.textContent = q ? t("Type a word to search for.") : "";
      return;
    }
    try {
      const page = await api.get(`/search?${new URLSearchParams({ q, limit: "10" })}`);
      if (!current()) return; // a newer search is on its way
      const items = page.items || [];
      list.replaceChildren(...items.map((item) => searchRow(item, terms)));
      card.hidden = items.length === 0;
      status.textContent = items.length ? (page.next ? tn("More than {count} found", "More than {count} found", items.length) : tn("{count} found", "{count} found", items.length)) : t("Nothing found for “{query}”.", { query: q });
    } catch (err) {
      if (current()) status.textContent = err.message;
    }
  });
}

function searchRow(item, terms) {
  const btn = h("button", { class: "btn btn--sm", type: "button", "data-testid": "portal-search-open" }, t("View"));
  btn.addEventListener("click", async () => {
    if (item.kind === "request") {
      window.location.hash = `#requests/${item.reference}`;
      return;
    }
    try {
      openChat(await api.get(`/chats/${item.chat_id}`));
      window.scrollTo({ top: 0 });
    } catch (err) {
      toast({ title: t("Could not open the chat"), text: err.message, kind: "error" });
    }
  });
  return h(
    "li",
    { class: "history-row", "data-testid": "portal-search-result", "data-kind": item.kind },
    h("div", { class: "history-row__main" }, h("p", { class: "search-row__snippet" }, highlighted(item.snippet, terms)), h("span", {}, [KIND[item.kind], item.reference, formatDateTime(item.at)].join(" · "))),
    btn,
  );
}

// ------------------------------------------------------------------ boot

async function main() {
  bindLanguageSwitchers({ save: me ? (code) => api.patch("/me", { locale: code }) : null });
  if (!me) {
    wireAuthForms();
    return;
  }
  state.rt = new Realtime();
  wireLogout(() => state.rt.stop());
  state.rt.on("signed-out", () => window.location.reload());
  wireStart();
  wireChat();
  wireSearch();
  $('[data-action="refresh-requests"]').addEventListener("click", loadRequests);
  state.rt.start();

  let chats = [];
  try {
    const [queues, list] = await Promise.all([api.get("/queues"), getAll("/chats", 50)]);
    state.queues = (queues.items || []).filter((q) => q.active !== false);
    state.queuesById = new Map(state.queues.map((q) => [q.id, q]));
    chats = list;
  } catch (err) {
    $("#portal-loading").replaceChildren(h("div", { class: "alert alert--error", role: "alert" }, t("Could not load the portal: {reason}", { reason: err.message })));
    return;
  }
  renderQueues();
  loadRequests(hashReference());
  window.addEventListener("hashchange", () => hashReference() && loadRequests(hashReference()));

  // Back from an away mail's link (/?chat=…): that chat, if it is among the customer's.
  const linked = new URLSearchParams(window.location.search).get("chat");
  if (linked) window.history.replaceState(null, "", "/");
  if (!(await state.session.recover(chats, linked || remembered(), new Set(chats.map((c) => c.id))))) show("start");
  const closed = chats.filter((c) => !isOpenStatus(c.status));
  if (closed.length) loadHistory();
}

main();
