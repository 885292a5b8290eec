// Admin page, "Webhooks": the endpoints (add, edit with event checkboxes, active switch,
// delete), the secret shown once after adding, "Send test event", and an endpoint's delivery
// log with "Retry" for dead letters. The server validates (URL, addresses, event types);
// its answer is shown beside the field it is about.

import { api } from "./api.js";
import { t, tn } from "./i18n.js";
import { $, confirmAction, formatDateTime, h, setBusy, showFormError, toast, toastError } from "./ui.js";

// [type, its label in a checkbox, its name in the delivery log]
const GROUPS = [
  [
    t("Chats"),
    [
      ["chat.started", t("Started"), t("Chat started")],
      ["chat.accepted", t("Accepted"), t("Chat accepted")],
      ["chat.transferred", t("Transferred"), t("Chat transferred")],
      ["chat.requeued", t("Back in the queue"), t("Chat back in the queue")],
      ["chat.solved", t("Solved"), t("Chat solved")],
      ["chat.cancelled", t("Cancelled"), t("Chat cancelled")],
      ["chat.expired", t("Expired"), t("Chat expired")],
      ["chat.rated", t("Rated"), t("Chat rated")],
      ["chat.sla_breached", t("Service level breached"), t("Chat service level breached")],
    ],
  ],
  [
    t("Requests"),
    [
      ["request.created", t("Created"), t("Request created")],
      ["request.updated", t("Updated"), t("Request updated")],
      ["request.commented", t("Commented (public comments)"), t("Request commented")],
    ],
  ],
];
const LABEL = new Map(GROUPS.flatMap(([, items]) => items.map(([type, , name]) => [type, name])));
LABEL.set("webhook.test", t("Test event"));
const STATUS = { pending: t("Pending"), delivered: t("Delivered"), failed: t("Failed") };
const STATUS_BADGE = { pending: "waiting", delivered: "solved", failed: "high" };

const state = { endpoints: [], editing: null, log: null };
const form = $("#webhook-form");

// ------------------------------------------------------------------ the form

function renderBoxes() {
  $('[data-role="event-boxes"]', form).replaceChildren(
    ...GROUPS.map(([group, items]) =>
      h(
        "div",
        { class: "webhook-events__group", role: "group", "aria-label": group },
        h("p", { class: "webhook-events__title" }, group),
        ...items.map(([type, label]) =>
          h("label", { class: "checkbox" }, h("input", { type: "checkbox", name: "events", value: type, "data-testid": `webhook-event-${type}` }), ` ${label}`),
        ),
      ),
    ),
  );
}

