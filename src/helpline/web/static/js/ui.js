// Small DOM helpers shared by every page. User data only ever goes in via text nodes
// (textContent), never innerHTML.

import { formatNumber, formatRelative, intlLocale, t, tn } from "./i18n.js";
import { signIn, signInGuest, signOut } from "./api.js";

/** "Chrome 120 on Linux (iPhone)": a user agent's parts as the server's rules found them
 * (`browser`, `os`, `model`: a session's, a chat's `context.device`) joined in the page's
 * language; null when there are none. */
export function deviceWords(parts) {
  if (!parts?.browser) return null;
  const name = parts.os ? t("{browser} on {system}", { browser: parts.browser, system: parts.os }) : parts.browser;
  return parts.model ? `${name} (${parts.model})` : name;
}

/** Build an element. attrs: class, dataset via "data-*", on: {event: fn}, booleans as flags. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "on") for (const [ev, fn] of Object.entries(value)) el.addEventListener(ev, fn);
    else if (key === "text") el.textContent = value;
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else if (child instanceof Node) el.appendChild(child);
    else el.appendChild(document.createTextNode(String(child)));
  }
}

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => Array.from(root.querySelectorAll(sel));

const SVG_NS = "http://www.w3.org/2000/svg";
const ICONS = {
  file: ["M14 2H6a2 2 0 0 0-2 2v16a2 2 0 0 0 2 2h12a2 2 0 0 0 2-2V8z", "M14 2v6h6"],
  close: ["M18 6L6 18", "M6 6l12 12"],
  download: ["M21 15v4a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2v-4", "M7 10l5 5 5-5", "M12 15V3"],
};

export function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("fill", "none");
  svg.setAttribute("stroke", "currentColor");
  svg.setAttribute("stroke-width", "2");
  svg.setAttribute("stroke-linecap", "round");
  svg.setAttribute("stroke-linejoin", "round");
  svg.setAttribute("aria-hidden", "true");
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    svg.appendChild(path);
  }
  return svg;
}

// ---------------------------------------------------------------- formatting

export const CHAT_STATUS = {
  waiting: t("Waiting"),
  in_progress: t("In Progress"),
  solved: t("Solved"),
  cancelled: t("Cancelled"),
  expired: t("Expired"),
};

export const REQUEST_STATUS = {
  new: t("New"),
  open: t("Open"),
  in_progress: t("In progress"),
  on_hold: t("On hold"),
  resolved: t("Resolved"),
  closed: t("Closed"),
  cancelled: t("Cancelled"),
};

export const PRIORITY = { low: t("Low"), medium: t("Medium"), high: t("High"), critical: t("Critical") };

// From the transition table (chat-state.js), so every page agrees with the server.
export { isOpen as isOpenStatus } from "./chat-state.js";

export function statusBadge(el, status, labels = CHAT_STATUS) {
  el.className = `badge badge--${status}`;
  el.textContent = labels[status] || status;
  el.dataset.status = status;
}

export function formatSize(bytes) {
  if (!Number.isFinite(bytes)) return "";
  if (bytes < 1024) return t("{size} B", { size: formatNumber(bytes) });
  const units = [(size) => t("{size} KB", { size }), (size) => t("{size} MB", { size }), (size) => t("{size} GB", { size })];
  let n = bytes / 1024;
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i += 1;
  }
  const digits = n < 10 ? 1 : 0;
  return units[i](formatNumber(n, { minimumFractionDigits: digits, maximumFractionDigits: digits }));
}

const timeFmt = new Intl.DateTimeFormat(intlLocale, { hour: "2-digit", minute: "2-digit" });
const dateTimeFmt = new Intl.DateTimeFormat(intlLocale, {
  day: "numeric",
  month: "short",
  hour: "2-digit",
  minute: "2-digit",
});

export function parseTime(iso) {
  if (!iso) return null;
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? null : d;
}

export function formatTime(iso) {
  const d = parseTime(iso);
  return d ? timeFmt.format(d) : "";
}

export function formatDateTime(iso) {
  const d = parseTime(iso);
  return d ? dateTimeFmt.format(d) : "";
}

/** "45 s", "3 min", "1 h 12 min" */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return t("{seconds} s", { seconds: formatNumber(s) });
  const m = Math.floor(s / 60);
  if (m < 60) return t("{minutes} min", { minutes: formatNumber(m) });
  const hrs = Math.floor(m / 60);
  return t("{hours} h {minutes} min", { hours: formatNumber(hrs), minutes: formatNumber(m % 60) });
}

