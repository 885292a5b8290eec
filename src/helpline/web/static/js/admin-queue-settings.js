// The admin page's queue settings dialog: one form per group (routing and timeouts, opening
// hours with the weekly grid, automatic messages), each saved on its own with PATCH
// /queues/{id}. A 422 is shown beside the field it is about (the server's message names it:
// "max_wait_s: …", "hours.weekly.tue: ranges overlap", "unknown time zone …"), the rest in the
// group's error line; a saved change shows at once (the queue row is drawn again).

import { collectSla, fillSla } from "./admin-queue-sla.js";
import { api } from "./api.js";
import { t } from "./i18n.js";
import { $, $$, h, openDialog, setBusy, showFormError, toast } from "./ui.js";

const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
const DAY_NAMES = {
  mon: t("Monday"),
  tue: t("Tuesday"),
  wed: t("Wednesday"),
  thu: t("Thursday"),
  fri: t("Friday"),
  sat: t("Saturday"),
  sun: t("Sunday"),
};

const st = { queue: null, onSaved: null, hooks: {} };
const dialog = () => $("#queue-settings-dialog");
const group = (name) => $(`form[data-group="${name}"]`, dialog());

// ------------------------------------------------------------------ errors beside fields

function clearErrors(form) {
  showFormError(form, null);
  for (const el of $$("[data-error-for]", form)) el.textContent = "";
  for (const el of $$('[aria-invalid="true"]', form)) el.setAttribute("aria-invalid", "false");
}

function fieldError(form, key, message) {
  const el = $(`[data-error-for="${key}"]`, form);
  if (!el) return false;
  el.textContent = message;
  const control = el.closest(".field, tr, li")?.querySelector("input, select, textarea");
  if (control) {
    control.setAttribute("aria-invalid", "true");
    control.focus();
  }
  return true;
}

/** Put a 422's message next to the field it names; true when one took it. */
function placeError(form, err) {
  if (err?.status !== 422) return false;
  const message = String(err.message || "");
  const day = /hours\.weekly\.(mon|tue|wed|thu|fri|sat|sun)[^;]*/.exec(message);
  if (day) return fieldError(form, `day.${day[1]}`, day[0].replace(/^hours\.weekly\.\w+:\s*/, ""));
  const exception = /exception (\d{4}-\d{2}-\d{2})[^;]*/.exec(message);
  if (exception) return fieldError(form, `exception.${exception[1]}`, exception[0]);
  if (/time zone|timezone/.test(message)) return fieldError(form, "timezone", message.replace(/^hours:\s*(Value error,\s*)?/, ""));
  const named = /^([a-z_.]+): (.*)$/.exec(message.split("; ")[0]);
  if (named) return fieldError(form, named[1], named[2]);
  return false;
}

async function save(form, change, what) {
  const btn = $('[type="submit"]', form);
  clearErrors(form);
  setBusy(btn, true);
  try {
    Object.assign(st.queue, await api.patch(`/queues/${st.queue.id}`, change));
    st.onSaved?.(st.queue);
    fill();
    toast({ title: what, kind: "success", timeout: 3000, testid: "qs-saved" });
  } catch (err) {
    if (!placeError(form, err)) showFormError(form, err);
  } finally {
    setBusy(btn, false);
  }
}

// ------------------------------------------------------------------ routing and timeouts

function fillRouting() {
  const form = group("routing");
  form.elements.routing_mode.value = st.queue.routing_mode;
  form.elements.max_wait_s.value = String(st.queue.max_wait_s);
  form.elements.offer_timeout_s.value = String(st.queue.offer_timeout_s);
}

function wireRouting() {
  const form = group("routing");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    save(
      form,
      {
        routing_mode: form.elements.routing_mode.value,
        max_wait_s: Number(form.elements.max_wait_s.value),
        offer_timeout_s: Number(form.elements.offer_timeout_s.value),
      },
      t("Routing saved"),
    );
  });
}

// ------------------------------------------------------------------ opening hours

