// The Reports view of the Agent Console (`#reports`, supervisors and admins), drawn from
// GET /reports/summary: totals, chats per day (bars), waiting and handling time (median and
// p90), the outcome split, the ratings distribution, the service levels (chats' first answer;
// requests' response and resolution per priority), per-queue and per-agent tables, each
// with its CSV download (GET /reports/export.csv?table=…). Charts are inline SVG built here;
// colours come from the stylesheet (classes), never from inline styles (CSP).

import { formatDate, formatNumber, parts, t, tn } from "./i18n.js";
import { api } from "./api.js";
import { $, formatDuration, h } from "./ui.js";

const SVG_NS = "http://www.w3.org/2000/svg";

const rp = { queues: [], loaded: false, seq: 0 };

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== null && v !== undefined) el.setAttribute(k, String(v));
  for (const c of children) if (c) el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  return el;
}

const isoDay = (d) => d.toISOString().slice(0, 10);
const secs = (v) => (v === null || v === undefined ? "—" : formatDuration(v));
const num = (v) => formatNumber(v ?? 0);
const oneDecimal = (v) => formatNumber(Number(v), { minimumFractionDigits: 1, maximumFractionDigits: 1 });
// The report's days are UTC calendar days ("2026-12-01"): formatted as such, in the page's language.
const day = (iso, options = { dateStyle: "medium", timeZone: "UTC" }) => formatDate(`${iso}T00:00:00Z`, options);

export function initReports({ queues, tags = [] }) {
  rp.queues = queues;
  const to = new Date();
  const from = new Date(to.getTime() - 29 * 86400000);
  const form = h(
    "form",
    { class: "report-filters card", novalidate: true, "data-testid": "report-filters" },
    h("div", { class: "field" }, h("label", { for: "report-from" }, t("From")), h("input", { class: "input", type: "date", id: "report-from", name: "from", value: isoDay(from), required: true, "data-testid": "report-from" })),
    h("div", { class: "field" }, h("label", { for: "report-to" }, t("To")), h("input", { class: "input", type: "date", id: "report-to", name: "to", value: isoDay(to), required: true, "data-testid": "report-to" })),
    h(
      "div",
      { class: "field" },
      h("label", { for: "report-queue" }, t("Queue")),
      h("select", { class: "select", id: "report-queue", name: "queue_id", "data-testid": "report-queue" }, h("option", { value: "" }, t("All queues")), ...queues.map((q) => h("option", { value: q.id }, q.name))),
    ),
    h(
      "div",
      { class: "field", hidden: tags.length === 0 },
      h("label", { for: "report-tag" }, t("Tag")),
      h("select", { class: "select", id: "report-tag", name: "tag", "data-testid": "report-tag" }, h("option", { value: "" }, t("Any tag")), ...tags.map((t) => h("option", { value: t.id }, t.name))),
    ),
    h("div", { class: "field report-filters__go" }, h("button", { class: "btn btn--primary", type: "submit", "data-testid": "report-apply" }, t("Show report"))),
  );
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    load();
  });
  $('[data-role="reports-view"]').replaceChildren(
    h(
      "div",
      { class: "view-inner" },
      h("div", { class: "view-head" }, h("h1", { id: "reports-heading" }, t("Reports"))),
      form,
      h("p", { class: "form-error", role: "alert", "data-testid": "report-error" }),
      h("div", { "data-role": "report-body", "aria-live": "polite" }),
    ),
  );
}

export function showReports() {
  if (!rp.loaded) {
    rp.loaded = true;
    load();
  }
}

function params(table) {
  const form = $('[data-testid="report-filters"]');
  const p = new URLSearchParams();
  if (table) p.set("table", table);
  p.set("from", form.elements.from.value);
  p.set("to", form.elements.to.value);
  if (form.elements.queue_id.value) p.set("queue_id", form.elements.queue_id.value);
  if (form.elements.tag.value) p.set("tag", form.elements.tag.value);
  return p;
}