export function since(iso) {
  const d = parseTime(iso);
  return d ? (Date.now() - d.getTime()) / 1000 : 0;
}

export function relative(iso) {
  const s = since(iso);
  if (s < 60) return t("just now");
  if (s < 3600) return formatRelative(-Math.floor(s / 60), "minute");
  if (s < 86400) return formatRelative(-Math.floor(s / 3600), "hour");
  return formatDateTime(iso);
}

// ---------------------------------------------------------------- feedback

export function showFormError(form, err) {
  const box = form.querySelector('[data-role="error"]');
  if (!box) return;
  box.textContent = err ? err.message || String(err) : "";
}

export function setBusy(button, busy, label) {
  if (!button) return;
  button.disabled = busy;
  button.setAttribute("aria-busy", busy ? "true" : "false");
  if (label !== undefined) {
    const span = button.querySelector("span") || button;
    if (busy) {
      button.dataset.label = span.textContent;
      span.textContent = label;
    } else if (button.dataset.label) {
      span.textContent = button.dataset.label;
    }
  }
}

/**
 * Show a toast. Options: title, text, kind (info|success|error), testid, onClick, timeout (ms,
 * 0 = sticky), key (a toast with the same key is replaced). Returns {el, close}.
 */
export function toast({ title, text = "", kind = "info", testid, onClick, timeout = 6000, key }) {
  const box = document.getElementById("toasts");
  if (!box) return { el: null, close() {} };
  if (key) box.querySelector(`[data-key="${CSS.escape(key)}"]`)?.remove();
  const body = onClick
    ? h("button", { class: "toast__body", type: "button" })
    : h("div", { class: "toast__body" });
  body.append(h("span", { class: "toast__title" }, title));
  if (text) body.append(h("span", { class: "toast__text" }, text));
  const closeBtn = h(
    "button",
    { class: "icon-btn toast__close", type: "button", "aria-label": t("Dismiss") },
    icon("close"),
  );
  const el = h(
    "div",
    {
      class: `toast toast--${kind}`,
      role: kind === "error" ? "alert" : "status",
      "data-testid": testid || "toast",
      "data-key": key || null,
    },
    body,
    closeBtn,
  );
  let timer = null;
  const close = () => {
    clearTimeout(timer);
    el.remove();
  };
  closeBtn.addEventListener("click", close);
  if (onClick)
    body.addEventListener("click", () => {
      close();
      onClick();
    });
  box.prepend(el);
  while (box.children.length > 5) box.lastElementChild.remove();
  if (timeout) timer = setTimeout(close, timeout);
  return { el, close };
}

export function toastError(err, title = t("Something went wrong")) {
  return toast({ title, text: err?.message || String(err), kind: "error", timeout: 8000 });
}

// ---------------------------------------------------------------- dialogs

/** Open a <dialog> modally; buttons with data-action="close" close it. */
export function openDialog(dialog) {
  const form = dialog.querySelector("form");
  if (form) showFormError(form, null);
  if (!dialog.dataset.wired) {
    dialog.dataset.wired = "1";
    for (const btn of dialog.querySelectorAll('[data-action="close"]'))
      btn.addEventListener("click", () => dialog.close("cancel"));
  }
  if (!dialog.open) dialog.showModal();
}

// ---------------------------------------------------------------- text

