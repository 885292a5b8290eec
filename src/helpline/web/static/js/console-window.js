// The console's chat window: the conversation of the chat in front, its composer (drafts,
// notes, snippets), the accept/observe/closed bars and the chat options (solve, move, cancel,
// raise a request, join and part), each enabled by what the transition table lets me do.

import { formatNumber, t, tn } from "./i18n.js";
import { ApiError, api } from "./api.js";
import { stopRepeat } from "./alerts.js";
import { Composer } from "./composer.js";
import { Conversation, transcriptText } from "./conversation.js";
import { renderCustomerPanel } from "./console-customer.js";
import { scheduleRender } from "./console-list.js";
import {
  DRAFTS_KEY,
  OPEN_KEY,
  chatEvents,
  customerName,
  dropOfferToast,
  isMine,
  mayDo,
  me,
  queueName,
  save,
  state,
  syncSubscription,
  upsert,
} from "./console-store.js";
import { SnippetPicker } from "./snippets.js";
import { $, $$, CHAT_STATUS, formatDateTime, formatDuration, h, isOpenStatus, openDialog, setBusy, showFormError, since, submitForm, statusBadge, toast, toastError } from "./ui.js";
import { chatClock, showSla } from "./sla.js";

// Availability in words, inside sentences ("You are away.").
const AVAILABILITY = { available: t("available"), away: t("away"), offline: t("offline") };

export function failPending(chatId) {
  for (const p of state.rt.pending(chatId)) {
    state.rt.discard(p.client_id);
    if (chatId === state.shownId) state.conv.failPending(p.client_id, t("the chat has ended"));
  }
}

export function saveDraft() {
  if (!state.shownId || !state.composer) return;
  const text = state.composer.value;
  if (text) state.drafts[state.shownId] = text;
  else delete state.drafts[state.shownId];
  save(DRAFTS_KEY, state.drafts);
}

export async function openChat(id) {
  stopRepeat(id);
  let chat = state.chats.get(id);
  if (!chat) {
    try {
      chat = upsert(await api.get(`/chats/${id}`));
    } catch (err) {
      toastError(err, t("Could not open the chat"));
      return;
    }
  }
  if (!state.openIds.includes(id)) {
    state.openIds.push(id);
    save(OPEN_KEY, state.openIds);
  }
  state.activeId = id;
  state.unread.delete(id);
  syncSubscription(chat);
  $(".console-layout").dataset.view = "chat";
  if (state.offerToast?.chatId === id) dropOfferToast(id);
  $(`#toasts [data-key="msg-${CSS.escape(id)}"]`)?.remove();
  renderWindow(true);
  scheduleRender();
}

export function closeTab(id) {
  if (id === state.shownId) saveDraft();
  const idx = state.openIds.indexOf(id);
  if (idx >= 0) state.openIds.splice(idx, 1);
  save(OPEN_KEY, state.openIds);
  const chat = state.chats.get(id);
  if (chat) syncSubscription(chat);
  if (state.activeId === id) {
    const next = state.openIds[Math.min(idx, state.openIds.length - 1)];
    state.activeId = null;
    if (next) openChat(next);
    else {
      state.shownId = null;
      renderWindow(true);
      $(".console-layout").dataset.view = "list";
    }
  }
  scheduleRender();
}

export function setNotice(text, kind = "info") {
  const n = $('[data-role="chat-notice"]');
  n.hidden = !text;
  n.className = `chat-notice alert alert--${kind}`;
  n.textContent = text || "";
}

export function hideTyping() {
  clearTimeout(state.typingTimer);
  $('.chat-window [data-testid="typing-indicator"]').hidden = true;
}

/** How far the customer read comes with the chat itself (lists carry none): read once. */
async function loadReads(chat) {
  if (chat.read) return;
  try {
    const fresh = await api.get(`/chats/${encodeURIComponent(chat.id)}`);
    chat.read = fresh.read;
    if (state.shownId === chat.id) state.conv.setSeen(chat.read?.customer || 0);
  } catch {
    /* the read frames still come */
  }
}

let readTimer = null;

