// Alerts for a customer whose portal or widget tab is hidden (CONTRACT-2 "Alerts"): the agent
// joining or writing changes the tab title ("(2) New messages · …", back when the tab shows
// again), plays the console's beep unless the customer muted it (the switch in the chat's
// header, kept in this browser), and shows a desktop notification where the customer allowed
// them (asked when they start a chat, with the box ticked). The sound and the notification
// are the console's (ui.js `beep`, `desktopNotify`).
//
// In the widget the panel is a cross-site frame, where browsers neither ask for nor show
// desktop notifications: the panel never offers them and tells its host page the count and
// the newest alert's title instead; widget.js shows them as the host site's own notification
// when the site opted in (data-notifications="on") and the visitor allowed that site
// (docs/operations.md, "Web-site widget").
//
// For tests, <body> carries data-beeps (sounds played) and data-unseen (alerts not yet seen).

import { t, tn } from "./i18n.js";
import { beep, desktopNotify } from "./ui.js";

const MUTE_KEY = "helpline.customer.muted";

function stored() {
  try {
    return localStorage.getItem(MUTE_KEY) === "true";
  } catch {
    return false;
  }
}

/** Show the start form's "notify me" box where the browser may still be asked (not where
 * notifications are unsupported, already allowed or blocked, e.g. in a cross-site frame). */
export function offerNotifications(form) {
  const field = form?.querySelector('[data-role="notify-field"]');
  if (field) field.hidden = window.top !== window || !("Notification" in window && Notification.permission === "default");
}

/** Ask for desktop notifications (inside the click that starts a chat: browsers want a
 * gesture). Resolves once the browser answered; never throws. */
export async function askForNotifications() {
  if (window.top !== window || !("Notification" in window) || Notification.permission !== "default") return;
  try {
    await Notification.requestPermission();
  } catch {
    /* the browser decides */
  }
}

export class CustomerAlerts {
  /** toggle: the mute switch (a button with aria-pressed = muted); onUnseen(count, title):
   * the page's extra use of the count and the newest alert's title (the widget tells its host
   * page); desktop: false where this page cannot show notifications itself (a frame). */
  constructor(toggle, { onUnseen, desktop = true } = {}) {
    this.toggle = toggle;
    this.onUnseen = onUnseen;
    this.desktop = desktop;
    this.lastTitle = "";
    this.baseTitle = document.title;
    this.unseen = 0;
    this.muted = stored();
    document.body.dataset.unseen = "0";
    this.renderToggle();
    toggle?.addEventListener("click", () => {
      this.muted = !this.muted;
      try {
        localStorage.setItem(MUTE_KEY, String(this.muted));
      } catch {
        /* this page only */
      }
      this.renderToggle();
    });
    document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && this.seen());
    window.addEventListener("focus", () => this.seen());
  }

  renderToggle() {
    if (!this.toggle) return;
    this.toggle.setAttribute("aria-pressed", String(this.muted));
    const label = this.muted ? t("Sound off") : t("Sound on");
    this.toggle.title = label;
    const text = this.toggle.querySelector('[data-role="label"]');
    if (text) text.textContent = label;
  }

  /** Something the customer should see arrived (`initial`: part of a replay, never alerts). */
  alert({ title, body, initial }) {
    if (initial || document.visibilityState === "visible") return;
    this.unseen += 1;
    this.lastTitle = title;
    this.renderTitle();
    if (!this.muted) {
      document.body.dataset.beeps = String(Number(document.body.dataset.beeps || 0) + 1);
      beep();
    }
    if (this.desktop) desktopNotify(title, body, () => this.seen());
  }

  seen() {
    if (!this.unseen) return;
    this.unseen = 0;
    this.renderTitle();
  }

  renderTitle() {
    const n = this.unseen;
    document.body.dataset.unseen = String(n);
    document.title = n ? tn("({count}) New message · {title}", "({count}) New messages · {title}", n, { title: this.baseTitle }) : this.baseTitle;
    this.onUnseen?.(n, n ? this.lastTitle : "");
  }
}
