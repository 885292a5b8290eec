// Admin pages: users (create, role, max chats, deactivate), queues (create, rename, routing,
// deactivate, the start form: admin-context.js), queue membership and tags (admin-context.js).

import { loadTags, openFieldsBuilder, wireFieldsBuilder, wireTags } from "./admin-context.js";
import { api, bootData, getAll } from "./api.js";
import { t, tn } from "./i18n.js";
import { wireAuditLog } from "./audit-log.js";
import { openQueueSettings, wireQueueSettings } from "./admin-queue-settings.js";
import { $, $$, confirmAction, h, openDialog, showFormError, submitForm, toast, toastError, wireLogout } from "./ui.js";

const me = bootData().user;
const ROLES = { agent: t("Agent"), supervisor: t("Supervisor"), admin: t("Administrator"), customer: t("Customer") };
const STATUS_LABEL = { available: t("Available"), away: t("Away"), offline: t("Offline") };
const STAFF = new Set(["agent", "supervisor", "admin"]);

const state = { users: [], queues: [], members: new Map(), showGuests: false };

// ------------------------------------------------------------------ confirm


// ------------------------------------------------------------------ users

async function loadUsers() {
  state.users = await getAll("/users", 2000);
  renderUsers();
}

function renderUsers() {
  const body = $('[data-role="users"]');
  const users = state.users
    .filter((u) => state.showGuests || !u.is_guest)
    .sort((a, b) => Number(b.active) - Number(a.active) || (STAFF.has(b.role) - STAFF.has(a.role)) || a.name.localeCompare(b.name));
  body.replaceChildren(...users.map(userRow));
  $('[data-role="users-empty"]').hidden = users.length > 0;
}

function userRow(u) {
  const self = u.id === me.id;
  const role = h("select", { class: "select select--sm", "aria-label": t("Role of {name}", { name: u.name }), "data-testid": "user-role-select", disabled: self || u.is_guest });
  for (const [value, label] of Object.entries(ROLES)) role.append(h("option", { value, selected: u.role === value }, label));
  role.addEventListener("change", async () => {
    const before = u.role;
    try {
      Object.assign(u, await api.patch(`/users/${u.id}`, { role: role.value }));
      toast({ title: t("The role of {name} is now {role}", { name: u.name, role: ROLES[u.role] }), kind: "success", timeout: 3000 });
    } catch (err) {
      role.value = before;
      toastError(err, t("Could not change the role"));
    }
  });
  const max = h("input", { class: "input input--narrow", type: "number", min: "0", max: "100", value: String(u.max_chats), "aria-label": t("Max chats of {name}", { name: u.name }), "data-testid": "user-max-chats-input" });
  max.addEventListener("change", async () => {
    const before = u.max_chats;
    try {
      Object.assign(u, await api.patch(`/users/${u.id}`, { max_chats: Number(max.value) }));
    } catch (err) {
      max.value = String(before);
      toastError(err, t("Could not change max chats"));
    }
  });
  const toggle = h(
    "button",
    { class: `btn btn--sm ${u.active ? "btn--danger-ghost" : ""}`, type: "button", disabled: self, "data-testid": u.active ? "user-deactivate" : "user-reactivate" },
    u.active ? t("Deactivate") : t("Reactivate"),
  );
  toggle.addEventListener("click", async () => {
    if (u.active) {
      const ok = await confirmAction({
        title: t("Deactivate {name}?", { name: u.name }),
        text: t("They are signed out everywhere at once and can no longer sign in. Their chats and requests stay."),
        ok: t("Deactivate"),
      });
      if (!ok) return;
    }
    try {
      Object.assign(u, await api.patch(`/users/${u.id}`, { active: !u.active }));
      renderUsers();
      toast({ title: u.active ? t("{name} reactivated", { name: u.name }) : t("{name} deactivated", { name: u.name }), kind: "success", timeout: 3000 });
    } catch (err) {
      toastError(err, t("Could not change the account"));
    }
  });
  return h(
    "tr",
    { "data-testid": "user-row", "data-user-id": u.id, "data-active": String(u.active) },
    h("td", {}, h("strong", {}, u.name), u.is_guest ? h("span", { class: "badge" }, t("guest")) : null, self ? h("span", { class: "badge" }, t("you")) : null, u.active ? null : h("span", { class: "badge" }, t("deactivated"))),
    h("td", {}, u.email),
    h("td", {}, role),
    h("td", {}, STAFF.has(u.role) ? max : h("span", { class: "muted" }, "—")),
    h("td", {}, STAFF.has(u.role) ? h("span", { class: "conn" }, h("span", { class: `dot dot--${u.status}` }), STATUS_LABEL[u.status] || u.status) : h("span", { class: "muted" }, "—")),
    h("td", { class: "actions" }, toggle),
  );
}