/** Read receipts: say how far the shown chat was seen, while the console is visible; once
 * the events of the moment are in. */
export function readShown() {
  clearTimeout(readTimer);
  readTimer = setTimeout(() => {
    const id = state.shownId;
    if (!id || id !== state.activeId || document.visibilityState !== "visible") return;
    const list = chatEvents(id);
    if (list.length && state.rt.isSubscribed(id)) state.rt.read(id, list[list.length - 1].seq);
  }, 200);
}

/** Render the chat window for the active chat. full: rebuild the conversation (chat switch). */
export function renderWindow(full) {
  const win = $('[data-role="chat-window"]');
  const chat = state.chats.get(state.activeId);
  $('[data-role="workspace-empty"]').hidden = Boolean(chat);
  win.hidden = !chat;
  if (!chat) return;
  const switched = full || state.shownId !== chat.id;
  if (switched) {
    if (state.shownId && state.shownId !== chat.id) saveDraft();
    state.shownId = chat.id;
    state.conv.clear();
    state.conv.setSeen(chat.read?.customer || 0);
    state.conv.addAll(chatEvents(chat.id));
    for (const p of state.rt.pending(chat.id)) state.conv.addPending(p);
    loadReads(chat);
    readShown();
    state.composer.value = state.drafts[chat.id] || "";
    setNotice(null);
    hideTyping();
    setNoteMode(false);
    $(".chat-options").dataset.open = "false";
    $('[data-action="toggle-options"]').setAttribute("aria-expanded", "false");
  }
  renderCustomerPanel(chat, switched);
  $('[data-role="chat-title"]').textContent = customerName(chat);
  $('[data-role="chat-ref"]').textContent = chat.reference || "";
  $('[data-role="chat-queue"]').textContent = queueName(chat.queue_id);
  statusBadge($('.chat-window [data-testid="chat-status"]'), chat.status);
  const ref = state.requests.get(chat.id);
  const refEl = $('[data-role="chat-request"]');
  refEl.hidden = !ref;
  refEl.textContent = ref || "";
  $('[data-role="chat-agent"]').textContent = chat.agent ? `· ${isMine(chat) ? t("you") : chat.agent.name}` : "";
  showSla($('[data-role="chat-sla"]'), chatClock(chat));

  const gone = Boolean(chat.gone);
  const open = isOpenStatus(chat.status) && !gone;
  // Buttons from the transition table's "who may do what from which status".
  $('[data-testid="mark-solved"]').disabled = !mayDo("solve", chat);
  $('[data-testid="move-queue"]').disabled = !mayDo("move", chat);
  $('[data-testid="transfer-chat"]').disabled = !mayDo("transfer", chat);
  $('[data-testid="cancel-chat"]').disabled = !mayDo("cancel", chat);
  $('[data-testid="raise-request"]').disabled = !mayDo("raise_request", chat);

  const acceptable = mayDo("accept", chat);
  $('[data-role="accept-bar"]').hidden = !acceptable;
  if (acceptable) {
    const waited = formatDuration(since(chat.waiting_since || chat.created_at));
    $('[data-role="accept-text"]').textContent = t("{name} has been waiting {time} in {queue}.", { name: customerName(chat), time: waited, queue: queueName(chat.queue_id) || t("the queue") });
  }
  const canTalk = mayDo("agent_message", chat);
  $('[data-role="composer-wrap"]').hidden = !canTalk;
  state.composer.setEnabled(canTalk);
  const joined = state.joined.has(chat.id);
  const observe = !gone && !isMine(chat) && (mayDo("join", chat) || mayDo("part", chat));
  $('[data-role="observe-bar"]').hidden = !observe;
  if (observe) {
    $('[data-role="observe-text"]').textContent = joined
      ? t("{name} owns this chat; you joined to help.", { name: chat.agent?.name || t("A colleague") })
      : t("{name} is handling this chat.", { name: chat.agent?.name || t("A colleague") });
    $('[data-testid="join-chat"]').hidden = joined;
    $('[data-testid="part-chat"]').hidden = !joined;
  }
  const closedBar = $('[data-role="closed-bar"]');
  closedBar.hidden = open;
  $('[data-role="transcript-link"]').hidden = gone;
  const transcript = $('[data-role="options-transcript"]');
  transcript.hidden = gone;
  transcript.href = `/api/v1/chats/${chat.id}/transcript`;
  transcript.setAttribute("download", `${chat.reference || "chat"}-transcript.txt`);
  if (gone) {
    const q = queueName(chat.queue_id);
    $('[data-role="closed-text"]').textContent = (q ? t("This chat moved to {queue}, a queue you're not in; its agents take it from here.", { queue: q }) : t("This chat moved to a queue you're not in; its agents take it from here."));
  } else if (!open) {
    const status = CHAT_STATUS[chat.status].toLowerCase();
    $('[data-role="closed-text"]').textContent = chat.closed_at
      ? t("This chat was {status} on {when}.", { status, when: formatDateTime(chat.closed_at) })
      : t("This chat was {status}.", { status });
    const link = $('[data-role="transcript-link"]');
    link.href = `/api/v1/chats/${chat.id}/transcript`;
    link.setAttribute("download", `${chat.reference || "chat"}-transcript.txt`);
  }
}