async function load() {
  const error = $('[data-testid="report-error"]');
  const form = $('[data-testid="report-filters"]');
  if (!form.elements.from.value || !form.elements.to.value) {
    error.textContent = t("Pick both dates.");
    return;
  }
  if (form.elements.from.value > form.elements.to.value) {
    error.textContent = t("The start date is after the end date.");
    return;
  }
  error.textContent = "";
  const seq = ++rp.seq;
  let data;
  try {
    data = await api.get(`/reports/summary?${params()}`);
  } catch (err) {
    if (seq === rp.seq) error.textContent = err.message;
    return;
  }
  if (seq !== rp.seq) return;
  render(data);
}

function csvLink(table, title) {
  return h(
    "a",
    { class: "btn btn--sm btn--ghost", href: `/api/v1/reports/export.csv?${params(table)}`, download: `helpline-${table}.csv`, "aria-label": t("Download CSV: {table}", { table: title }), "data-testid": `report-csv-${table}` },
    t("Download CSV"),
  );
}

function section(title, table, ...body) {
  return h("section", { class: "card report-card", "aria-label": title }, h("div", { class: "report-card__head" }, h("h2", {}, title), table ? csvLink(table, title) : null), ...body);
}

/** "50 % (2 of 4)" of met and missed, or "—" when nothing was decided. */
function shareText(met, missed, share) {
  if (share === null || share === undefined) return "—";
  return t("{share} ({met} of {total})", { share: formatNumber(share, { style: "percent", maximumFractionDigits: 1 }), met: formatNumber(met), total: formatNumber(met + missed) });
}

const share = (s) => (s ? shareText(s.met, s.missed, s.share) : "—");
const rowShare = (row, prefix) => shareText(row[`${prefix}met`] ?? 0, row[`${prefix}missed`] ?? 0, row[`${prefix}met_share`]);

const PRIORITY_LABEL = { urgent: t("Urgent"), high: t("High"), normal: t("Normal"), low: t("Low") };

/** Service levels: chats answered in time, then requests per priority and in all. */
function serviceLevels(d) {
  const req = d.request_sla || { response: null, resolution: null, priorities: [] };
  const rows = [...req.priorities, { priority: "all", response: req.response, resolution: req.resolution }];
  return h(
    "div",
    { class: "stack" },
    h("p", {}, t("Chats answered in time:"), " ", h("strong", { "data-testid": "report-sla-chats" }, share(d.sla))),
    h(
      "div",
      { class: "table-wrap", tabindex: "0" },
      h(
        "table",
        { class: "table report-table" },
        h("caption", { class: "small muted" }, t("Requests created in the range, per priority")),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, t("Priority")), h("th", { scope: "col", class: "num" }, t("Answered in time")), h("th", { scope: "col", class: "num" }, t("Resolved in time")))),
        h(
          "tbody",
          {},
          ...rows.map((p) =>
            h(
              "tr",
              { "data-testid": "report-sla-row", "data-priority": p.priority },
              h("th", { scope: "row" }, p.priority === "all" ? t("All requests") : PRIORITY_LABEL[p.priority] || p.priority),
              h("td", { class: "num", "data-testid": "report-sla-response" }, share(p.response)),
              h("td", { class: "num", "data-testid": "report-sla-resolution" }, share(p.resolution)),
            ),
          ),
        ),
      ),
    ),
  );
}