function clearErrors() {
  showFormError(form, null);
  for (const el of form.querySelectorAll("[data-error]")) el.textContent = "";
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

const FIELD_OF = { invalid_url: "url", unknown_event: "events" };

/** Put the server's refusal beside its field (or above the form when it names none). */
function showError(err) {
  let field = (err.details && err.details.field) || FIELD_OF[err.code];
  const loc = err.details && Array.isArray(err.details.details) && err.details.details[0] && err.details.details[0].loc;
  if (!field && loc) field = loc.find((p) => ["url", "events", "secret", "active"].includes(p));
  const box = field && form.querySelector(`[data-error="${field}"]`);
  if (!box) {
    showFormError(form, err);
    return;
  }
  box.textContent = field === "secret" && err.code === "invalid" ? t("A secret has 16 to 200 characters and no spaces.") : err.code === "unknown_event" ? t("Choose events from the list.") : err.message;
  const input = field === "events" ? form.querySelector('input[name="events"]') : form.elements[field];
  if (field !== "events") input.setAttribute("aria-invalid", "true");
  input.focus();
}

function chosen() {
  return [...form.querySelectorAll('input[name="events"]:checked')].map((i) => i.value);
}

function fill(endpoint) {
  state.editing = endpoint;
  clearErrors();
  form.elements.url.value = endpoint ? endpoint.url : "";
  form.elements.secret.value = "";
  form.elements.active.checked = endpoint ? endpoint.active : true;
  const wanted = new Set(endpoint ? endpoint.events : []);
  for (const box of form.querySelectorAll('input[name="events"]')) box.checked = wanted.has(box.value);
  $('[data-role="form-title"]', form).textContent = endpoint ? t("Edit endpoint") : t("Add an endpoint");
  $('[data-role="secret-label"]', form).textContent = endpoint ? t("New secret (optional)") : t("Secret (optional)");
  $('[data-role="secret-hint"]', form).textContent = endpoint
    ? t("Leave empty to keep the current one. A new one applies to deliveries still queued.")
    : t("Leave empty and Helpline makes one; either way it is shown once.");
  $('[type="submit"]', form).textContent = endpoint ? t("Save endpoint") : t("Add endpoint");
  $('[data-action="cancel-edit"]', form).hidden = !endpoint;
}

async function save(e) {
  e.preventDefault();
  clearErrors();
  const url = form.elements.url.value.trim();
  const events = chosen();
  const secret = form.elements.secret.value.trim();
  // The same rules the server applies, checked here first for a quicker answer.
  if (!url) return showError({ message: t("Enter the address to send events to."), details: { field: "url" } });
  if (!/^https?:\/\//i.test(url)) return showError({ message: t("The URL must start with http:// or https://."), details: { field: "url" } });
  if (!events.length) return showError({ message: t("Choose at least one event."), details: { field: "events" } });
  const body = { url, events, active: form.elements.active.checked };
  if (secret) body.secret = secret;
  const btn = $('[type="submit"]', form);
  setBusy(btn, true);
  try {
    if (state.editing) {
      const saved = await api.patch(`/webhooks/endpoints/${state.editing.id}`, body);
      state.endpoints = state.endpoints.map((x) => (x.id === saved.id ? saved : x));
      toast({ title: t("Endpoint saved"), kind: "success", timeout: 3000 });
    } else {
      const made = await api.post("/webhooks/endpoints", body);
      const { secret: shown, ...endpoint } = made;
      state.endpoints.push(endpoint);
      reveal(shown);
    }
    fill(null);
    render();
  } catch (err) {
    showError(err);
  } finally {
    setBusy(btn, false);
  }
}

function reveal(secret) {
  const panel = $('[data-role="secret-reveal"]');
  $("#wh-reveal").value = secret;
  panel.hidden = false;
  panel.focus();
}

function hideSecret() {
  $("#wh-reveal").value = "";
  $('[data-role="secret-reveal"]').hidden = true;
  form.elements.url.focus();
}

async function copySecret() {
  const input = $("#wh-reveal");
  try {
    await navigator.clipboard.writeText(input.value);
    toast({ title: t("Secret copied"), kind: "success", timeout: 2500 });
  } catch {
    input.select(); // no clipboard access (plain http): selected for Ctrl+C instead
    toast({ title: t("Press Ctrl+C to copy the selected secret"), timeout: 4000 });
  }
}

// ------------------------------------------------------------------ the list

function summary(events) {
  const names = events.map((t) => LABEL.get(t) || t);
  return names.length <= 3 ? names.join(", ") : tn("{first} and {count} more", "{first} and {count} more", names.length - 2, { first: names.slice(0, 2).join(", ") });
}

function row(endpoint) {
  const button = (label, testid, onClick, cls = "") => {
    const b = h("button", { class: `btn btn--sm ${cls}`, type: "button", "data-testid": testid, "aria-label": t("{action}: {url}", { action: label, url: endpoint.url }) }, label);
    b.addEventListener("click", () => onClick(b));
    return b;
  };
  return h(
    "tr",
    { "data-testid": "webhook-row", "data-endpoint-id": endpoint.id },
    h("td", { class: "webhook-url" }, h("code", {}, endpoint.url)),
    h("td", { title: endpoint.events.join(", ") }, summary(endpoint.events)),
    h("td", {}, h("span", { class: `badge ${endpoint.active ? "badge--solved" : ""}`, "data-testid": "webhook-status" }, endpoint.active ? t("Active") : t("Paused"))),
    h(
      "td",
      { class: "actions" },
      h(
        "span",
        { class: "button-row" },
        button(t("Deliveries"), "webhook-deliveries-open", () => openLog(endpoint)),
      button(t("Send test event"), "webhook-test", (b) => sendTest(endpoint, b)),
      button(t("Edit"), "webhook-edit", () => {
        fill(endpoint);
        form.scrollIntoView({ block: "start" });
        form.elements.url.focus();
      }),
        button(t("Delete"), "webhook-delete", () => remove(endpoint), "btn--danger-ghost"),
      ),
    ),
  );
}

function render() {
  $('[data-role="webhooks"]').replaceChildren(...state.endpoints.map(row));
  $('[data-role="webhooks-empty"]').hidden = state.endpoints.length > 0;
}

async function sendTest(endpoint, btn) {
  setBusy(btn, true);
  try {
    await api.post(`/webhooks/endpoints/${endpoint.id}/test`);
    toast({ title: t("Test event queued"), text: t("Its outcome shows in the endpoint's deliveries."), kind: "success", timeout: 4000 });
    await openLog(endpoint);
  } catch (err) {
    toastError(err, t("Could not send a test event"));
  } finally {
    setBusy(btn, false);
  }
}

async function remove(endpoint) {
  const ok = await confirmAction({
    title: t("Delete this endpoint?"),
    text: t("{url} gets no more events; what is still queued for it is dropped.", { url: endpoint.url }),
    ok: t("Delete endpoint"),
  });
  if (!ok) return;
  try {
    await api.del(`/webhooks/endpoints/${endpoint.id}`);
    state.endpoints = state.endpoints.filter((x) => x.id !== endpoint.id);
    if (state.editing && state.editing.id === endpoint.id) fill(null);
    if (state.log && state.log.id === endpoint.id) closeLog();
    render();
    toast({ title: t("Endpoint deleted"), kind: "success", timeout: 3000 });
  } catch (err) {
    toastError(err, t("Could not delete the endpoint"));
  }
}

// ------------------------------------------------------------------ the delivery log

function closeLog() {
  state.log = null;
  $('[data-role="deliveries"]').hidden = true;
}

async function openLog(endpoint) {
  state.log = endpoint;
  const card = $('[data-role="deliveries"]');
  $('[data-role="deliveries-title"]').textContent = t("Deliveries to {url}", { url: endpoint.url });
  card.hidden = false;
  await loadLog();
  $('[data-role="deliveries-title"]').focus();
}

async function loadLog() {
  if (!state.log) return;
  try {
    const page = await api.get(`/webhooks/endpoints/${state.log.id}/deliveries?limit=50`);
    $('[data-role="delivery-rows"]').replaceChildren(...page.items.map(deliveryRow));
    $('[data-role="deliveries-empty"]').hidden = page.items.length > 0;
  } catch (err) {
    toastError(err, t("Could not load the deliveries"));
  }
}

function deliveryRow(d) {
  const actions = h("td", { class: "actions" });
  if (d.status === "failed") {
    const retry = h("button", { class: "btn btn--sm", type: "button", "data-testid": "delivery-retry", "aria-label": t("Retry {event} of {when}", { event: LABEL.get(d.type) || d.type, when: formatDateTime(d.created_at) }) }, t("Retry"));
    retry.addEventListener("click", async () => {
      setBusy(retry, true);
      try {
        await api.post(`/webhooks/deliveries/${d.id}/retry`);
        toast({ title: t("Sending again"), kind: "success", timeout: 3000 });
        await loadLog();
      } catch (err) {
        toastError(err, t("Could not retry"));
        setBusy(retry, false);
      }
    });
    actions.append(retry);
  }
  return h(
    "tr",
    { "data-testid": "delivery-row", "data-status": d.status },
    h("td", {}, formatDateTime(d.created_at)),
    h("td", {}, LABEL.get(d.type) || d.type, d.reference ? h("span", { class: "muted small" }, ` ${d.reference}`) : ""),
    h("td", {}, h("span", { class: `badge badge--${STATUS_BADGE[d.status]}`, "data-testid": "delivery-status" }, STATUS[d.status] || d.status)),
    h("td", { "data-testid": "delivery-attempts" }, String(d.attempts)),
    h("td", { class: "webhook-error", "data-testid": "delivery-error" }, d.last_error || "—"),
    h("td", {}, d.next_attempt_at ? formatDateTime(d.next_attempt_at) : "—"),
    actions,
  );
}

// ------------------------------------------------------------------ start

async function main() {
  renderBoxes();
  fill(null);
  form.addEventListener("submit", save);
  $('[data-action="cancel-edit"]', form).addEventListener("click", () => fill(null));
  $('[data-action="copy-secret"]').addEventListener("click", copySecret);
  $('[data-action="hide-secret"]').addEventListener("click", hideSecret);
  $('[data-action="refresh-deliveries"]').addEventListener("click", loadLog);
  try {
    state.endpoints = (await api.get("/webhooks/endpoints")).items;
    render();
  } catch (err) {
    toastError(err, t("Could not load the webhook endpoints"));
  }
}

main();
