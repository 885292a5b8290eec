// The Service Manager view of the Agent Console (`#requests`, `#requests/SR-000001`): the
// request list with filters, search and sorting, and the request view (details, status,
// priority, team, assignee, comments public or internal, timeline, linked chat transcript).
// Only transitions allowed by the contract are offered; the server still has the last word
// and its error message is shown as is.

import { t, tn } from "./i18n.js";
import { api } from "./api.js";
import { markWarned, requestClock, slaChip, startSlaTicker } from "./sla.js";
import { $, PRIORITY, REQUEST_STATUS, formatDateTime, h, relative, showFormError, statusBadge } from "./ui.js";

/** The contract's transition table (shared/ARCHITECTURE.md, "Service Manager"). */
export const TRANSITIONS = {
  new: ["open", "in_progress", "cancelled"],
  open: ["in_progress", "on_hold", "resolved", "cancelled"],
  in_progress: ["on_hold", "resolved", "cancelled"],
  on_hold: ["open", "in_progress", "resolved", "cancelled"],
  resolved: ["closed", "open"],
  closed: [],
  cancelled: [],
};

const ref = (r) => encodeURIComponent(r);

const st = {
  me: null,
  queues: [],
  staff: null, // [{id, name}] for supervisors/admins (GET /users), else null
  next: null,
  current: null, // reference shown
  loaded: false,
  loadSeq: 0,
};

export function initRequests({ me, queues }) {
  startSlaTicker();
  st.me = me;
  st.queues = queues;
  const form = $('[data-role="requests-filters"]');
  const team = form.elements.team_id;
  team.replaceChildren(h("option", { value: "" }, t("Any team")), ...queues.map((q) => h("option", { value: q.id }, q.name)));
  let timer = null;
  form.addEventListener("input", (e) => {
    clearTimeout(timer);
    timer = setTimeout(() => loadList(), e.target.name === "q" ? 250 : 0);
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    loadList();
  });
  $('[data-action="requests-refresh"]').addEventListener("click", () => {
    loadList();
    if (st.current) openRequest(st.current);
  });
  $('[data-action="requests-more"]').addEventListener("click", () => loadList(true));
}

/** The `sla.warning` frame of a request: its chips (list row, open request) turn "At risk". */
export function requestSlaWarned(frame) {
  const chips = [...document.querySelectorAll('[data-testid="sr-row"]')]
    .filter((a) => a.dataset.reference === frame.reference)
    .map((a) => a.querySelector("[data-sla-live]"));
  if (st.current === frame.reference) chips.push(document.querySelector('[data-testid="sr-sla"]'));
  for (const el of chips) if (el) markWarned(el, frame.target);
}

/** Show the view; `reference` (or null) selects the request shown on the right. */
// Each navigation to the requests view; an older one still loading the list must not undo a
// newer one (#requests, then #requests/SR-1 before the list arrived, showed "No request open").
let shown = 0;

export async function showRequests(reference) {
  const mine = ++shown;
  const layout = $(".requests-layout");
  layout.dataset.view = reference ? "detail" : "list";
  if (!st.loaded) {
    st.loaded = true;
    if (st.me.role === "admin" || st.me.role === "supervisor") {
      try {
        const res = await api.get("/users?limit=200");
        st.staff = (res.items || []).filter((u) => u.role !== "customer" && u.active !== false);
      } catch {
        st.staff = null;
      }
    }
    await loadList();
  }
  if (mine !== shown) return;
  if (reference && reference !== st.current) await openRequest(reference);
  else if (!reference) {
    st.current = null;
    markSelected();
    $('[data-role="request-detail"]').replaceChildren(
      h("div", { class: "empty" }, h("strong", {}, t("No request open")), h("span", { class: "small" }, t("Pick a request from the list."))),
    );
  }
}

function query() {
  const form = $('[data-role="requests-filters"]');
  const params = new URLSearchParams();
  for (const name of ["q", "status", "team_id", "assignee_id", "priority", "sort"]) {
    let value = form.elements[name].value.trim();
    if (name === "assignee_id" && value === "me") value = st.me.id;
    if (value && !(name === "sort" && value === "-created_at")) params.set(name, value);
  }
  return params;
}

