// The user menu's "Two-factor sign-in" dialog: set it up (the QR code is drawn by the server,
// the key shown as text, confirmed with a code from the app), the recovery codes shown once
// (copy, download), and turning it off with a code. `required` (HELPLINE_REQUIRE_TOTP names
// the person's role): the dialog opens at once and stays until it is on, then the page reloads.

import { t, tn } from "./i18n.js";
import { request } from "./api.js";
import { $, $$, h, openDialog, submitForm, toast } from "./ui.js";

/** The key in groups of four, as authenticator apps show and accept it. */
const grouped = (secret) => secret.replace(/(.{4})/g, "$1 ").trim();

export function initTwoFactor({ me, required = false }) {
  const dialog = $("#totp-dialog");
  if (!dialog) return;
  let enabled = Boolean(me.totp_enabled);
  let codes = [];
  const step = (name) => $(`[data-step="${name}"]`, dialog);

  function show(name) {
    for (const el of $$(".totp-step", dialog)) el.hidden = el.dataset.step !== name;
    for (const form of $$("form", dialog)) form.reset();
    for (const err of $$('[data-role="error"]', dialog)) err.textContent = "";
    const first = $("input, button", step(name));
    if (dialog.open && first) first.focus();
  }

  function open() {
    show(enabled ? "on" : "off");
    openDialog(dialog);
    $("input, button", step(enabled ? "on" : "off"))?.focus();
  }

  step("off").addEventListener("submit", (e) => {
    e.preventDefault();
    submitForm(e.currentTarget, async () => {
      const setup = await request("POST", "/me/totp", {});
      $('[data-role="secret"]', dialog).textContent = grouped(setup.secret);
      // Drawn by the server from the secret it keeps for this setup; never cached.
      $('[data-role="qr"]', dialog).src = `/api/v1/me/totp/qr.svg?v=${Date.now()}`;
      show("setup");
    });
  });

  step("setup").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const code = form.elements.code.value.replace(/\s+/g, "");
    if (!/^\d{6}$/.test(code)) {
      form.querySelector('[data-role="error"]').textContent = t("Enter the 6 digits your app shows.");
      form.elements.code.focus();
      return;
    }
    submitForm(form, async () => {
      const res = await request("POST", "/me/totp/confirm", { code });
      codes = res.recovery_codes;
      enabled = true;
      $('[data-role="codes"]', dialog).replaceChildren(...codes.map((c) => h("li", { "data-testid": "recovery-code" }, c)));
      show("codes");
    });
  });

  const codesText = () => `${t("Helpline recovery codes for {email}", { email: me.email })}\n${t("Each one signs you in once.")}\n\n${codes.join("\n")}\n`;
  $('[data-action="copy-codes"]', dialog).addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(codesText());
      toast({ title: t("Recovery codes copied"), kind: "success" });
    } catch {
      toast({ title: t("Could not copy"), text: t("Select the codes and copy them, or download them."), kind: "error" });
    }
  });
  $('[data-action="download-codes"]', dialog).addEventListener("click", () => {
    const url = URL.createObjectURL(new Blob([codesText()], { type: "text/plain" }));
    const a = h("a", { href: url, download: "helpline-recovery-codes.txt", hidden: true });
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  });
  $('[data-action="done"]', dialog).addEventListener("click", () => {
    codes = [];
    $('[data-role="codes"]', dialog).replaceChildren();
    if (required) {
      window.location.reload();
      return;
    }
    dialog.close("done");
    toast({ title: t("Two-factor sign-in is on"), kind: "success" });
  });

  step("on").addEventListener("submit", (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    const code = form.elements.code.value.trim();
    if (!code) {
      form.querySelector('[data-role="error"]').textContent = t("Enter a code from your app or a recovery code.");
      form.elements.code.focus();
      return;
    }
    submitForm(form, async () => {
      await request("DELETE", "/me/totp", { code });
      enabled = false;
      // A role that must have it (a new phone): straight back to the setup.
      if ((await request("GET", "/me")).totp_setup_required) {
        window.location.reload();
        return;
      }
      dialog.close("off");
      toast({ title: t("Two-factor sign-in is off"), kind: "success" });
    });
  });

  for (const item of $$('[data-action="totp"]')) {
    item.addEventListener("click", () => {
      item.closest("details")?.removeAttribute("open");
      open();
    });
  }

  if (required) {
    $('[data-role="required"]', dialog).hidden = false;
    $('[data-role="signout"]', dialog).hidden = false;
    $('[data-action="close"]', dialog).hidden = true;
    // Nothing else works until it is on: Escape does not close it.
    dialog.addEventListener("cancel", (e) => e.preventDefault());
    open();
  }
}
