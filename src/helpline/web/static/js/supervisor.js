// The Supervisor view of the Agent Console (`#supervisor`, supervisors and admins): live
// per-queue counts (GET /supervisor/overview), each agent's status and load, the waiting
// chats with the actions "assign to an agent" and "move to another queue", and the chats in
// progress with "assign to another agent" (a hand-over without a note). It refreshes on
// WebSocket news (chat.updated, chat.offered, chat.withdrawn, chat.taken, agent.status), every
// 10 s while shown, and ticks the waiting times every second.

import { formatNumber, formatTime, t, tn } from "./i18n.js";
import { api, getAll } from "./api.js";
import { $, formatDuration, h, since, toast } from "./ui.js";

const LONG_WAIT_S = 120;
const ROLE_LABEL = { agent: t("Agent"), supervisor: t("Supervisor"), admin: t("Administrator") };
const STATUS_LABEL = { available: t("Available"), away: t("Away"), offline: t("Offline") };

const st = {
  visible: false,
  queues: [],
  data: null,
  waiting: [],
  active: [],
  members: new Map(), // queue id -> [{id, name, status}]
  picked: new Map(), // chat id -> {agent, queue} chosen in its row (kept across refreshes)
  timer: null,
  tick: null,
  debounce: null,
  seq: 0,
};

export function initSupervisor({ rt, queues }) {
  st.queues = queues;
  const refreshSoon = () => {
    if (!st.visible) return;
    clearTimeout(st.debounce);
    st.debounce = setTimeout(refresh, 250);
  };
  for (const type of ["chat.updated", "chat.offered", "chat.withdrawn", "chat.taken", "agent.status"]) rt.on(type, refreshSoon);
  rt.on("open", refreshSoon);
  const root = $('[data-role="supervisor-view"]');
  root.replaceChildren(
    h(
      "div",
      { class: "view-inner" },
      h(
        "div",
        { class: "view-head" },
        h("h1", { id: "supervisor-heading" }, t("Supervisor")),
        h("span", { class: "muted small", "data-role": "sv-updated", "aria-live": "off" }),
        h("button", { class: "btn btn--sm", type: "button", "data-action": "sv-refresh" }, t("Refresh")),
      ),
      h("p", { class: "form-error", role: "alert", "data-role": "sv-error" }),
      h("h2", { class: "view-sub" }, t("Queues")),
      h("div", { class: "sv-queues", "data-testid": "sv-queues" }),
      h("h2", { class: "view-sub" }, t("Waiting chats")),
      h("ul", { class: "grid-list sv-waiting", "data-testid": "sv-waiting" }),
      h("h2", { class: "view-sub" }, t("Chats in progress")),
      h("ul", { class: "grid-list sv-waiting", "data-testid": "sv-active" }),
      h("h2", { class: "view-sub" }, t("Agents")),
      h(
        "div",
        { class: "table-wrap card card--flush", tabindex: "0" },
        h("table", { class: "table" }, h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("Agent")), h("th", { scope: "col" }, t("Status")), h("th", { scope: "col" }, t("Chats")))), h("tbody", { "data-testid": "sv-agents" })),
      ),
    ),
  );
  $('[data-action="sv-refresh"]').addEventListener("click", refresh);
}

export function showSupervisor(visible) {
  st.visible = visible;
  clearInterval(st.timer);
  clearInterval(st.tick);
  if (!visible) return;
  refresh();
  st.timer = setInterval(refresh, 10000);
  st.tick = setInterval(tickWaits, 1000);
}