// "24:00" (the end of the day) is "00:00" in a time input, and back.
const toInput = (v) => (v === "24:00" ? "00:00" : v);
const fromInput = (v, isEnd) => (isEnd && v === "00:00" ? "24:00" : v);
const minutes = (v) => Number(v.slice(0, 2)) * 60 + Number(v.slice(3, 5));

function rangeRow(day, range, onChange) {
  const label = DAY_NAMES[day] || day;
  const start = h("input", { class: "input input--time", type: "time", value: toInput(range[0]), "aria-label": t("{day} opens", { day: label }), "data-testid": "hours-start" });
  const end = h("input", { class: "input input--time", type: "time", value: toInput(range[1]), "aria-label": t("{day} closes", { day: label }), "data-testid": "hours-end" });
  const remove = h("button", { class: "btn btn--sm btn--ghost", type: "button", "aria-label": t("Remove these hours on {day}", { day: label }), "data-testid": "hours-remove" }, "×");
  const row = h("div", { class: "hours-range", "data-role": "range" }, start, h("span", { "aria-hidden": "true" }, "–"), end, remove);
  for (const input of [start, end]) input.addEventListener("change", onChange);
  remove.addEventListener("click", () => {
    row.remove();
    onChange();
  });
  return row;
}

function rangesOf(container) {
  return $$('[data-role="range"]', container)
    .map((row) => {
      const [start, end] = $$("input", row);
      return [fromInput(start.value, false), fromInput(end.value, true)];
    })
    .filter(([a, b]) => a && b);
}

function drawBar(bar, ranges) {
  bar.replaceChildren(
    ...ranges
      .filter(([a, b]) => minutes(b) > minutes(a))
      .map(([a, b]) => {
        const span = h("span", { class: "hours-bar__open" });
        span.style.insetInlineStart = `${(minutes(a) / 1440) * 100}%`;
        span.style.width = `${((minutes(b) - minutes(a)) / 1440) * 100}%`;
        return span;
      }),
  );
}

function dayRow(day, ranges) {
  const list = h("div", { class: "hours-ranges" });
  const bar = h("div", { class: "hours-bar", "aria-hidden": "true" });
  const changed = () => drawBar(bar, rangesOf(list));
  for (const r of ranges) list.append(rangeRow(day, r, changed));
  const add = h("button", { class: "btn btn--sm", type: "button", "data-testid": "hours-add", "aria-label": t("Add hours on {day}", { day: DAY_NAMES[day] }) }, t("Add hours"));
  add.addEventListener("click", () => {
    const last = rangesOf(list).at(-1);
    const row = rangeRow(day, last ? [last[1] === "24:00" ? "23:00" : last[1], "24:00"] : ["09:00", "17:00"], changed);
    list.append(row);
    changed();
    $("input", row).focus();
  });
  changed();
  return h(
    "tr",
    { "data-day": day, "data-testid": "hours-day" },
    h("th", { scope: "row" }, DAY_NAMES[day]),
    h("td", {}, list, add, h("span", { class: "field-error", "data-error-for": `day.${day}`, "data-testid": "hours-day-error", role: "alert" })),
    h("td", { class: "hours-bar-cell" }, bar),
  );
}

function exceptionRow(ex) {
  const date = h("input", { class: "input", type: "date", value: ex.date || "", "aria-label": t("Date"), "data-testid": "exception-date" });
  const range = ex.hours?.[0] || ["", ""];
  const start = h("input", { class: "input input--time", type: "time", value: toInput(range[0]), "aria-label": t("Opens on that date (empty: closed)"), "data-testid": "exception-start" });
  const end = h("input", { class: "input input--time", type: "time", value: toInput(range[1]), "aria-label": t("Closes on that date"), "data-testid": "exception-end" });
  const remove = h("button", { class: "btn btn--sm btn--ghost", type: "button", "aria-label": t("Remove this exception") }, "×");
  const error = h("span", { class: "field-error", "data-error-for": `exception.${ex.date || ""}`, role: "alert" });
  date.addEventListener("change", () => (error.dataset.errorFor = `exception.${date.value}`));
  const li = h("li", { class: "hours-exception", "data-role": "exception" }, date, start, h("span", { "aria-hidden": "true" }, "–"), end, remove, error);
  remove.addEventListener("click", () => li.remove());
  return li;
}

