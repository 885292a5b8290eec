// The queue's pre-chat fields on a customer's start form (the portal and the widget): render
// them for the chosen queue, check them as the server will (hints before sending), collect
// the answers, and show an error next to its field (ours or the server's `invalid_field`).

import { t } from "./i18n.js";
import { $, $$, h } from "./ui.js";

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

function control(f, id) {
  const common = { id, name: `field-${f.key}`, "data-key": f.key, "aria-describedby": `${id}-error` };
  if (f.type === "select") {
    return h(
      "select",
      { ...common, class: "select", required: Boolean(f.required) },
      h("option", { value: "" }, f.required ? t("Choose…") : "—"),
      ...(f.options || []).map((o) => h("option", { value: o }, o)),
    );
  }
  if (f.type === "checkbox") return h("input", { ...common, type: "checkbox", required: Boolean(f.required) });
  const type = f.type === "email" ? "email" : f.type === "number" ? "number" : "text";
  return h("input", {
    ...common,
    class: "input",
    type,
    step: type === "number" ? "any" : null,
    inputmode: type === "number" ? "decimal" : null,
    maxlength: type === "number" ? null : "2000",
    required: Boolean(f.required),
    autocomplete: type === "email" ? "email" : "off",
  });
}

/** Replace `box`'s content with the fields of `queue` (none: empty and hidden). */
export function renderFields(box, queue) {
  const fields = queue?.fields || [];
  box.hidden = fields.length === 0;
  box.replaceChildren(
    ...fields.map((f) => {
      const id = `pf-${f.key}`;
      const input = control(f, id);
      input.addEventListener("input", () => fieldError(box, f.key, null));
      input.addEventListener("change", () => fieldError(box, f.key, null));
      const mark = f.required ? h("span", { class: "req", "aria-hidden": "true" }, " *") : null;
      const error = h("span", { class: "field-error", id: `${id}-error`, role: "alert", "data-role": "field-error" });
      const label =
        f.type === "checkbox"
          ? h("label", { class: "checkbox", for: id }, input, h("span", {}, f.label, mark))
          : h("label", { for: id }, f.label, mark, f.required ? null : h("span", { class: "muted" }, " ", t("(optional)")));
      return h(
        "div",
        { class: "field prechat-field", "data-testid": "prechat-field", "data-key": f.key, "data-type": f.type },
        label,
        f.type === "checkbox" ? null : input,
        error,
      );
    }),
  );
}

/** Show (or clear, message null) the error of one field; true when it was found. */
export function fieldError(box, key, message) {
  const wrap = $$('[data-testid="prechat-field"]', box).find((el) => el.dataset.key === key);
  if (!wrap) return false;
  const control = wrap.querySelector("input, select");
  $('[data-role="field-error"]', wrap).textContent = message || "";
  wrap.classList.toggle("field--invalid", Boolean(message));
  if (control) control.setAttribute("aria-invalid", message ? "true" : "false");
  if (message) control?.focus();
  return true;
}

/** The answers by key, or {error: {key, message}} for the first one that breaks the rules. */
export function collectFields(box, queue) {
  const answers = {};
  for (const f of queue?.fields || []) {
    const el = box.querySelector(`[name="field-${CSS.escape(f.key)}"]`);
    if (!el) continue;
    fieldError(box, f.key, null);
    if (f.type === "checkbox") {
      if (f.required && !el.checked) return { error: { key: f.key, message: t("{field}: this must be ticked.", { field: f.label }) } };
      answers[f.key] = el.checked;
      continue;
    }
    const raw = el.value.trim();
    if (!raw) {
      if (f.required) return { error: { key: f.key, message: t("{field}: this is required.", { field: f.label }) } };
      continue;
    }
    if (f.type === "number") {
      const n = Number(raw);
      if (!Number.isFinite(n)) return { error: { key: f.key, message: `${f.label}: a number, please.` } };
      answers[f.key] = n;
    } else if (f.type === "email" && !EMAIL.test(raw)) {
      return { error: { key: f.key, message: t("{field}: an e-mail address, please.", { field: f.label }) } };
    } else {
      answers[f.key] = raw;
    }
  }
  return { answers };
}

/** The page context POST /chats takes (each at most 2,000 characters). */
export function pageContext({ pageUrl = window.location.href, referrer = document.referrer } = {}) {
  const cut = (v) => (v ? String(v).slice(0, 2000) : undefined);
  const ctx = { page_url: cut(pageUrl), referrer: cut(referrer), locale: cut(navigator.language) };
  for (const k of Object.keys(ctx)) if (!ctx[k]) delete ctx[k];
  return ctx;
}