function wireUserForm() {
  const form = $("#user-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      name: form.elements.name.value.trim(),
      email: form.elements.email.value.trim(),
      role: form.elements.role.value,
      password: form.elements.password.value,
      max_chats: Number(form.elements.max_chats.value || 3),
    };
    if (!body.name || !body.email || !body.password) {
      showFormError(form, { message: t("Name, e-mail and password are required.") });
      return;
    }
    await submitForm(form, async () => {
      const user = await api.post("/users", body);
      state.users.push(user);
      renderUsers();
      form.reset();
      form.elements.name.focus();
      toast({ title: t("{name} added", { name: user.name }), text: t("They can sign in at /console with {email}.", { email: user.email }), kind: "success" });
    });
  });
  $("#show-guests").addEventListener("change", (e) => {
    state.showGuests = e.target.checked;
    renderUsers();
  });
}

// ------------------------------------------------------------------ queues

async function loadQueues() {
  const res = await api.get("/queues?include_inactive=true");
  state.queues = res.items || [];
  await Promise.all(
    state.queues.map(async (q) => {
      try {
        state.members.set(q.id, (await api.get(`/queues/${q.id}/members`)).items || []);
      } catch {
        state.members.set(q.id, null);
      }
    }),
  );
  renderQueues();
}

function renderQueues() {
  const body = $('[data-role="queues"]');
  const queues = [...state.queues].sort((a, b) => Number(b.active) - Number(a.active) || a.name.localeCompare(b.name));
  body.replaceChildren(...queues.map(queueRow));
  $('[data-role="queues-empty"]').hidden = queues.length > 0;
}

async function patchQueue(q, change, what) {
  try {
    Object.assign(q, await api.patch(`/queues/${q.id}`, change));
    return true;
  } catch (err) {
    toastError(err, what);
    return false;
  }
}

function queueRow(q) {
  const name = h("input", { class: "input", value: q.name, maxlength: "120", "aria-label": t("Queue name"), "data-testid": "queue-rename" });
  name.addEventListener("change", async () => {
    const value = name.value.trim();
    if (!value) {
      name.value = q.name;
      return;
    }
    if (await patchQueue(q, { name: value }, t("Could not rename the queue"))) {
      name.closest("tr").dataset.queueName = q.name;
      toast({ title: t("Renamed to {name}", { name: q.name }), kind: "success", timeout: 3000 });
    } else name.value = q.name;
  });
  const mode = h("select", { class: "select select--sm", "aria-label": t("Routing of {name}", { name: q.name }) });
  for (const [value, label] of [["broadcast", t("Broadcast")], ["assign", t("Assign")]]) mode.append(h("option", { value, selected: q.routing_mode === value }, label));
  mode.addEventListener("change", async () => {
    if (!(await patchQueue(q, { routing_mode: mode.value }, t("Could not change routing")))) mode.value = q.routing_mode;
  });
  const members = state.members.get(q.id);
  const membersBtn = h("button", { class: "btn btn--sm", type: "button", "data-testid": "queue-members" }, members ? tn("{count} member", "{count} members", members.length) : t("Members"));
  membersBtn.addEventListener("click", () => openMembers(q));
  const nFields = (q.fields || []).length;
  const fieldsBtn = h("button", { class: "btn btn--sm", type: "button", "data-testid": "queue-fields" }, nFields ? tn("Start form ({count})", "Start form ({count})", nFields) : t("Start form"));
  fieldsBtn.addEventListener("click", () => openFieldsBuilder(q, renderQueues));
  const settingsBtn = h("button", { class: "btn btn--sm", type: "button", "data-testid": "queue-settings" }, t("Settings"));
  settingsBtn.addEventListener("click", () =>
    openQueueSettings(q, renderQueues, { fields: (queue) => openFieldsBuilder(queue, renderQueues), retention: () => showSection("data") }),
  );
  const toggle = h("button", { class: `btn btn--sm ${q.active ? "btn--danger-ghost" : ""}`, type: "button", "data-testid": q.active ? "queue-deactivate" : "queue-reactivate" }, q.active ? t("Deactivate") : t("Reactivate"));
  toggle.addEventListener("click", async () => {
    if (q.active) {
      const ok = await confirmAction({
        title: t("Deactivate {name}?", { name: q.name }),
        text: t("Customers can no longer pick it. Chats already in it carry on."),
        ok: t("Deactivate"),
      });
      if (!ok) return;
    }
    if (await patchQueue(q, { active: !q.active }, t("Could not change the queue"))) renderQueues();
  });
  const status = q.active
    ? h("span", { class: `badge ${q.open_now ? "badge--solved" : "badge--waiting"}` }, q.open_now ? t("Open") : t("Closed now"))
    : h("span", { class: "badge" }, t("Inactive"));
  return h(
    "tr",
    { "data-testid": "queue-row", "data-queue-id": q.id, "data-queue-name": q.name, "data-active": String(q.active) },
    h("td", {}, name, q.description ? h("div", { class: "muted small" }, q.description) : null),
    h("td", {}, mode),
    h("td", { class: "actions" }, settingsBtn, membersBtn, fieldsBtn),
    h("td", {}, status, " ", h("span", { class: "muted small" }, tn("{count} free", "{count} free", q.agents_available))),
    h("td", { class: "actions" }, toggle),
  );
}