function fillHours() {
  const form = group("hours");
  const hours = st.queue.hours;
  form.elements.always.checked = !hours;
  $('[data-role="hours-editor"]', form).hidden = !hours;
  form.elements.timezone.value = hours?.timezone || Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  const weekly = hours?.weekly || { mon: [["09:00", "17:00"]], tue: [["09:00", "17:00"]], wed: [["09:00", "17:00"]], thu: [["09:00", "17:00"]], fri: [["09:00", "17:00"]] };
  $('[data-role="days"]', form).replaceChildren(...DAYS.map((d) => dayRow(d, weekly[d] || [])));
  $('[data-role="exceptions"]', form).replaceChildren(...(hours?.exceptions || []).map(exceptionRow));
}

function collectHours(form) {
  if (form.elements.always.checked) return null;
  const weekly = {};
  for (const row of $$('[data-role="days"] tr', form)) weekly[row.dataset.day] = rangesOf(row);
  const exceptions = $$('[data-role="exception"]', form)
    .map((li) => {
      const [date, start, end] = $$("input", li);
      return { date: date.value, hours: start.value && end.value ? [[fromInput(start.value, false), fromInput(end.value, true)]] : [] };
    })
    .filter((ex) => ex.date);
  return { timezone: form.elements.timezone.value.trim(), weekly, exceptions };
}

function wireHours() {
  const form = group("hours");
  const zones = typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : [];
  $("#qs-tz-list").replaceChildren(...zones.map((z) => h("option", { value: z })));
  form.elements.always.addEventListener("change", () => ($('[data-role="hours-editor"]', form).hidden = form.elements.always.checked));
  $('[data-action="add-exception"]', form).addEventListener("click", () => {
    const li = exceptionRow({ date: "", hours: [] });
    $('[data-role="exceptions"]', form).append(li);
    $("input", li).focus();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    save(form, { hours: collectHours(form) }, t("Opening hours saved"));
  });
}

// ------------------------------------------------------------------ automatic messages

function fillAuto() {
  const form = group("auto");
  const auto = st.queue.auto_reply;
  form.elements.auto_on.checked = Boolean(auto);
  form.elements.after_s.value = String(auto?.after_s ?? 60);
  form.elements.text.value = auto?.text || "";
  form.elements.away_text.value = st.queue.away_text || "";
}

function wireAuto() {
  const form = group("auto");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const on = form.elements.auto_on.checked;
    save(
      form,
      {
        auto_reply: on ? { after_s: Number(form.elements.after_s.value), text: form.elements.text.value } : null,
        away_text: form.elements.away_text.value,
      },
      t("Automatic messages saved"),
    );
  });
}

// ------------------------------------------------------------------ the dialog

function fill() {
  fillRouting();
  fillHours();
  fillAuto();
  fillSla(group("sla"), st.queue);
}

function wireSla() {
  const form = group("sla");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    save(form, collectSla(form), t("Service levels saved"));
  });
}

/** Open the dialog for `queue`; `onSaved(queue)` after each saved change. `hooks`: what the
 * page does for the groups edited elsewhere (`fields(queue)`, `retention()`). */
export function openQueueSettings(queue, onSaved, hooks = {}) {
  st.queue = queue;
  st.onSaved = onSaved;
  st.hooks = hooks;
  $("#qs-title").textContent = t("Settings of {queue}", { queue: queue.name });
  for (const form of $$("form[data-group]", dialog())) clearErrors(form);
  fill();
  openDialog(dialog());
}

export function wireQueueSettings() {
  wireRouting();
  wireHours();
  wireAuto();
  wireSla();
  $('[data-action="qs-fields"]', dialog()).addEventListener("click", () => {
    dialog().close();
    st.hooks.fields?.(st.queue);
  });
  $('[data-action="qs-retention"]', dialog()).addEventListener("click", () => {
    dialog().close();
    st.hooks.retention?.();
  });
}