export function setNoteMode(on) {
  const toggle = $('[data-role="note-toggle"]');
  toggle.checked = on;
  $('.chat-window [data-role="composer"]').classList.toggle("composer--note", on);
  $('.chat-window [data-testid="message-input"]').placeholder = on ? t("Write an internal note (agents only)…") : t("Write a message…");
}

/** Why this agent cannot accept now (checked here so no request is made to fail), or null. */
export function cannotAccept() {
  if (me.role !== "agent") return null;
  const status = $("#availability").value;
  if (status !== "available") return t("You are {status}. Set your status to Available to accept chats.", { status: AVAILABILITY[status] || status });
  const mine = Array.from(state.chats.values()).filter((c) => isMine(c) && c.status === "in_progress").length;
  if (mine >= me.max_chats)
    return tn("You already have {count} chat in progress, your limit. Finish one to accept another.", "You already have {count} chats in progress, your limit. Finish one to accept another.", mine);
  return null;
}

export async function accept() {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  const why = cannotAccept();
  if (why) {
    setNotice(why, "warning");
    return;
  }
  const btn = $('[data-testid="accept-chat"]');
  setBusy(btn, true);
  state.accepting = chat.id;
  try {
    const updated = upsert(await api.post(`/chats/${chat.id}/accept`, {}));
    dropOfferToast(updated.id);
    setNotice(null);
    renderWindow(false);
    scheduleRender();
    state.composer.focus();
  } catch (err) {
    if (err instanceof ApiError && err.code === "already_accepted") {
      try {
        upsert(await api.get(`/chats/${chat.id}`));
      } catch {
        /* keep what we have */
      }
      const c = state.chats.get(chat.id);
      setNotice(t("Too late — {name} already accepted this chat.", { name: c?.agent?.name || t("a colleague") }), "warning");
      renderWindow(false);
      scheduleRender();
    } else {
      setNotice(err.message, "error");
    }
  } finally {
    state.accepting = null;
    setBusy(btn, false);
  }
}

export async function solve() {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  const btn = $('[data-testid="mark-solved"]');
  setBusy(btn, true);
  try {
    upsert(await api.post(`/chats/${chat.id}/solve`, {}));
    failPending(chat.id);
    renderWindow(false);
    scheduleRender();
    toast({ title: t("{reference} marked as solved", { reference: chat.reference }), kind: "success", timeout: 4000 });
  } catch (err) {
    setNotice(err.message, "error");
  } finally {
    setBusy(btn, false);
    renderWindow(false);
  }
}

export function openMove() {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  const dialog = $("#move-dialog");
  const select = $("#move-queue-select");
  const others = state.queues.filter((q) => q.id !== chat.queue_id);
  select.replaceChildren(...others.map((q) => h("option", { value: q.id }, q.name)));
  $("#move-note").value = "";
  $('[data-testid="move-queue-confirm"]').disabled = others.length === 0;
  openDialog(dialog);
  if (!others.length) showFormError($("form", dialog), { message: t("There is no other queue to move this chat to.") });
  select.focus();
}

