// /reset-password: without a token, ask for a link by e-mail (the answer is the same for every
// address); with ?token= (the link in the mail), set a new password.

import { t, tn } from "./i18n.js";
import { requestPasswordReset, resetPassword } from "./api.js";
import { $, submitForm, showFormError, wireLogout } from "./ui.js";

function show(id) {
  for (const el of document.querySelectorAll("main > [id]")) el.hidden = el.id !== id;
  const target = $(`#${id}`);
  const first = $("input", target) || $("h1", target);
  if (first === $("h1", target)) first.setAttribute("tabindex", "-1");
  first.focus();
}

const token = new URLSearchParams(window.location.search).get("token");
wireLogout();

if (token) {
  // The token stays out of the address bar (and so out of history and screenshots).
  window.history.replaceState(null, "", window.location.pathname);
  const form = $("#reset-form");
  show("reset-form");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const { password, confirm } = form.elements;
    if (password.value.length < 8) {
      showFormError(form, { message: t("Use at least 8 characters.") });
      password.focus();
      return;
    }
    if (password.value !== confirm.value) {
      showFormError(form, { message: t("The two passwords are not the same.") });
      confirm.focus();
      return;
    }
    submitForm(form, async () => {
      await resetPassword(token, password.value);
      show("reset-done");
    });
  });
} else {
  const form = $("#forgot-form");
  show("forgot-form");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const email = form.elements.email.value.trim();
    if (!email) {
      showFormError(form, { message: t("Enter your e-mail address.") });
      form.elements.email.focus();
      return;
    }
    submitForm(form, async () => {
      await requestPasswordReset(email);
      $('#forgot-sent [data-role="email"]').textContent = email;
      show("forgot-sent");
    });
  });
}