async function refresh() {
  const seq = ++st.seq;
  let data;
  let waiting;
  let active;
  try {
    [data, waiting, active] = await Promise.all([
      api.get("/supervisor/overview"),
      getAll("/chats?status=waiting&limit=200", 500),
      getAll("/chats?status=in_progress&limit=200", 500),
    ]);
  } catch (err) {
    if (seq === st.seq) $('[data-role="sv-error"]').textContent = t("Could not refresh: {reason}", { reason: err.message });
    return;
  }
  if (seq !== st.seq) return;
  $('[data-role="sv-error"]').textContent = "";
  st.data = data;
  st.waiting = waiting.filter((c) => c.status === "waiting");
  st.active = active.filter((c) => c.status === "in_progress");
  // Members per queue (to offer only agents who can take the chat); fetched once per queue.
  const needed = [...new Set([...st.waiting, ...st.active].map((c) => c.queue_id))].filter((id) => !st.members.has(id));
  await Promise.all(
    needed.map(async (id) => {
      try {
        const res = await api.get(`/queues/${encodeURIComponent(id)}/members`);
        st.members.set(id, res.items || []);
      } catch {
        st.members.set(id, null);
      }
    }),
  );
  if (seq !== st.seq) return;
  render();
}

function render() {
  const { queues = [], agents = [] } = st.data || {};
  $('[data-role="sv-updated"]').textContent = t("Updated {when}", { when: formatTime(new Date(), { hour: "2-digit", minute: "2-digit", second: "2-digit" }) });
  $('[data-testid="sv-queues"]').replaceChildren(
    ...queues.map((q) =>
      h(
        "section",
        { class: "sv-queue card", "data-testid": "sv-queue", "data-queue-id": q.id, "aria-label": q.name },
        h("h3", {}, q.name, " ", h("span", { class: q.open_now === false ? "badge badge--cancelled" : "badge badge--in_progress" }, q.open_now === false ? t("Closed now") : t("Open"))),
        h(
          "dl",
          { class: "sv-stats" },
          stat(t("Waiting"), q.waiting, "sv-waiting-count"),
          stat(t("In progress"), q.in_progress),
          stat(t("Longest wait"), q.waiting ? formatDuration(q.longest_wait_s || 0) : "—", null, q.waiting && q.longest_wait_s >= LONG_WAIT_S),
          stat(t("Agents free"), q.agents_available),
        ),
      ),
    ),
  );
  const agentsById = new Map(agents.map((a) => [a.id, a]));
  $('[data-testid="sv-agents"]').replaceChildren(
    ...agents.map((a) =>
      h(
        "tr",
        { "data-testid": "sv-agent", "data-agent-id": a.id, "data-status": a.status },
        h("td", {}, a.name, a.role && a.role !== "agent" ? h("span", { class: "muted small" }, ` (${ROLE_LABEL[a.role] || a.role})`) : null),
        h("td", {}, h("span", { class: `dot dot--${a.status}`, "aria-hidden": "true" }), " ", STATUS_LABEL[a.status] || a.status),
        h("td", {}, h("span", { class: a.chats >= a.max_chats ? "sv-load sv-load--full" : "sv-load" }, `${formatNumber(a.chats)} / ${formatNumber(a.max_chats)}`)),
      ),
    ),
  );
  if (!agents.length) $('[data-testid="sv-agents"]').replaceChildren(h("tr", {}, h("td", { colspan: "3", class: "muted" }, t("No agents yet."))));

  const list = $('[data-testid="sv-waiting"]');
  const focused = document.activeElement;
  const focusedId = focused?.closest?.("[data-chat-id]")?.dataset.chatId;
  for (const id of st.picked.keys()) if (![...st.waiting, ...st.active].some((c) => c.id === id)) st.picked.delete(id);
  list.replaceChildren(...st.waiting.map((c) => waitingRow(c, agentsById)));
  if (!st.waiting.length) list.replaceChildren(h("li", { class: "empty empty--inline" }, h("strong", {}, t("Nobody is waiting")), h("span", { class: "small" }, t("Waiting chats appear here live."))));
  const activeList = $('[data-testid="sv-active"]');
  activeList.replaceChildren(...st.active.map((c) => activeRow(c, agentsById)));
  if (!st.active.length) activeList.replaceChildren(h("li", { class: "empty empty--inline" }, h("strong", {}, t("No chat in progress")), h("span", { class: "small" }, t("Chats being handled appear here."))));
  if (focusedId) {
    const row = document.querySelector(`.sv-waiting [data-chat-id="${CSS.escape(focusedId)}"]`) || list.querySelector(`[data-chat-id="${CSS.escape(focusedId)}"]`);
    const same = focused.dataset.testid && row?.querySelector(`[data-testid="${CSS.escape(focused.dataset.testid)}"]`);
    (same || row?.querySelector("select"))?.focus();
  }
}