export async function submitMove(e) {
  e.preventDefault();
  const chat = state.chats.get(state.activeId);
  const form = e.currentTarget;
  const body = { queue_id: $("#move-queue-select").value };
  const note = $("#move-note").value.trim();
  if (note) body.note = note;
  await submitForm(
    form,
    async () => {
      upsert(await api.post(`/chats/${chat.id}/move`, body));
      $("#move-dialog").close("done");
      failPending(chat.id);
      renderWindow(false);
      scheduleRender();
      toast({ title: t("{reference} moved to {queue}", { reference: chat.reference, queue: queueName(body.queue_id) }), kind: "success", timeout: 4000 });
    },
    $('[data-testid="move-queue-confirm"]'),
  );
}

const STATUS_LABEL = { available: t("Available"), away: t("Away"), offline: t("Offline") };
const WHY_NOT = { owner: t("Has this chat"), not_available: t("Not available"), at_capacity: t("At their chat limit") };

/** One colleague in the transfer picker: a radio, disabled with the reason when they cannot
 * take the chat now. */
function colleagueOption(c) {
  const why = WHY_NOT[c.reason] || null;
  const input = h("input", { type: "radio", name: "transfer-agent", value: c.id, id: `transfer-${c.id}`, disabled: Boolean(why) });
  return h(
    "label",
    {
      class: why ? "agent-option agent-option--off" : "agent-option",
      for: `transfer-${c.id}`,
      "data-testid": "transfer-agent",
      "data-agent-id": c.id,
      "data-reason": c.reason || null,
    },
    input,
    h("span", { class: `dot dot--${c.status}`, "aria-hidden": "true" }),
    h("span", { class: "agent-option__name" }, c.name),
    h("span", { class: "agent-option__meta" }, t("{status} · {chats}/{max} chats", { status: STATUS_LABEL[c.status] || c.status, chats: formatNumber(c.chats), max: formatNumber(c.max_chats) })),
    why ? h("span", { class: "agent-option__why" }, why) : null,
  );
}

export async function openTransfer() {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  const dialog = $("#transfer-dialog");
  const list = $('[data-role="transfer-list"]');
  const confirm = $('[data-testid="transfer-confirm"]');
  $("#transfer-note").value = "";
  list.replaceChildren(h("p", { class: "muted small" }, t("Loading colleagues…")));
  confirm.disabled = true;
  openDialog(dialog);
  let colleagues = [];
  try {
    colleagues = (await api.get(`/chats/${chat.id}/colleagues`)).items || [];
  } catch (err) {
    showFormError($("form", dialog), err);
    list.replaceChildren();
    return;
  }
  list.replaceChildren(...colleagues.map(colleagueOption));
  const free = colleagues.filter((c) => !c.reason);
  confirm.disabled = free.length === 0;
  if (!free.length) {
    showFormError($("form", dialog), { message: t("Nobody in this queue can take the chat now.") });
    if (!colleagues.length) list.replaceChildren(h("p", { class: "muted small" }, t("This queue has no other agents.")));
    $("#transfer-note").focus();
    return;
  }
  $('input[name="transfer-agent"]:not([disabled])', list).focus();
}

export async function submitTransfer(e) {
  e.preventDefault();
  const chat = state.chats.get(state.activeId);
  const form = e.currentTarget;
  const picked = $('input[name="transfer-agent"]:checked', form);
  if (!picked) {
    showFormError(form, { message: t("Pick the colleague to hand the chat to.") });
    $('input[name="transfer-agent"]:not([disabled])', form)?.focus();
    return;
  }
  const body = { agent_id: picked.value };
  const note = $("#transfer-note").value.trim();
  if (note) body.note = note;
  const name = $(".agent-option__name", picked.closest("label"))?.textContent || "a colleague";
  await submitForm(
    form,
    async () => {
      upsert(await api.post(`/chats/${chat.id}/transfer`, body));
      $("#transfer-dialog").close("done");
      failPending(chat.id);
      renderWindow(false);
      scheduleRender();
      toast({ title: t("{reference} handed to {name}", { reference: chat.reference, name }), kind: "success", timeout: 4000, testid: "transfer-done" });
    },
    $('[data-testid="transfer-confirm"]'),
  );
}

