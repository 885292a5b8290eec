// Service-level countdowns on chats and requests: a pure label from the item's due times, a
// chip that says its state in words and an icon (never by colour alone), and one ticker that
// refreshes every chip on the page each second without re-rendering the lists around them.

import { formatNumber, t } from "./i18n.js";
import { formatDateTime, h } from "./ui.js";

const MARKS = { ok: "○", warning: "⚠", breached: "!" };

function short(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const n = (v) => formatNumber(v);
  const two = (v) => formatNumber(v, { minimumIntegerDigits: 2 });
  // i18n: short units of a countdown ("5m 03s"); keep them short, they sit in a chip.
  if (s < 60) return t("{seconds}s", { seconds: n(s) });
  const m = Math.floor(s / 60);
  if (m < 60) return t("{minutes}m {seconds}s", { minutes: n(m), seconds: two(s % 60) });
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return t("{hours}h {minutes}m", { hours: n(hrs), minutes: two(m % 60) });
  return t("{days}d {hours}h", { days: n(Math.floor(hrs / 24)), hours: n(hrs % 24) });
}

// The clock of one target: {dueAt, warnAt, doneAt, breached, kind}. Returns null once met or
// without a target, else {state: "ok" | "warning" | "breached", text}.
export function slaState(clock, nowMs = Date.now()) {
  // No target, or the clock stopped (answered: in time, or late and already breached).
  if (!clock || !clock.dueAt || clock.doneAt) return null;
  const due = Date.parse(clock.dueAt);
  const warn = clock.warnAt ? Date.parse(clock.warnAt) : due;
  if (clock.breached || nowMs >= due) return { state: "breached", text: label(clock.kind, "breached", short((nowMs - due) / 1000)) };
  const state = nowMs >= warn || clock.warned ? "warning" : "ok";
  return { state, text: label(clock.kind, state, short((due - nowMs) / 1000)) };
}

// Whole sentences per target and state, so each translates as one.
function label(kind, state, time) {
  if (kind === "response") {
    if (state === "breached") return t("Response overdue {time}", { time });
    return state === "warning" ? t("At risk: response in {time}", { time }) : t("Response in {time}", { time });
  }
  if (kind === "resolution") {
    if (state === "breached") return t("Resolution overdue {time}", { time });
    return state === "warning" ? t("At risk: resolution in {time}", { time }) : t("Resolution in {time}", { time });
  }
  if (state === "breached") return t("Reply overdue {time}", { time });
  return state === "warning" ? t("At risk: reply in {time}", { time }) : t("Reply in {time}", { time });
}

// A chat's first-response clock (null when closed or without a target).
export function chatClock(chat) {
  const s = chat?.sla;
  if (!s || (chat.status !== "waiting" && chat.status !== "in_progress")) return null;
  return { dueAt: s.first_response_due_at, warnAt: s.warn_at, doneAt: s.first_response_at, breached: s.breached, warned: chat.slaWarned, kind: "reply" };
}

// A request's running clock: the response target until the first public answer, then the
// resolution target (null when resolved or closed, or without targets).
export function requestClock(req) {
  const s = req?.sla;
  if (!s || ["resolved", "closed"].includes(req.status)) return null;
  if (s.response_due_at && !s.first_response_at) return { dueAt: s.response_due_at, warnAt: s.response_warn_at, doneAt: null, breached: s.response_breached, kind: "response" };
  if (s.resolve_due_at) return { dueAt: s.resolve_due_at, warnAt: s.resolve_warn_at, doneAt: null, breached: s.resolve_breached, kind: "resolution" };
  return null;
}

function paint(el, clock) {
  const st = slaState(clock);
  el.hidden = !st;
  if (!st) return;
  el.dataset.sla = st.state;
  el.className = `sla-chip sla-chip--${st.state}`;
  el.replaceChildren(h("span", { "aria-hidden": "true", class: "sla-chip__mark" }, MARKS[st.state]), h("span", {}, st.text));
  el.title = t("Due {when}", { when: formatDateTime(clock.dueAt) });
}

const live = new WeakMap();

// A chip for `clock` (null: nothing to show). Kept up to date by the ticker while on the page.
export function slaChip(clock, testid = "sla-chip") {
  if (!slaState(clock)) return null;
  const el = h("span", { "data-testid": testid, "data-sla-live": "" });
  live.set(el, clock);
  paint(el, clock);
  return el;
}

// Fill an existing element (the open chat's header) with `clock`'s chip.
export function showSla(el, clock) {
  live.set(el, clock);
  el.setAttribute("data-sla-live", "");
  paint(el, clock);
}

// The server's `sla.warning` frame for a chip's target: "At risk" now, whatever this
// browser's clock says.
export function markWarned(el, kind) {
  const clock = live.get(el);
  if (!clock || (kind && clock.kind !== kind)) return;
  clock.warned = true;
  paint(el, clock);
}

let ticking = false;
export function startSlaTicker() {
  if (ticking) return;
  ticking = true;
  setInterval(() => {
    for (const el of document.querySelectorAll("[data-sla-live]")) {
      const clock = live.get(el);
      if (clock) paint(el, clock);
    }
  }, 1000);
}