function stat(label, value, testid = null, warn = false) {
  return h("div", { class: warn ? "sv-stat sv-stat--warn" : "sv-stat" }, h("dt", {}, label), h("dd", { "data-testid": testid }, typeof value === "number" ? formatNumber(value) : String(value)));
}

function waitingRow(chat, agentsById) {
  const members = st.members.get(chat.queue_id);
  const candidates = (members ? members.map((m) => agentsById.get(m.id) || m) : [...agentsById.values()]).filter((a) => a.role !== "customer");
  const agentSel = h(
    "select",
    { class: "select select--sm", "aria-label": t("Agent for {reference}", { reference: chat.reference }), "data-testid": "sv-assign-agent" },
    h("option", { value: "" }, t("Choose an agent…")),
    ...candidates.map((a) => {
      const load = typeof a.chats === "number" ? ` — ${formatNumber(a.chats)}/${formatNumber(a.max_chats)}` : "";
      return h("option", { value: a.id }, `${a.name} (${STATUS_LABEL[a.status] || a.status || "?"}${load})`);
    }),
  );
  const assign = h("button", { class: "btn btn--primary btn--sm", type: "button", "data-testid": "sv-assign" }, t("Assign"));
  const queueSel = h(
    "select",
    { class: "select select--sm", "aria-label": t("Move {reference} to queue", { reference: chat.reference }), "data-testid": "sv-move-queue" },
    h("option", { value: "" }, t("Move to…")),
    ...st.queues.filter((q) => q.id !== chat.queue_id).map((q) => h("option", { value: q.id }, q.name)),
  );
  const move = h("button", { class: "btn btn--sm", type: "button", "data-testid": "sv-move" }, t("Move"));
  // A refresh (any chat or agent change, every 10 s) rebuilds the rows: keep what was chosen.
  const picked = st.picked.get(chat.id) || {};
  for (const [sel, value] of [
    [agentSel, picked.agent],
    [queueSel, picked.queue],
  ])
    if (value && Array.from(sel.options).some((o) => o.value === value)) sel.value = value;
  const remember = () => st.picked.set(chat.id, { agent: agentSel.value, queue: queueSel.value });
  agentSel.addEventListener("change", remember);
  queueSel.addEventListener("change", remember);
  const error = h("p", { class: "form-error", role: "alert" });
  const act = async (button, path, body, done) => {
    error.textContent = "";
    button.disabled = true;
    try {
      await api.post(path, body);
      toast({ title: done, kind: "success", timeout: 3000 });
      refresh();
    } catch (err) {
      error.textContent = err.message;
      button.disabled = false;
    }
  };
  assign.addEventListener("click", () => {
    if (!agentSel.value) {
      error.textContent = t("Choose an agent first.");
      agentSel.focus();
      return;
    }
    const name = agentSel.selectedOptions[0].textContent.split(" (")[0];
    act(assign, `/chats/${chat.id}/assign`, { agent_id: agentSel.value }, t("{reference} assigned to {name}", { reference: chat.reference, name }));
  });
  move.addEventListener("click", () => {
    if (!queueSel.value) {
      error.textContent = t("Choose a queue first.");
      queueSel.focus();
      return;
    }
    act(move, `/chats/${chat.id}/move`, { queue_id: queueSel.value }, t("{reference} moved to {queue}", { reference: chat.reference, queue: queueSel.selectedOptions[0].textContent }));
  });
  const started = chat.waiting_since || chat.created_at;
  const wait = since(started);
  return h(
    "li",
    { class: "sv-chat card", "data-testid": "sv-waiting-chat", "data-chat-id": chat.id },
    h(
      "div",
      { class: "sv-chat__main" },
      h("strong", {}, chat.customer?.name || t("Customer")),
      h("span", { class: "muted small" }, [chat.reference, chat.queue?.name || st.queues.find((q) => q.id === chat.queue_id)?.name, chat.subject].filter(Boolean).join(" · ")),
      h("span", { class: wait >= LONG_WAIT_S ? "sv-wait sv-wait--long" : "sv-wait", "data-since": started }, t("waiting {duration}", { duration: formatDuration(wait) })),
    ),
    h("div", { class: "sv-chat__actions" }, agentSel, assign, queueSel, move),
    error,
  );
}