async function loadList(more = false) {
  const list = $('[data-testid="requests-list"]');
  const params = query();
  params.set("limit", "50");
  if (more && st.next) params.set("cursor", st.next);
  const seq = ++st.loadSeq;
  let page;
  try {
    page = await api.get(`/requests?${params}`);
  } catch (err) {
    if (seq !== st.loadSeq) return;
    list.replaceChildren(h("li", { class: "alert alert--error" }, t("Could not load requests: {reason}", { reason: err.message })));
    return;
  }
  if (seq !== st.loadSeq) return;
  const rows = (page.items || []).map(row);
  if (more) list.append(...rows);
  else list.replaceChildren(...rows);
  st.next = page.next || null;
  $('[data-action="requests-more"]').hidden = !st.next;
  $('[data-role="requests-empty"]').hidden = list.children.length > 0;
  markSelected();
}

function row(r) {
  const status = h("span", {});
  statusBadge(status, r.status, REQUEST_STATUS);
  return h(
    "li",
    {},
    h(
      "a",
      {
        class: "req-row",
        href: `#requests/${r.reference}`,
        "data-testid": "sr-row",
        "data-reference": r.reference,
        "data-status": r.status,
      },
      h("span", { class: "req-row__top" }, h("span", { class: "badge badge--ref" }, r.reference), status, h("span", { class: `badge badge--${r.priority}` }, PRIORITY[r.priority] || r.priority), slaChip(requestClock(r), "sr-row-sla")),
      h("span", { class: "req-row__summary" }, r.summary),
      h(
        "span",
        { class: "req-row__meta" },
        [r.customer?.name, r.team?.name, r.assignee ? `→ ${r.assignee.name}` : t("Unassigned"), t("updated {when}", { when: relative(r.updated_at) })].filter(Boolean).join(" · "),
      ),
    ),
  );
}

function markSelected() {
  for (const a of document.querySelectorAll('[data-testid="sr-row"]')) {
    if (a.dataset.reference === st.current) a.setAttribute("aria-current", "true");
    else a.removeAttribute("aria-current");
  }
}

async function openRequest(reference) {
  st.current = reference;
  markSelected();
  const pane = $('[data-role="request-detail"]');
  pane.replaceChildren(h("p", { class: "muted small pad" }, t("Loading…")));
  let r;
  let timeline;
  try {
    // Ask the list first (never a 404): a link to a request that is not, or no longer,
    // visible must not put a failed request in the browser console.
    if (!(await isVisible(reference))) throw Object.assign(new Error("not visible"), { status: 404 });
    [r, timeline] = await Promise.all([api.get(`/requests/${ref(reference)}`), api.get(`/requests/${ref(reference)}/timeline`)]);
  } catch (err) {
    if (st.current !== reference) return;
    pane.replaceChildren(
      h("div", { class: "empty" }, h("strong", {}, err.status === 404 ? t("{reference} was not found", { reference }) : t("Could not load the request")), h("span", { class: "small" }, err.status === 404 ? t("It does not exist or is not visible to you.") : err.message)),
    );
    return;
  }
  if (st.current !== reference) return;
  renderDetail(pane, r, timeline.items || []);
}

async function isVisible(reference) {
  const page = await api.get(`/requests?${new URLSearchParams({ q: reference, limit: "20" })}`);
  return (page.items || []).some((x) => x.reference === reference);
}

function field(label, control, id) {
  return h("div", { class: "field" }, h("label", { for: id }, label), control);
}