// The same rules as helpline/kit/linkify.py (tests/fixtures/linkify_cases.json runs both).
const LINK_RE = /\b(?:https?:\/\/|mailto:)[^\s<>"']+/gi;
const TRAILING = ".,;:!?'\"";
const CLOSERS = { ")": "(", "]": "[", "}": "{" };

const count = (s, c) => s.split(c).length - 1;

/** Sentence punctuation after a URL is not part of it; a bracket it opened itself is. */
export function trimUrl(raw) {
  while (raw) {
    const last = raw[raw.length - 1];
    if (TRAILING.includes(last)) raw = raw.slice(0, -1);
    else if (CLOSERS[last] && count(raw, CLOSERS[last]) < count(raw, last)) raw = raw.slice(0, -1);
    else break;
  }
  return raw;
}

function linkUrl(raw) {
  let url = null;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.protocol === "http:" || url.protocol === "https:") return url.hostname ? url : null;
  return url.protocol === "mailto:" && url.pathname.includes("@") ? url : null;
}

/**
 * Append `text` to `el` as text nodes, with http/https/mailto links made clickable (new tab,
 * rel="noopener noreferrer nofollow"); nothing else is interpreted, line breaks stay (the
 * element shows them with white-space: pre-wrap).
 */
export function appendLinkified(el, text) {
  text = String(text);
  let last = 0;
  for (const match of text.matchAll(LINK_RE)) {
    const raw = trimUrl(match[0]);
    if (!linkUrl(raw)) continue;
    const start = match.index;
    if (start > last) el.appendChild(document.createTextNode(text.slice(last, start)));
    el.appendChild(
      // The text as written (checked above): the same href the server's renderer writes.
      h("a", { href: raw, target: "_blank", rel: "noopener noreferrer nofollow" }, raw),
    );
    last = start + raw.length;
  }
  if (last < text.length) el.appendChild(document.createTextNode(text.slice(last)));
  return el;
}

// ---------------------------------------------------------------- attention

let audioCtx = null;

/** Create (or resume) the audio context; call from a user gesture. */
export function unlockAudio() {
  if (audioCtx) {
    if (audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
    return;
  }
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  try {
    audioCtx = new Ctx();
  } catch {
    audioCtx = null;
  }
}

export function audioReady() {
  return Boolean(audioCtx && audioCtx.state === "running");
}

// Browsers only allow audio after a user gesture: create the context on the first one (or at
// once when this page already has one, e.g. the sign-in click on a same-origin navigation).
for (const ev of ["pointerdown", "keydown"])
  window.addEventListener(ev, unlockAudio, { once: true, capture: true });
if (navigator.userActivation && navigator.userActivation.hasBeenActive) unlockAudio();

/** A short two-tone beep made with WebAudio (no sound file). Silent until audio is unlocked. */
export function beep() {
  if (!audioCtx || audioCtx.state !== "running") return;
  const t = audioCtx.currentTime;
  for (const [i, freq] of [880, 1175].entries()) {
    const osc = audioCtx.createOscillator();
    const gain = audioCtx.createGain();
    osc.type = "sine";
    osc.frequency.value = freq;
    const start = t + i * 0.16;
    gain.gain.setValueAtTime(0.0001, start);
    gain.gain.exponentialRampToValueAtTime(0.18, start + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.14);
    osc.connect(gain).connect(audioCtx.destination);
    osc.start(start);
    osc.stop(start + 0.15);
  }
}

/** A desktop notification, only if the user already allowed them. */
export function desktopNotify(title, body, onClick) {
  if (!("Notification" in window) || Notification.permission !== "granted") return;
  try {
    const n = new Notification(title, { body, tag: title + body, icon: "/static/favicon.svg" });
    n.onclick = () => {
      window.focus();
      n.close();
      if (onClick) onClick();
    };
  } catch {
    /* some browsers only allow notifications from a service worker */
  }
}

// ---------------------------------------------------------------- sign-in forms

/** Wire the sign-in and guest forms on a page; on success reload it signed in. */
export function wireAuthForms({ onSuccess } = {}) {
  const done = onSuccess || (() => window.location.reload());
  const login = document.getElementById("login-form");
  wireSignInForm(login, ["email", "password"], t("Enter your e-mail and password."), async (v) => {
    const totpField = login.querySelector('[data-role="totp-field"]');
    const totp = totpField && !totpField.hidden ? login.elements.totp.value.trim() : "";
    try {
      return await signIn(v.email, v.password, totp || undefined);
    } catch (err) {
      // Two-factor sign-in is on: the second step asks for the code, then signs in again.
      if (err.code === "totp_required" && totpField) {
        totpField.hidden = false;
        login.elements.totp.value = "";
        login.elements.totp.focus();
      }
      throw err;
    }
  });
  const guest = document.getElementById("guest-form");
  wireSignInForm(guest, ["name", "email"], t("Enter your name and e-mail."), (v) => signInGuest(v.name, v.email));

  /** On submit: the first empty field of `fields` gets the focus and `missing`; else `send`
   * the values (trimmed, but the password) and `done` with the user it answers. */
  function wireSignInForm(form, fields, missing, send) {
    if (!form) return;
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const values = {};
      for (const f of fields) {
        const raw = form.elements[f].value;
        values[f] = f === "password" ? raw : raw.trim();
      }
      const empty = fields.find((f) => !values[f]);
      if (empty) {
        showFormError(form, { message: missing });
        form.elements[empty].focus();
        return;
      }
      const btn = form.querySelector('[type="submit"]');
      setBusy(btn, true);
      showFormError(form, null);
      try {
        const res = await send(values);
        done(res.user);
      } catch (err) {
        showFormError(form, err);
        setBusy(btn, false);
      }
    });
  }
}