function openMembers(q) {
  const dialog = $("#members-dialog");
  $("#members-title").textContent = t("Members of {name}", { name: q.name });
  const current = new Set((state.members.get(q.id) || []).map((m) => m.id));
  const staff = state.users.filter((u) => STAFF.has(u.role) && (u.active || current.has(u.id))).sort((a, b) => a.name.localeCompare(b.name));
  const list = $('[data-role="member-list"]', dialog);
  list.replaceChildren(
    ...(staff.length
      ? staff.map((u) =>
          h(
            "li",
            {},
            h(
              "label",
              {},
              h("input", { type: "checkbox", value: u.id, checked: current.has(u.id), "data-testid": "member-checkbox" }),
              h("span", {}, u.name, h("small", {}, `${ROLES[u.role]} · ${u.email}`)),
            ),
          ),
        )
      : [h("li", { class: "muted" }, t("No agents yet — add users with the agent role first."))]),
  );
  dialog.dataset.queueId = q.id;
  openDialog(dialog);
}

function wireQueueForms() {
  const form = $("#queue-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const body = {
      name: form.elements.name.value.trim(),
      description: form.elements.description.value.trim(),
      routing_mode: form.elements.routing_mode.value,
    };
    if (!body.name) {
      showFormError(form, { message: t("A queue needs a name.") });
      return;
    }
    await submitForm(form, async () => {
      const q = await api.post("/queues", body);
      state.queues.push(q);
      state.members.set(q.id, []);
      renderQueues();
      form.reset();
      toast({ title: t("Queue {name} added", { name: q.name }), text: t("Add members so someone answers it."), kind: "success" });
    });
  });
  const dialog = $("#members-dialog");
  $("form", dialog).addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const queueId = dialog.dataset.queueId;
    const ids = $$('input[type="checkbox"]:checked', dialog).map((c) => c.value);
    const btn = $('[data-testid="members-save"]', dialog);
    await submitForm(
      form,
      async () => {
        const res = await api.put(`/queues/${queueId}/members`, { user_ids: ids });
        state.members.set(queueId, res.items || []);
        dialog.close("done");
        renderQueues();
        toast({ title: t("Members saved"), kind: "success", timeout: 3000 });
      },
      btn,
    );
  });
}

// ------------------------------------------------------------------ boot

// Names for the audit log's actors and targets, from the lists this page already loaded.
const auditLog = wireAuditLog({
  users: () => state.users,
  queues: () => state.queues,
});

function showSection(name) {
  for (const tab of $$("[data-section]")) {
    tab.setAttribute("aria-pressed", String(tab.dataset.section === name));
    $(`#${tab.dataset.section}-section`).hidden = tab.dataset.section !== name;
  }
  if (name === "audit") auditLog.show();
  if (history.replaceState) history.replaceState(null, "", `#${name}`);
}

async function main() {
  wireLogout();
  for (const tab of $$("[data-section]")) tab.addEventListener("click", () => showSection(tab.dataset.section));
  const asked = location.hash.slice(1);
  showSection($$("[data-section]").some((t) => t.dataset.section === asked) ? asked : "users");
  wireUserForm();
  wireQueueForms();
  wireTags();
  wireFieldsBuilder();
  wireQueueSettings();
  loadTags();
  try {
    await loadUsers();
  } catch (err) {
    toastError(err, t("Could not load users"));
  }
  try {
    await loadQueues();
  } catch (err) {
    toastError(err, t("Could not load queues"));
  }
  auditLog.refresh();
}

main();