function render(d) {
  const totals = d.totals || {};
  const tiles = [
    [t("Chats"), totals.chats, "chats"],
    [t("Solved"), totals.solved, "solved"],
    [t("Cancelled"), totals.cancelled, "cancelled"],
    [t("Expired"), totals.expired, "expired"],
    [t("Open now"), totals.open, "open"],
    [t("Requests raised"), totals.requests_raised, "requests"],
  ];
  const r = d.ratings || { count: 0, average: null, distribution: [] };
  $('[data-role="report-body"]').replaceChildren(
    h("p", { class: "muted small" }, tn("{from} to {to} · {count} day · UTC", "{from} to {to} · {count} days · UTC", d.days, { from: day(d.from), to: day(d.to) })),
    h("div", { class: "report-tiles" }, ...tiles.map(([label, value, key]) => h("div", { class: "report-tile card" }, h("span", { class: "report-tile__label" }, label), h("strong", { "data-testid": `report-total-${key}` }, num(value))))),
    h(
      "div",
      { class: "report-grid" },
      section(t("Chats per day"), "daily", chatsPerDay(d.daily || [])),
      section(t("Waiting and handling time"), null, timesChart(d.waiting_time, d.handling_time)),
      section(t("Outcome"), null, outcomeChart(totals)),
      section(
        t("Ratings"),
        "ratings",
        h(
          "p",
          { class: "report-rating" },
          h("strong", { "data-testid": "report-ratings-average" }, r.average === null || r.average === undefined ? "—" : oneDecimal(r.average)),
          " ",
          ...parts(tn("average from {ratings} rating", "average from {ratings} ratings", r.count), { ratings: h("strong", { "data-testid": "report-ratings-count" }, num(r.count)) }),
        ),
        ratingsChart(r.distribution || []),
      ),
      section(t("Service levels"), "request_sla", serviceLevels(d)),
    ),
    section(
      t("Queues"),
      "queues",
      table(
        [t("Queue"), t("Chats"), t("Solved"), t("Cancelled"), t("Expired"), t("Open"), t("Requests"), t("Wait median"), t("Wait p90"), t("Handle median"), t("Handle p90"), t("Rating"), ...SLA_HEADERS()],
        (d.queues || []).map((q) => [q.name, q.chats, q.solved, q.cancelled, q.expired, q.open, q.requests_raised, secs(q.wait_median_s), secs(q.wait_p90_s), secs(q.handle_median_s), secs(q.handle_p90_s), rating(q), ...slaCells(q)]),
        "report-queue-row",
      ),
    ),
    section(
      t("Agents"),
      "agents",
      table(
        [t("Agent"), t("Chats"), t("Solved"), t("Handle median"), t("Handle p90"), t("Rating"), ...SLA_HEADERS()],
        (d.agents || []).map((a) => [a.name, a.chats, a.solved, secs(a.handle_median_s), secs(a.handle_p90_s), rating(a), ...slaCells(a)]),
        "report-agent-row",
      ),
    ),
  );
}

const SLA_HEADERS = () => [t("Chats answered in time"), t("Requests answered in time"), t("Requests resolved in time")];
const slaCells = (row) => [rowShare(row, "sla_"), rowShare(row, "request_response_"), rowShare(row, "request_resolution_")];

function rating(row) {
  return row.ratings ? `${oneDecimal(row.rating_avg)} (${num(row.ratings)})` : "—";
}

function table(headers, rows, testid) {
  if (!rows.length) return h("p", { class: "muted small" }, t("No data in this range."));
  return h(
    "div",
    { class: "table-wrap", tabindex: "0" },
    h(
      "table",
      { class: "table report-table" },
      h("thead", {}, h("tr", {}, ...headers.map((x, i) => h("th", { scope: "col", class: i ? "num" : null }, x)))),
      h("tbody", {}, ...rows.map((cells) => h("tr", { "data-testid": testid }, ...cells.map((c, i) => (i ? h("td", { class: "num" }, typeof c === "number" ? num(c) : String(c)) : h("th", { scope: "row" }, String(c))))))),
    ),
  );
}