function renderDetail(pane, r, timeline) {
  const statusEl = h("span", { "data-testid": "sr-status-badge" });
  statusBadge(statusEl, r.status, REQUEST_STATUS);
  const error = h("p", { class: "form-error", role: "alert", "data-role": "error" });

  const patch = async (body, control) => {
    error.textContent = "";
    if (control) control.disabled = true;
    try {
      const updated = await api.patch(`/requests/${ref(r.reference)}`, body);
      if (await isVisible(r.reference)) await openRequest(r.reference);
      else {
        // Moved to a team I am not in (and not assigned to me): it left my view.
        st.current = null;
        pane.replaceChildren(
          h("div", { class: "empty" }, h("strong", {}, t("{reference} moved to {team}", { reference: r.reference, team: updated.team?.name || t("another team") })), h("span", { class: "small" }, t("It is no longer in your teams' requests."))),
        );
      }
      loadList();
    } catch (err) {
      error.textContent = err.message;
      if (control) control.disabled = false;
    }
  };

  // Status: the current one plus the allowed moves.
  const allowed = TRANSITIONS[r.status] || [];
  const status = h(
    "select",
    { class: "select", id: "sr-status", "data-testid": "sr-status", disabled: allowed.length === 0 },
    h("option", { value: r.status }, `${REQUEST_STATUS[r.status]} (current)`),
    ...allowed.map((s) => h("option", { value: s }, r.status === "resolved" && s === "open" ? t("Open (reopen)") : REQUEST_STATUS[s])),
  );
  status.addEventListener("change", () => status.value !== r.status && patch({ status: status.value }, status));

  const priority = h(
    "select",
    { class: "select", id: "sr-priority", "data-testid": "sr-priority" },
    ...Object.entries(PRIORITY).map(([v, label]) => h("option", { value: v, selected: v === r.priority }, label)),
  );
  priority.addEventListener("change", () => patch({ priority: priority.value }, priority));

  const teams = st.queues.some((q) => q.id === r.team?.id) ? st.queues : [...st.queues, r.team];
  const team = h("select", { class: "select", id: "sr-team", "data-testid": "sr-team" }, ...teams.map((q) => h("option", { value: q.id, selected: q.id === r.team?.id }, q.name)));
  team.addEventListener("change", () => patch({ team_id: team.value }, team));

  let assignee;
  if (st.staff) {
    const people = st.staff.some((u) => u.id === r.assignee?.id) || !r.assignee ? st.staff : [...st.staff, r.assignee];
    assignee = h(
      "select",
      { class: "select", id: "sr-assignee", "data-testid": "sr-assignee" },
      h("option", { value: "" }, t("Unassigned")),
      ...people.map((u) => h("option", { value: u.id, selected: u.id === r.assignee?.id }, u.name)),
    );
    assignee.addEventListener("change", () => patch({ assignee_id: assignee.value || null }, assignee));
  } else {
    const mine = r.assignee?.id === st.me.id;
    const btn = h(
      "button",
      { class: "btn btn--sm", type: "button", id: "sr-assignee", "data-testid": mine ? "sr-unassign" : "sr-assign-me" },
      mine ? t("Unassign me") : t("Assign to me"),
    );
    btn.addEventListener("click", () => patch({ assignee_id: mine ? null : st.me.id }, btn));
    const unassign = r.assignee && !mine ? h("button", { class: "btn btn--sm btn--ghost", type: "button", "data-testid": "sr-unassign" }, t("Unassign")) : null;
    unassign?.addEventListener("click", () => patch({ assignee_id: null }, unassign));
    assignee = h("div", { class: "sr-assign" }, h("span", { "data-testid": "sr-assignee-name" }, r.assignee?.name || t("Unassigned")), btn, unassign);
  }

  // Comment form.
  const commentForm = h(
    "form",
    { class: "sr-comment", novalidate: true },
    h("p", { class: "form-error", role: "alert", "data-role": "error" }),
    h("label", { for: "sr-comment-text" }, t("Add a comment")),
    h("textarea", { class: "textarea", id: "sr-comment-text", name: "text", rows: "3", maxlength: "20000", "data-testid": "sr-comment" }),
    h(
      "div",
      { class: "sr-comment__foot" },
      h("label", { class: "checkbox" }, h("input", { type: "checkbox", name: "internal", "data-testid": "sr-comment-internal" }), " ", t("Internal (agents only)")),
      h("button", { class: "btn btn--primary btn--sm", type: "submit", "data-testid": "sr-comment-submit" }, t("Add comment")),
    ),
  );
  commentForm.addEventListener("submit", async (e) => {
    e.preventDefault();
    const text = commentForm.elements.text.value.trim();
    if (!text) {
      showFormError(commentForm, { message: t("Write a comment first.") });
      return;
    }
    const submit = commentForm.querySelector('[type="submit"]');
    submit.disabled = true;
    try {
      await api.post(`/requests/${ref(r.reference)}/comments`, { text, internal: commentForm.elements.internal.checked });
      await openRequest(r.reference);
      $("#sr-comment-text")?.focus();
    } catch (err) {
      submit.disabled = false;
      showFormError(commentForm, err);
    }
  });

  // Linked chat transcript, fetched on demand.
  let transcript = null;
  if (r.chat_id) {
    const pre = h("pre", { class: "sr-transcript", "data-testid": "sr-transcript", hidden: true });
    const btn = h("button", { class: "btn btn--sm", type: "button", "aria-expanded": "false", "data-testid": "sr-transcript-toggle" }, r.chat_reference ? t("Chat transcript ({reference})", { reference: r.chat_reference }) : t("Chat transcript"));
    btn.addEventListener("click", async () => {
      if (!pre.hidden) {
        pre.hidden = true;
        btn.setAttribute("aria-expanded", "false");
        return;
      }
      pre.hidden = false;
      btn.setAttribute("aria-expanded", "true");
      pre.textContent = t("Loading…");
      try {
        const text = await api.get(`/requests/${ref(r.reference)}/transcript`);
        pre.textContent = typeof text === "string" ? text : JSON.stringify(text, null, 2);
      } catch (err) {
        pre.textContent = t("Could not load the transcript: {reason}", { reason: err.message });
      }
    });
    transcript = h("section", { class: "sr-section" }, btn, pre);
  }

  const back = h("a", { class: "btn btn--ghost btn--sm sr-back", href: "#requests" }, t("← All requests"));
  pane.replaceChildren(
    h(
      "article",
      { class: "sr", "data-reference": r.reference, "aria-labelledby": "sr-title" },
      back,
      h(
        "header",
        { class: "sr__head" },
        h("p", { class: "sr__ref" }, h("span", { class: "badge badge--ref", "data-testid": "sr-reference" }, r.reference), statusEl, h("span", { class: `badge badge--${r.priority}`, "data-testid": "sr-priority-badge" }, PRIORITY[r.priority]), slaChip(requestClock(r), "sr-sla")),
        h("h2", { id: "sr-title", "data-testid": "sr-summary" }, r.summary),
        h(
          "dl",
          { class: "sr__meta" },
          h("dt", {}, t("Customer")),
          h("dd", { "data-testid": "sr-customer" }, [r.customer?.name, r.customer?.email].filter(Boolean).join(" · ")),
          h("dt", {}, t("Team")),
          h("dd", {}, r.team?.name || "—"),
          h("dt", {}, t("Assignee")),
          h("dd", {}, r.assignee?.name || t("Unassigned")),
          h("dt", {}, t("Created")),
          h("dd", {}, formatDateTime(r.created_at)),
          h("dt", {}, t("Updated")),
          h("dd", {}, formatDateTime(r.updated_at)),
          r.resolved_at ? [h("dt", {}, t("Resolved")), h("dd", {}, formatDateTime(r.resolved_at))] : null,
        ),
      ),
      r.description ? h("div", { class: "sr__desc", "data-testid": "sr-description" }, r.description) : h("p", { class: "muted small" }, t("No description.")),
      h(
        "section",
        { class: "sr-section sr-actions", "aria-label": t("Change the request") },
        error,
        h("div", { class: "sr-actions__grid" }, field(t("Status"), status, "sr-status"), field(t("Priority"), priority, "sr-priority"), field(t("Team"), team, "sr-team"), field(t("Assignee"), assignee, "sr-assignee")),
      ),
      transcript,
      h(
        "section",
        { class: "sr-section" },
        h("h3", {}, t("Timeline")),
        h("ol", { class: "timeline sr-timeline", "data-testid": "sr-timeline" }, ...timeline.map(entry)),
        commentForm,
      ),
    ),
  );
}