/** Why an agent cannot take a chat now, or null (the server says the same with 409s). */
function whyNot(agent, chat) {
  if (chat.agent?.id === agent.id) return t("has it");
  if (agent.status && agent.status !== "available") return (STATUS_LABEL[agent.status] || agent.status).toLowerCase();
  if (typeof agent.chats === "number" && agent.chats >= agent.max_chats) return t("full");
  return null;
}

/** A chat in progress: hand it to another agent of its queue (POST /chats/{id}/assign). */
function activeRow(chat, agentsById) {
  const members = st.members.get(chat.queue_id);
  const candidates = (members ? members.map((m) => agentsById.get(m.id) || m) : [...agentsById.values()]).filter((a) => a.role !== "customer");
  const agentSel = h(
    "select",
    { class: "select select--sm", "aria-label": t("Hand {reference} to", { reference: chat.reference }), "data-testid": "sv-reassign-agent" },
    h("option", { value: "" }, t("Hand over to…")),
    ...candidates.map((a) => {
      const why = whyNot(a, chat);
      const load = typeof a.chats === "number" ? ` — ${formatNumber(a.chats)}/${formatNumber(a.max_chats)}` : "";
      return h("option", { value: a.id, disabled: Boolean(why) }, `${a.name} (${why || t("available")}${load})`);
    }),
  );
  const picked = st.picked.get(chat.id)?.agent;
  if (picked && Array.from(agentSel.options).some((o) => o.value === picked && !o.disabled)) agentSel.value = picked;
  agentSel.addEventListener("change", () => st.picked.set(chat.id, { agent: agentSel.value }));
  const assign = h("button", { class: "btn btn--primary btn--sm", type: "button", "data-testid": "sv-reassign" }, t("Assign"));
  const error = h("p", { class: "form-error", role: "alert" });
  assign.addEventListener("click", async () => {
    if (!agentSel.value) {
      error.textContent = t("Choose an agent first.");
      agentSel.focus();
      return;
    }
    const name = agentSel.selectedOptions[0].textContent.split(" (")[0];
    error.textContent = "";
    assign.disabled = true;
    try {
      await api.post(`/chats/${chat.id}/assign`, { agent_id: agentSel.value });
      st.picked.delete(chat.id);
      toast({ title: t("{reference} handed to {name}", { reference: chat.reference, name }), kind: "success", timeout: 3000 });
      refresh();
    } catch (err) {
      error.textContent = err.message;
      assign.disabled = false;
    }
  });
  return h(
    "li",
    { class: "sv-chat card", "data-testid": "sv-active-chat", "data-chat-id": chat.id },
    h(
      "div",
      { class: "sv-chat__main" },
      h("strong", {}, chat.customer?.name || t("Customer")),
      h("span", { class: "muted small" }, [chat.reference, chat.queue?.name || st.queues.find((q) => q.id === chat.queue_id)?.name, chat.subject].filter(Boolean).join(" · ")),
      h("span", { class: "small", "data-testid": "sv-active-agent" }, t("with {name}", { name: chat.agent?.name || t("an agent") })),
    ),
    h("div", { class: "sv-chat__actions" }, agentSel, assign),
    error,
  );
}

function tickWaits() {
  for (const el of document.querySelectorAll(".sv-wait[data-since]")) {
    const s = since(el.dataset.since);
    el.textContent = t("waiting {duration}", { duration: formatDuration(s) });
    el.classList.toggle("sv-wait--long", s >= LONG_WAIT_S);
  }
}
