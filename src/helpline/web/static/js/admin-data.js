// Admin page, "Customer data": the retention policy (per queue, editable) with the last run's
// counts, and a customer's export (download) and erasure (typed confirmation).

import { t, tn } from "./i18n.js";
import { api } from "./api.js";
import { downloadExport, exportAndWait } from "./exports.js";
import { $, formatDateTime, formatSize, h, openDialog, setBusy, submitForm, toast, toastError } from "./ui.js";

const state = { policy: null, customers: [] };

// ------------------------------------------------------------------ retention

function days(n) {
  return n ? `${n} day${n === 1 ? "" : "s"}` : "kept forever";
}

function renderPolicy() {
  const p = state.policy;
  $('[data-role="retention-summary"]').textContent = p.retention_days
    ? `Closed chats and requests are removed ${days(p.retention_days)} after closing, unless their queue says otherwise.`
    : t("Helpline keeps closed chats and requests forever (HELPLINE_RETENTION_DAYS is not set), unless their queue says otherwise.");
  $('[data-role="retention-queues"]').replaceChildren(...p.queues.map(policyRow));
  const run = p.last_run;
  $('[data-role="last-run-empty"]').hidden = Boolean(run);
  const list = $('[data-role="last-run"]');
  list.hidden = !run;
  if (!run) return;
  const rows = [
    [t("Finished"), formatDateTime(run.finished_at)],
    [t("Chats removed"), run.chats],
    [t("Events removed"), run.events],
    [t("Files removed"), run.files],
    [t("Requests removed"), run.requests],
  ];
  list.replaceChildren(...rows.flatMap(([k, v]) => [h("dt", {}, k), h("dd", { "data-testid": `last-run-${k.split(" ")[0].toLowerCase()}` }, String(v))]));
}

function policyRow(q) {
  const input = h("input", {
    class: "input input--narrow",
    type: "number",
    min: "1",
    max: "36500",
    step: "1",
    value: q.retention_days == null ? "" : String(q.retention_days),
    placeholder: state.policy.retention_days ? String(state.policy.retention_days) : "forever",
    "aria-label": `Days to keep ${q.name}'s closed chats and requests`,
    "data-testid": "queue-retention",
  });
  const effective = h("span", { "data-testid": "queue-retention-effective" }, days(q.effective_days));
  input.addEventListener("change", async () => {
    const value = input.value.trim() === "" ? null : Number(input.value);
    try {
      const saved = await api.patch(`/queues/${q.id}`, { retention_days: value });
      q.retention_days = saved.retention_days;
      q.effective_days = saved.retention_days ?? state.policy.retention_days;
      effective.textContent = days(q.effective_days);
      toast({ title: `${q.name}: ${days(q.effective_days)}`, kind: "success", timeout: 3000 });
    } catch (err) {
      input.value = q.retention_days == null ? "" : String(q.retention_days);
      toastError(err, t("Could not change the retention"));
    }
  });
  return h("tr", { "data-testid": "retention-row", "data-queue-id": q.id }, h("td", {}, q.name), h("td", {}, input), h("td", {}, effective));
}

async function loadPolicy() {
  state.policy = await api.get("/retention");
  renderPolicy();
}

// ------------------------------------------------------------------ customers

let searched = 0; // answers to older searches are dropped

async function renderCustomers() {
  const words = $("#customer-search").value.trim();
  const body = $('[data-role="customers"]');
  const note = $('[data-role="customers-empty"]');
  const mine = ++searched;
  if (words.length < 2) {
    body.replaceChildren();
    note.textContent = "";
    return;
  }
  // Guests too: most customers start as guests in the portal or the widget.
  const res = await api.get(`/users?role=customer&guests=true&limit=20&q=${encodeURIComponent(words)}`);
  if (mine !== searched) return;
  state.customers = res.items || [];
  body.replaceChildren(...state.customers.map(customerRow));
  note.textContent = state.customers.length ? (res.next ? "Showing the first 20; type more to narrow it down." : "") : t("No customer matches.");
}

function customerRow(u) {
  const exportBtn = h("button", { class: "btn btn--sm", type: "button", "data-testid": "customer-export", disabled: !u.active && !u.email }, t("Export data"));
  exportBtn.addEventListener("click", () => exportCustomer(u, exportBtn));
  const eraseBtn = h("button", { class: "btn btn--sm btn--danger-ghost", type: "button", "data-testid": "customer-erase", disabled: !u.email }, u.email ? "Erase…" : t("Erased"));
  eraseBtn.addEventListener("click", () => openErase(u));
  return h(
    "tr",
    { "data-testid": "customer-row", "data-user-id": u.id },
    h("td", {}, h("strong", {}, u.name), u.is_guest ? h("span", { class: "badge" }, "guest") : null, u.active ? null : h("span", { class: "badge" }, "deactivated")),
    h("td", {}, u.email || h("span", { class: "muted" }, "—")),
    h("td", { class: "actions" }, h("span", { class: "button-row" }, exportBtn, eraseBtn)),
  );
}

async function exportCustomer(u, btn) {
  setBusy(btn, true, t("Preparing…"));
  try {
    const done = await exportAndWait(`/customers/${u.id}/export`);
    if (done.status !== "ready") throw new Error(t("The export failed; try again later."));
    toast({ title: `${u.name}'s data is ready`, text: `${formatSize(done.size)} — saving the zip.`, kind: "success", timeout: 4000 });
    await downloadExport(done, `helpline-data-${u.id}.zip`);
  } catch (err) {
    toastError(err, t("Could not export the customer's data"));
  } finally {
    setBusy(btn, false, "");
  }
}

function openErase(u) {
  const dialog = $("#erase-dialog");
  const form = $("form", dialog);
  form.reset();
  form.elements.confirm.value = "";
  dialog.dataset.userId = u.id;
  dialog.dataset.email = u.email;
  $("#erase-title").textContent = `Erase ${u.name}?`;
  $('[data-role="email"]', dialog).textContent = u.email;
  $('[data-role="error"]', dialog).textContent = "";
  $('[data-testid="erase-submit"]', dialog).disabled = true;
  openDialog(dialog);
  form.elements.confirm.focus();
}

function wireErase() {
  const dialog = $("#erase-dialog");
  const form = $("form", dialog);
  const submit = $('[data-testid="erase-submit"]', dialog);
  form.elements.confirm.addEventListener("input", () => {
    submit.disabled = form.elements.confirm.value.trim().toLowerCase() !== dialog.dataset.email.toLowerCase();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    await submitForm(form, async () => {
      const done = await api.post(`/customers/${dialog.dataset.userId}/erase`, { confirm: form.elements.confirm.value });
      const u = state.customers.find((c) => c.id === done.id);
      if (u) Object.assign(u, { name: done.name, email: done.email, active: done.active });
      dialog.close("done");
      await renderCustomers();
      toast({ title: t("Customer erased"), text: `${done.chats} chats and ${done.requests} requests scrubbed, ${done.files} files deleted.`, kind: "success", testid: "erase-done" });
    });
  });
}

// ------------------------------------------------------------------ boot

async function main() {
  wireErase();
  let timer = null;
  $("#customer-search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => renderCustomers().catch((err) => toastError(err, t("Could not load customers"))), 150);
  });
  try {
    await loadPolicy();
  } catch (err) {
    toastError(err, t("Could not load the retention policy"));
  }
}

main();