export function openCancel() {
  if (!state.chats.get(state.activeId)) return;
  $("#cancel-reason").value = "";
  openDialog($("#cancel-dialog"));
  $("#cancel-reason").focus();
}

export async function submitCancel(e) {
  e.preventDefault();
  const chat = state.chats.get(state.activeId);
  const form = e.currentTarget;
  const reason = $("#cancel-reason").value.trim();
  await submitForm(
    form,
    async () => {
      upsert(await api.post(`/chats/${chat.id}/cancel`, reason ? { reason } : {}));
      $("#cancel-dialog").close("done");
      failPending(chat.id);
      renderWindow(false);
      scheduleRender();
    },
    $('[data-testid="cancel-confirm"]'),
  );
}

export async function openRaise() {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  const dialog = $("#request-dialog");
  const events = chatEvents(chat.id);
  const first = events.find((e) => e.type === "message.posted" && e.actor?.role === "customer");
  const summary = (first?.data?.text || chat.subject || t("Chat {reference}", { reference: chat.reference })).replace(/\s+/g, " ").trim();
  $("#request-summary").value = summary.length > 200 ? `${summary.slice(0, 197)}…` : summary;
  $("#request-priority").value = "medium";
  const team = $("#request-team");
  team.replaceChildren(...state.queues.map((q) => h("option", { value: q.id }, q.name)));
  team.value = chat.queue_id;
  const email = chat.customer?.email ? ` (${chat.customer.email})` : "";
  $('[data-role="request-for"]').textContent = t("For {name}{email} · from chat {reference}", { name: customerName(chat), email, reference: chat.reference });
  const desc = $("#request-description");
  desc.value = transcriptText(events, { me: me.id, staff: true, queueName });
  openDialog(dialog);
  $("#request-summary").focus();
  try {
    const text = await api.get(`/chats/${chat.id}/transcript`);
    if (typeof text === "string" && text.trim() && dialog.open && !desc.dataset.edited) desc.value = text;
  } catch {
    /* keep the transcript built from the events */
  }
}

export async function submitRaise(e) {
  e.preventDefault();
  const chat = state.chats.get(state.activeId);
  const form = e.currentTarget;
  const summary = $("#request-summary").value.trim();
  if (!summary) {
    showFormError(form, { message: t("A request needs a summary.") });
    $("#request-summary").focus();
    return;
  }
  const body = {
    summary,
    description: $("#request-description").value,
    priority: $("#request-priority").value,
  };
  if ($("#request-team").value) body.team_id = $("#request-team").value;
  await submitForm(
    form,
    async () => {
      const req = await api.post(`/chats/${chat.id}/requests`, body);
      state.requests.set(chat.id, req.reference);
      $("#request-dialog").close("done");
      renderWindow(false);
      toast({ title: t("Request {reference} raised", { reference: req.reference }), text: req.summary, kind: "success", timeout: 8000, testid: "request-raised-notification" });
    },
    $('[data-testid="request-submit"]'),
  );
}

export async function joinOrPart(action) {
  const chat = state.chats.get(state.activeId);
  if (!chat) return;
  try {
    await api.post(`/chats/${chat.id}/${action}`, {});
    if (action === "join") state.joined.add(chat.id);
    else state.joined.delete(chat.id);
    syncSubscription(chat);
    renderWindow(false);
  } catch (err) {
    setNotice(err.message, "error");
  }
}