export function timelineText(entry) {
  const who = entry.actor?.name || t("System");
  const d = entry.data || {};
  switch (entry.type) {
    case "created":
      return t("{who} created the request", { who });
    case "comment":
      return `${who}: ${d.text || ""}`;
    case "status_changed":
      return t("{who} changed the status from {from} to {to}", { who, from: REQUEST_STATUS[d.from] || d.from, to: REQUEST_STATUS[d.to] || d.to });
    case "assigned":
      return d.assignee?.name ? t("{who} assigned it to {name}", { who, name: d.assignee.name }) : t("{who} removed the assignee", { who });
    case "priority_changed":
      return t("{who} changed the priority from {from} to {to}", { who, from: PRIORITY[d.from] || d.from, to: PRIORITY[d.to] || d.to });
    case "team_changed":
      return t("{who} moved it to team {team}", { who, team: d.name || "" }).trim();
    case "chat_linked":
      return t("Linked to chat {reference}", { reference: d.reference || "" }).trim();
    case "sla_breached":
      return d.target === "resolution"
        ? t("Resolution target missed (due {when})", { when: formatDateTime(d.due_at) })
        : t("Response target missed (due {when})", { when: formatDateTime(d.due_at) });
    default:
      return `${who}: ${entry.type}`;
  }
}

function entry(item) {
  return h(
    "li",
    { class: item.internal ? "timeline__item timeline__item--internal" : "timeline__item", "data-testid": "sr-timeline-entry", "data-type": item.type },
    h("span", { class: "timeline__text" }, item.internal ? h("span", { class: "badge badge--on_hold" }, t("Internal")) : null, " ", timelineText(item)),
    h("span", { class: "timeline__when" }, formatDateTime(item.at)),
  );
}
