// The admin page's audit log: filters (who, action, dates), newest first, "Show older entries"
// by the list's cursor, and an "Export CSV" link that carries the same filters.

import { t, tn } from "./i18n.js";
import { api } from "./api.js";
import { $, formatDateTime, h, toastError } from "./ui.js";

const ACTIONS = {
  "login.succeeded": t("Signed in"),
  "login.failed": t("Sign-in failed"),
  "user.created": t("User added"),
  "user.updated": t("User changed"),
  "user.deactivated": t("User deactivated"),
  "queue.created": t("Queue added"),
  "queue.updated": t("Queue changed"),
  "queue.members_changed": t("Queue members changed"),
  "token.created": t("API token created"),
  "token.revoked": t("API token revoked"),
  "customer.exported": t("Customer data exported"),
  "customer.erased": t("Customer erased"),
  "webhook_endpoint.created": t("Webhook added"),
  "webhook_endpoint.updated": t("Webhook changed"),
  "webhook_endpoint.deleted": t("Webhook removed"),
  "webhook_endpoint.tested": t("Webhook test sent"),
  "webhook_delivery.retried": t("Webhook delivery retried"),
  "widget.sites_changed": t("Widget sites changed"),
  "retention.run": t("Retention run"),
};
// What an entry is about, in words; unknown kinds show as the API names them.
const TARGETS = {
  user: t("user"),
  queue: t("queue"),
  token: t("API token"),
  customer: t("customer"),
  webhook_endpoint: t("webhook"),
  webhook_delivery: t("webhook delivery"),
  widget: t("widget"),
  retention: t("retention"),
};
const PAGE = 50;

/** A local calendar day as the UTC time it starts at (`next`: the day after, for "to"). */
function dayStart(value, next = false) {
  const d = new Date(`${value}T00:00:00`);
  if (Number.isNaN(d.getTime())) return null;
  if (next) d.setDate(d.getDate() + 1);
  return d.toISOString();
}

function value(v) {
  if (v === null || v === undefined || v === "") return "—";
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** One line a person can read: "role: agent → supervisor; password changed". */
export function describe(entry, nameOf) {
  const d = entry.details || {};
  if (Array.isArray(d.fields) && d.from && d.to) {
    return d.fields
      .map((f) => (f in (d.to || {}) ? `${f}: ${value(d.from?.[f])} → ${value(d.to[f])}` : t("{field} changed", { field: f })))
      .join("; ");
  }
  if (Array.isArray(d.added) || Array.isArray(d.removed)) {
    const names = (ids) => (ids || []).map((id) => nameOf(id) || id).join(", ");
    return [d.added?.length ? t("added {names}", { names: names(d.added) }) : "", d.removed?.length ? t("removed {names}", { names: names(d.removed) }) : ""]
      .filter(Boolean)
      .join("; ");
  }
  // Anything else (a new queue's settings, a token's scopes): the values that say something.
  const empty = (v) => v === null || v === "" || (typeof v === "object" && Object.keys(v).length === 0);
  return Object.entries(d)
    .filter(([, v]) => !empty(v))
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(", ") : value(v)}`)
    .join("; ");
}

export function wireAuditLog({ users, queues }) {
  const form = $('[data-role="audit-filters"]');
  const body = $('[data-role="audit"]');
  const more = $('[data-action="audit-more"]');
  const csv = $('[data-role="audit-csv"]');
  const actorSelect = form.elements.actor_id;
  let entries = [];
  let next = null;
  let loaded = false;
  let generation = 0; // a newer query wins over a slower older one

  const actionSelect = form.elements.action;
  for (const [action, label] of Object.entries(ACTIONS)) actionSelect.append(h("option", { value: action }, label));

  function userName(id) {
    return users().find((u) => u.id === id)?.name;
  }

  function fillActors() {
    const chosen = actorSelect.value;
    const people = users()
      .filter((u) => !u.is_guest)
      .sort((a, b) => a.name.localeCompare(b.name));
    actorSelect.replaceChildren(
      h("option", { value: "" }, t("Anyone")),
      ...people.map((u) => h("option", { value: u.id, selected: u.id === chosen }, `${u.name} (${u.email})`)),
    );
  }

  function params() {
    const p = new URLSearchParams();
    const f = form.elements;
    if (f.actor_id.value) p.set("actor_id", f.actor_id.value);
    if (f.action.value) p.set("action", f.action.value);
    const from = f.from.value && dayStart(f.from.value);
    const to = f.to.value && dayStart(f.to.value, true);
    if (from) p.set("from", from);
    if (to) p.set("to", to);
    return p;
  }

  function target(entry) {
    const { type, id } = entry.target;
    let name = null;
    if (type === "user") name = userName(id);
    if (type === "queue") name = queues().find((q) => q.id === id)?.name;
    const kind = TARGETS[type] || type;
    return name ? `${kind} ${name}` : id ? `${kind} ${id.slice(0, 8)}` : kind;
  }

  function row(entry) {
    return h(
      "tr",
      { "data-testid": "audit-row", "data-action": entry.action },
      h("td", { class: "nowrap" }, h("time", { datetime: entry.at }, formatDateTime(entry.at))),
      h("td", {}, entry.actor ? entry.actor.name || entry.actor.id : h("span", { class: "muted" }, t("System"))),
      h("td", {}, h("span", { class: "badge" }, ACTIONS[entry.action] || entry.action)),
      h("td", {}, target(entry)),
      // The recorded values under the API's own field names: not for translation.
      h("td", { class: "audit-details", translate: "no" }, describe(entry, userName)),
      h("td", { class: "nowrap muted" }, entry.ip || ""),
    );
  }

  function render() {
    body.replaceChildren(...entries.map(row));
    $('[data-role="audit-empty"]').hidden = entries.length > 0;
    more.hidden = !next;
  }

  async function load({ append = false } = {}) {
    const mine = ++generation;
    const p = params();
    csv.href = `/api/v1/audit.csv${p.size ? `?${p}` : ""}`;
    p.set("limit", String(PAGE));
    if (append && next) p.set("cursor", next);
    try {
      const page = await api.get(`/audit?${p}`);
      if (mine !== generation) return;
      entries = append ? entries.concat(page.items) : page.items;
      next = page.next;
      render();
    } catch (err) {
      toastError(err, t("Could not load the audit log"));
    }
  }

  form.addEventListener("change", () => load());
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  more.addEventListener("click", () => load({ append: true }));

  return {
    show() {
      fillActors();
      if (!loaded) {
        loaded = true;
        load();
      }
    },
    /** The users or queues changed (loaded, renamed): names in the log follow. */
    refresh() {
      fillActors();
      if (loaded) render();
    },
  };
}