/** The window's buttons, dialogs, composer and snippet picker. */
export function wireWindow() {
  $('[data-action="accept"]').addEventListener("click", accept);
  $('[data-action="solve"]').addEventListener("click", solve);
  $('[data-action="move"]').addEventListener("click", openMove);
  $('[data-action="transfer"]').addEventListener("click", openTransfer);
  $('[data-action="cancel"]').addEventListener("click", openCancel);
  $('[data-action="raise"]').addEventListener("click", openRaise);
  $('[data-action="join"]').addEventListener("click", () => joinOrPart("join"));
  $('[data-action="part"]').addEventListener("click", () => joinOrPart("part"));
  $('[data-action="back"]').addEventListener("click", () => {
    saveDraft();
    $(".console-layout").dataset.view = "list";
  });
  const options = $(".chat-options");
  const toggle = $('[data-action="toggle-options"]');
  const setOptionsOpen = (open) => {
    options.dataset.open = String(open);
    toggle.setAttribute("aria-expanded", String(open));
  };
  toggle.addEventListener("click", () => setOptionsOpen(options.dataset.open !== "true"));
  $('[data-role="options-menu"]').addEventListener("click", () => setOptionsOpen(false));
  $('[data-role="options-more"]').addEventListener("click", () => setOptionsOpen(false));
  document.addEventListener("click", (e) => {
    if (options.dataset.open === "true" && !options.contains(e.target)) setOptionsOpen(false);
  });
  $('[data-action="close-tab"]').addEventListener("click", () => state.activeId && closeTab(state.activeId));
  $("#move-dialog form").addEventListener("submit", submitMove);
  $("#transfer-dialog form").addEventListener("submit", submitTransfer);
  $("#cancel-dialog form").addEventListener("submit", submitCancel);
  $("#request-dialog form").addEventListener("submit", submitRaise);
  $("#request-description").addEventListener("input", (e) => {
    e.target.dataset.edited = "1";
  });
  $("#request-dialog").addEventListener("close", () => {
    delete $("#request-description").dataset.edited;
  });
  for (const chip of $$("[data-reason]"))
    chip.addEventListener("click", () => {
      $("#cancel-reason").value = chip.dataset.reason;
      $("#cancel-reason").focus();
    });

  state.conv = new Conversation($('.chat-window [data-testid="message-list"]'), { me: me.id, staff: true, queueName });
  state.composer = new Composer($(".chat-window"), {
    onSend: (text) => {
      const chat = state.chats.get(state.shownId);
      if (!chat || !mayDo("agent_message", chat)) return false;
      if ($('[data-role="note-toggle"]').checked) {
        api.post(`/chats/${chat.id}/notes`, { text }).catch((err) => {
          setNotice(t("Note not saved: {reason}", { reason: err.message }), "error");
          if (!state.composer.value) state.composer.value = text;
        });
        delete state.drafts[chat.id];
        save(DRAFTS_KEY, state.drafts);
        return true;
      }
      const clientId = state.rt.sendMessage(chat.id, text);
      state.conv.addPending({ client_id: clientId, text, at: new Date().toISOString() });
      if (!state.rt.isOpen) state.conv.setPendingStatus(t("Waiting for connection…"));
      delete state.drafts[chat.id];
      save(DRAFTS_KEY, state.drafts);
      return true;
    },
    onTyping: (active) => {
      if (state.shownId && !$('[data-role="note-toggle"]').checked) state.rt.typing(state.shownId, active);
    },
    onInput: () => saveDraft(),
    uploadPath: () => {
      const chat = state.chats.get(state.shownId);
      return chat && mayDo("agent_message", chat) ? `/chats/${chat.id}/files` : null;
    },
  });
  $('[data-role="note-toggle"]').addEventListener("change", (e) => setNoteMode(e.target.checked));
  state.picker = new SnippetPicker({
    input: $("#message-input"),
    button: $('[data-action="snippets"]'),
    list: $('[data-role="snippet-list"]'),
    getChat: () => state.chats.get(state.shownId),
    insert: (text, replaceSlash) => {
      const cur = replaceSlash ? "" : state.composer.value;
      state.composer.value = cur ? `${cur}${cur.endsWith("\n") || cur.endsWith(" ") ? "" : " "}${text}` : text;
      saveDraft();
    },
  });
  document.addEventListener("keydown", (e) => {
    if (e.key === "Escape") setOptionsOpen(false);
  });
}