/** The user menu (a <details>): closes on a click elsewhere and on Escape. */
export function wireUserMenu() {
  for (const menu of document.querySelectorAll("details.usermenu")) {
    document.addEventListener("click", (e) => {
      if (menu.open && !menu.contains(e.target)) menu.open = false;
    });
    menu.addEventListener("keydown", (e) => {
      if (e.key !== "Escape" || !menu.open) return;
      menu.open = false;
      menu.querySelector("summary").focus();
    });
  }
}

export function wireLogout(before) {
  for (const btn of document.querySelectorAll('[data-action="logout"]')) {
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      try {
        if (before) before();
        await signOut();
      } catch {
        /* signed out or not, go back to the start page */
      }
      window.location.assign(window.location.pathname);
    });
  }
}

/** Grow a textarea with its content, up to its CSS max-height. */
export function autoGrow(textarea) {
  const fit = () => {
    textarea.style.height = "auto";
    textarea.style.height = `${textarea.scrollHeight + 2}px`;
  };
  textarea.addEventListener("input", fit);
  return fit;
}

/** Submit a form's work: its button busy and its error line cleared while `send` runs; what
 * `send` throws is shown in the form. */
export async function submitForm(form, send, btn = form.querySelector('[type="submit"]')) {
  setBusy(btn, true);
  showFormError(form, null);
  try {
    await send();
  } catch (err) {
    showFormError(form, err);
  } finally {
    setBusy(btn, false);
  }
}

/** Ask in the page's #confirm-dialog; resolves true when confirmed. */
export function confirmAction({ title, text, ok }) {
  const dialog = $("#confirm-dialog");
  $('[data-role="title"]', dialog).textContent = title;
  $('[data-role="text"]', dialog).textContent = text;
  $('[data-role="ok"]', dialog).textContent = ok;
  dialog.returnValue = "";
  openDialog(dialog);
  return new Promise((resolve) => {
    const form = $("form", dialog);
    const onSubmit = (e) => {
      e.preventDefault();
      dialog.close("ok");
    };
    form.addEventListener("submit", onSubmit);
    dialog.addEventListener(
      "close",
      () => {
        form.removeEventListener("submit", onSubmit);
        resolve(dialog.returnValue === "ok");
      },
      { once: true },
    );
  });
}
