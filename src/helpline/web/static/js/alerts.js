// The agent's alert settings (per browser, in localStorage) and the console's alert output:
// sound on/off, desktop notifications on/off, and "repeat the new-chat alert until seen"
// (a beep and a tab-title flash every few seconds until the agent opens that chat, focuses
// the window, or the chat stops waiting).
//
// For tests and the curious, <body> carries data-alerting ("true" while repeating),
// data-alert-repeats (repeats so far) and data-beeps (sounds requested while sound is on).

import { t, tn } from "./i18n.js";
import { $, beep, desktopNotify, openDialog } from "./ui.js";

const KEY = "helpline.console.alerts";
const DEFAULTS = { sound: true, desktop: true, repeat: false };
export const REPEAT_MS = 4000;
const FLASH_MS = 1500;

export const settings = load();

const rs = { title: document.title, flash: false, timer: null, chatId: null };

function load() {
  try {
    return { ...DEFAULTS, ...JSON.parse(localStorage.getItem(KEY) || "{}") };
  } catch {
    return { ...DEFAULTS };
  }
}

function save() {
  try {
    localStorage.setItem(KEY, JSON.stringify(settings));
  } catch {
    /* storage unavailable: settings last for this page only */
  }
}

function bump(name) {
  document.body.dataset[name] = String(Number(document.body.dataset[name] || 0) + 1);
}

/** The page's normal title (the console's counts); the flash shows on top of it. */
export function setTitle(title) {
  rs.title = title;
  renderTitle();
}

function renderTitle() {
  document.title = rs.flash ? `🔔 ${t("New chat waiting")} — ${rs.title}` : rs.title;
}

export function alertSound() {
  if (!settings.sound) return;
  bump("beeps");
  beep();
}

export function alertDesktop(title, body, onClick) {
  if (settings.desktop) desktopNotify(title, body, onClick);
}

/** A new chat is waiting: with "repeat" on, keep reminding until it is seen. */
export function startRepeat(chatId) {
  if (!settings.repeat) return;
  stopRepeat();
  rs.chatId = chatId;
  document.body.dataset.alerting = "true";
  const tick = () => {
    bump("alertRepeats");
    alertSound();
    rs.flash = true;
    renderTitle();
    setTimeout(() => {
      rs.flash = false;
      renderTitle();
    }, FLASH_MS);
  };
  tick();
  rs.timer = setInterval(tick, REPEAT_MS);
}

/** Stop repeating (for that chat only, when given). */
export function stopRepeat(chatId) {
  if (chatId !== undefined && chatId !== rs.chatId) return;
  clearInterval(rs.timer);
  rs.timer = null;
  rs.chatId = null;
  rs.flash = false;
  document.body.dataset.alerting = "false";
  renderTitle();
}

export function initAlertSettings() {
  const dialog = $("#alerts-dialog");
  const form = $("form", dialog);
  const hint = $('[data-role="desktop-hint"]', dialog);
  const showHint = () => {
    const perm = "Notification" in window ? Notification.permission : "unsupported";
    hint.textContent =
      perm === "denied"
        ? t("This browser blocks notifications from Helpline: allow them in the site settings.")
        : perm === "unsupported"
          ? t("This browser has no desktop notifications.")
          : perm === "default" && settings.desktop
            ? t("The browser will ask for permission.")
            : "";
  };
  $('[data-action="alert-settings"]').addEventListener("click", () => {
    for (const name of ["sound", "desktop", "repeat"]) form.elements[name].checked = settings[name];
    showHint();
    openDialog(dialog);
  });
  form.addEventListener("change", async (e) => {
    const name = e.target.name;
    if (!(name in DEFAULTS)) return;
    settings[name] = e.target.checked;
    save();
    if (name === "repeat" && !settings.repeat) stopRepeat();
    if (name === "desktop" && settings.desktop && "Notification" in window && Notification.permission === "default") {
      try {
        await Notification.requestPermission();
      } catch {
        /* the browser decides */
      }
    }
    showHint();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    dialog.close();
  });
  $('[data-action="test-sound"]', dialog).addEventListener("click", () => {
    if (settings.sound) alertSound();
  });
  // Looking at the console again counts as having seen the alert.
  window.addEventListener("focus", () => stopRepeat());
  document.body.dataset.alerting = "false";
}