/** Vertical bars, one per day, with a y axis of 0 and the maximum. */
function chatsPerDay(daily) {
  const W = 640;
  const H = 200;
  const left = 32;
  const bottom = 22;
  const max = Math.max(1, ...daily.map((x) => x.chats));
  const n = Math.max(1, daily.length);
  const step = (W - left) / n;
  const bw = Math.max(1, Math.min(28, step * 0.7));
  const total = daily.reduce((s, x) => s + x.chats, 0);
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": t("Chats per day: {total} in {days} days, at most {max} a day", { total: num(total), days: num(daily.length), max: num(max) }), "data-testid": "report-chart-daily" },
    svg("line", { x1: left, y1: H - bottom, x2: W, y2: H - bottom, class: "chart__axis" }),
    svg("text", { x: left - 6, y: 12, class: "chart__label", "text-anchor": "end" }, num(max)),
    svg("text", { x: left - 6, y: H - bottom, class: "chart__label", "text-anchor": "end" }, num(0)),
  );
  const labelEvery = Math.ceil(n / 8);
  daily.forEach((x, i) => {
    const hgt = ((H - bottom - 16) * x.chats) / max;
    const cx = left + step * i + step / 2;
    chart.appendChild(svg("rect", { x: cx - bw / 2, y: H - bottom - hgt, width: bw, height: Math.max(hgt, x.chats ? 1 : 0), class: "chart__bar", rx: 2 }, svg("title", {}, tn("{date}: {count} chat", "{date}: {count} chats", x.chats, { date: day(x.date) }))));
    if (i % labelEvery === 0) chart.appendChild(svg("text", { x: cx, y: H - 6, class: "chart__label", "text-anchor": "middle" }, day(x.date, { month: "numeric", day: "numeric", timeZone: "UTC" })));
  });
  return chart;
}

/** Horizontal bars: waiting and handling time, median and p90. */
function timesChart(wait, handle) {
  const rows = [
    [t("Waiting · median"), wait?.median_s, "chart__bar"],
    [t("Waiting · p90"), wait?.p90_s, "chart__bar chart__bar--soft"],
    [t("Handling · median"), handle?.median_s, "chart__bar chart__bar--alt"],
    [t("Handling · p90"), handle?.p90_s, "chart__bar chart__bar--alt-soft"],
  ];
  return hbars(rows.map(([label, v, cls]) => ({ label, value: v ?? 0, text: secs(v), cls })), t("Waiting and handling time"), "report-chart-times");
}

function outcomeChart(totals) {
  const rows = [
    [t("Solved"), totals.solved, "chart__bar chart__bar--ok"],
    [t("Cancelled"), totals.cancelled, "chart__bar chart__bar--warn"],
    [t("Expired"), totals.expired, "chart__bar chart__bar--bad"],
    [t("Open"), totals.open, "chart__bar chart__bar--soft"],
  ];
  const sum = rows.reduce((s, r) => s + (r[1] || 0), 0);
  return hbars(rows.map(([label, v, cls]) => ({ label, value: v || 0, text: sum ? `${num(v)} (${formatNumber((v || 0) / sum, { style: "percent" })})` : num(0), cls })), t("Outcome of chats"), "report-chart-outcome");
}

function ratingsChart(distribution) {
  const byScore = new Map(distribution.map((x) => [x.score, x.count]));
  const rows = [5, 4, 3, 2, 1].map((s) => ({ label: `${"★".repeat(s)} ${num(s)}`, value: byScore.get(s) || 0, text: num(byScore.get(s)), cls: "chart__bar chart__bar--star" }));
  return hbars(rows, t("Ratings distribution"), "report-chart-ratings");
}

function hbars(rows, label, testid) {
  const W = 420;
  const rowH = 28;
  const labelW = 130;
  const valueW = 70;
  const H = rows.length * rowH;
  const max = Math.max(1, ...rows.map((r) => r.value));
  const chart = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart chart--h", role: "img", "aria-label": `${label}: ${rows.map((r) => `${r.label} ${r.text}`).join(", ")}`, "data-testid": testid });
  rows.forEach((r, i) => {
    const y = i * rowH;
    const w = ((W - labelW - valueW) * r.value) / max;
    chart.appendChild(svg("text", { x: 0, y: y + rowH / 2 + 4, class: "chart__label" }, r.label));
    chart.appendChild(svg("rect", { x: labelW, y: y + 6, width: W - labelW - valueW, height: rowH - 12, class: "chart__track", rx: 3 }));
    chart.appendChild(svg("rect", { x: labelW, y: y + 6, width: Math.max(w, r.value ? 2 : 0), height: rowH - 12, class: r.cls, rx: 3 }, svg("title", {}, `${r.label}: ${r.text}`)));
    chart.appendChild(svg("text", { x: W, y: y + rowH / 2 + 4, class: "chart__label chart__value", "text-anchor": "end" }, r.text));
  });
  return chart;
}
