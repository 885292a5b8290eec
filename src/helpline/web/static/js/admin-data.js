// Admin page, "Customer data": the retention policy (per queue, editable) with the last run's
// counts, and a customer's export (download) and erasure (typed confirmation).

import { formatNumber, t, tn } from "./i18n.js";
import { api } from "./api.js";
import { downloadExport, exportAndWait } from "./exports.js";
import { $, formatDateTime, formatSize, h, openDialog, setBusy, submitForm, toast, toastError } from "./ui.js";

const state = { policy: null, customers: [] };

// ------------------------------------------------------------------ retention

function days(n) {
  return n ? tn("{count} day", "{count} days", n) : t("kept forever");
}

function renderPolicy() {
  const p = state.policy;
  $('[data-role="retention-summary"]').textContent = p.retention_days
    ? t("Closed chats and requests are removed {days} after closing, unless their queue says otherwise.", { days: days(p.retention_days) })
    : t("Helpline keeps closed chats and requests forever (HELPLINE_RETENTION_DAYS is not set), unless their queue says otherwise.");
  $('[data-role="retention-queues"]').replaceChildren(...p.queues.map(policyRow));
  const run = p.last_run;
  $('[data-role="last-run-empty"]').hidden = Boolean(run);
  const list = $('[data-role="last-run"]');
  list.hidden = !run;
  if (!run) return;
  const rows = [
    [t("Finished"), formatDateTime(run.finished_at)],
    ["chats", t("Chats removed"), run.chats],
    ["events", t("Events removed"), run.events],
    ["files", t("Files removed"), run.files],
    ["requests", t("Requests removed"), run.requests],
  ];
  list.replaceChildren(...rows.flatMap(([key, k, v]) => [h("dt", {}, k), h("dd", { "data-testid": `last-run-${key}` }, typeof v === "number" ? formatNumber(v) : v)]));
}

function policyRow(q) {
  const input = h("input", {
    class: "input input--narrow",
    type: "number",
    min: "1",
    max: "36500",
    step: "1",
    value: q.retention_days == null ? "" : String(q.retention_days),
    placeholder: state.policy.retention_days ? String(state.policy.retention_days) : t("forever"),
    "aria-label": t("Days to keep the closed chats and requests of {name}", { name: q.name }),
    "aria-describedby": `retention-error-${q.id}`,
    "data-testid": "queue-retention",
  });
  // The API's refusal (e.g. 0 days) beside the field; the value typed stays to be corrected.
  const error = h("span", { class: "field-error", id: `retention-error-${q.id}`, role: "alert", "data-testid": "queue-retention-error" });
  const effective = h("span", { "data-testid": "queue-retention-effective" }, days(q.effective_days));
  input.addEventListener("change", async () => {
    const value = input.value.trim() === "" ? null : Number(input.value);
    error.textContent = "";
    input.removeAttribute("aria-invalid");
    try {
      const saved = await api.patch(`/queues/${q.id}`, { retention_days: value });
      q.retention_days = saved.retention_days;
      q.effective_days = saved.retention_days ?? state.policy.retention_days;
      effective.textContent = days(q.effective_days);
      toast({ title: t("{queue}: {days}", { queue: q.name, days: days(q.effective_days) }), kind: "success", timeout: 3000 });
    } catch (err) {
      if (err.status === 422) {
        error.textContent = String(err.message || "").replace(/^retention_days:\s*/, "");
        input.setAttribute("aria-invalid", "true");
        input.focus();
        return;
      }
      input.value = q.retention_days == null ? "" : String(q.retention_days);
      toastError(err, t("Could not change the retention"));
    }
  });
  return h("tr", { "data-testid": "retention-row", "data-queue-id": q.id }, h("td", {}, q.name), h("td", {}, h("div", {}, input, error)), h("td", {}, effective));
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
  note.textContent = state.customers.length ? (res.next ? t("Showing the first 20; type more to narrow it down.") : "") : t("No customer matches.");
}

function customerRow(u) {
  const exportBtn = h("button", { class: "btn btn--sm", type: "button", "data-testid": "customer-export", disabled: !u.active && !u.email }, t("Export data"));
  exportBtn.addEventListener("click", () => exportCustomer(u, exportBtn));
  const eraseBtn = h("button", { class: "btn btn--sm btn--danger-ghost", type: "button", "data-testid": "customer-erase", disabled: !u.email }, u.email ? t("Erase…") : t("Erased"));
  eraseBtn.addEventListener("click", () => openErase(u));
  return h(
    "tr",
    { "data-testid": "customer-row", "data-user-id": u.id },
    h("td", {}, h("strong", {}, u.name), u.is_guest ? h("span", { class: "badge" }, t("guest")) : null, u.active ? null : h("span", { class: "badge" }, t("deactivated"))),
    h("td", {}, u.email || h("span", { class: "muted" }, "—")),
    h("td", { class: "actions" }, h("span", { class: "button-row" }, exportBtn, eraseBtn)),
  );
}

async function exportCustomer(u, btn) {
  setBusy(btn, true, t("Preparing…"));
  try {
    const done = await exportAndWait(`/customers/${u.id}/export`);
    if (done.status !== "ready") throw new Error(t("The export failed; try again later."));
    toast({ title: t("The data of {name} is ready", { name: u.name }), text: t("{size} — saving the zip.", { size: formatSize(done.size) }), kind: "success", timeout: 4000 });
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
  $("#erase-title").textContent = t("Erase {name}?", { name: u.name });
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
      toast({ title: t("Customer erased"), text: t("Chats scrubbed: {chats}, requests scrubbed: {requests}, files deleted: {files}.", { chats: formatNumber(done.chats), requests: formatNumber(done.requests), files: formatNumber(done.files) }), kind: "success", testid: "erase-done" });
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
