// Admin: the tag list (add, rename, recolour, delete) and each queue's start form (pre-chat
// fields: add, reorder, mark required, options for a list, remove), checked like the API
// checks it, with each error next to its field.

import { t, tn } from "./i18n.js";
import { api } from "./api.js";
import { tagChip } from "./tags.js";
import { $, $$, confirmAction, h, openDialog, showFormError, submitForm, toast, toastError } from "./ui.js";

// ------------------------------------------------------------------ tags

const tags = { items: [] };

export async function loadTags() {
  try {
    tags.items = (await api.get("/tags")).items || [];
  } catch (err) {
    toastError(err, t("Could not load tags"));
  }
  renderTags();
}

function renderTags() {
  const body = $('[data-role="tags"]');
  body.replaceChildren(...tags.items.map(tagRow));
  $('[data-role="tags-empty"]').hidden = tags.items.length > 0;
}

function tagRow(tag) {
  const name = h("input", { class: "input", value: tag.name, maxlength: "60", "aria-label": t("Tag name"), "data-testid": "tag-rename" });
  const color = h("input", { class: "color-input", type: "color", value: tag.color || "#6b7280", "aria-label": t("Colour of {name}", { name: tag.name }), "data-testid": "tag-color" });
  const save = async (change, what) => {
    try {
      Object.assign(tag, await api.patch(`/tags/${tag.id}`, change));
      return true;
    } catch (err) {
      toastError(err, what);
      return false;
    }
  };
  name.addEventListener("change", async () => {
    const value = name.value.trim();
    if (!value || !(await save({ name: value }, t("Could not rename the tag")))) name.value = tag.name;
    else renderTags();
  });
  color.addEventListener("change", async () => {
    if (!(await save({ color: color.value }, t("Could not change the colour")))) color.value = tag.color || "#6b7280";
    else renderTags();
  });
  const del = h("button", { class: "btn btn--sm btn--danger-ghost", type: "button", "data-testid": "tag-delete" }, t("Delete"));
  del.addEventListener("click", async () => {
    const ok = await confirmAction({ title: t("Delete the tag {name}?", { name: tag.name }), text: t("It comes off every chat that has it."), ok: t("Delete") });
    if (!ok) return;
    try {
      await api.del(`/tags/${tag.id}`);
      tags.items = tags.items.filter((x) => x.id !== tag.id);
      renderTags();
      toast({ title: t("Tag {name} deleted", { name: tag.name }), kind: "success", timeout: 3000 });
    } catch (err) {
      toastError(err, t("Could not delete the tag"));
    }
  });
  return h(
    "tr",
    { "data-testid": "tag-row", "data-tag-id": tag.id, "data-tag-name": tag.name },
    h("td", {}, tagChip(tag)),
    h("td", {}, name),
    h("td", {}, color),
    h("td", { class: "actions" }, del),
  );
}

export function wireTags() {
  const form = $("#tag-form");
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = form.elements.name.value.trim();
    if (!name) {
      showFormError(form, { message: t("A tag needs a name.") });
      form.elements.name.focus();
      return;
    }
    await submitForm(form, async () => {
      const tag = await api.post("/tags", { name, color: form.elements.color.value });
      tags.items.push(tag);
      tags.items.sort((a, b) => a.name.localeCompare(b.name, undefined, { sensitivity: "base" }));
      renderTags();
      form.reset();
      form.elements.name.focus();
      toast({ title: t("Tag {name} added", { name: tag.name }), kind: "success", timeout: 3000 });
    });
  });
}

// ------------------------------------------------------------------ the start form builder

const TYPES = { text: t("Text"), email: t("E-mail"), number: t("Number"), select: t("List"), checkbox: t("Checkbox") };
const KEY = /^[a-z][a-z0-9_]{0,39}$/;
const builder = { queue: null, rows: [], onSaved: null };

/** A key from a label: "Order number" → "order_number". */
function keyOf(label) {
  const k = label.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "").replace(/^[0-9_]+/, "");
  return (k || "field").slice(0, 40);
}

function fieldRow(f, index) {
  const row = h("li", { class: "fb-row", "data-testid": "fb-row", "data-index": String(index) });
  const id = (n) => `fb-${index}-${n}`;
  const label = h("input", { class: "input", id: id("label"), value: f.label || "", maxlength: "120", "data-testid": "fb-label" });
  const key = h("input", { class: "input input--mono", id: id("key"), value: f.key || "", maxlength: "40", "data-testid": "fb-key", spellcheck: "false" });
  const type = h("select", { class: "select", id: id("type"), "data-testid": "fb-type" }, ...Object.entries(TYPES).map(([v, l]) => h("option", { value: v, selected: f.type === v }, l)));
  const required = h("input", { type: "checkbox", id: id("req"), checked: Boolean(f.required), "data-testid": "fb-required" });
  const options = h("textarea", { class: "textarea", id: id("opts"), rows: "3", "data-testid": "fb-options", placeholder: t("One option a line") });
  options.value = (f.options || []).join("\n");
  const optsField = h("div", { class: "field fb-options" }, h("label", { for: id("opts") }, t("Options")), options, h("span", { class: "hint" }, t("One a line; the customer picks one.")));
  optsField.hidden = (f.type || "text") !== "select";
  const error = h("p", { class: "field-error", role: "alert", "data-role": "fb-error", "data-testid": "fb-error" });
  label.addEventListener("input", () => {
    if (!key.dataset.touched) key.value = keyOf(label.value);
  });
  key.addEventListener("input", () => {
    key.dataset.touched = "1";
  });
  if (f.key) key.dataset.touched = "1";
  type.addEventListener("change", () => {
    optsField.hidden = type.value !== "select";
  });
  const move = (delta, name, text) => {
    const b = h("button", { class: "icon-btn", type: "button", "aria-label": `${text} ${f.label || "field"}`, title: text, "data-testid": `fb-${name}` }, delta < 0 ? "↑" : "↓");
    b.addEventListener("click", () => {
      readRows();
      const to = index + delta;
      if (to < 0 || to >= builder.rows.length) return;
      [builder.rows[index], builder.rows[to]] = [builder.rows[to], builder.rows[index]];
      renderBuilder();
      $$('[data-testid="fb-row"]')[to]?.querySelector(`[data-testid="fb-${name}"]`)?.focus();
    });
    return b;
  };
  const remove = h("button", { class: "btn btn--sm btn--danger-ghost", type: "button", "data-testid": "fb-remove" }, t("Remove"));
  remove.addEventListener("click", () => {
    readRows();
    builder.rows.splice(index, 1);
    renderBuilder();
    ($$('[data-testid="fb-row"]')[Math.min(index, builder.rows.length - 1)]?.querySelector('[data-testid="fb-label"]') || $('[data-action="fb-add"]')).focus();
  });
  row.append(
    h(
      "div",
      { class: "fb-row__grid" },
      h("div", { class: "field" }, h("label", { for: id("label") }, t("Label")), label),
      h("div", { class: "field" }, h("label", { for: id("key") }, t("Key")), key),
      h("div", { class: "field" }, h("label", { for: id("type") }, t("Type")), type),
      h("label", { class: "checkbox fb-required" }, required, " ", t("Required")),
      h("div", { class: "fb-row__tools" }, move(-1, "up", t("Move up")), move(1, "down", t("Move down")), remove),
    ),
    optsField,
    error,
  );
  return row;
}

function readRows() {
  builder.rows = $$('[data-testid="fb-row"]').map((row) => {
    const type = $('[data-testid="fb-type"]', row).value;
    const f = {
      key: $('[data-testid="fb-key"]', row).value.trim(),
      label: $('[data-testid="fb-label"]', row).value.trim(),
      type,
      required: $('[data-testid="fb-required"]', row).checked,
    };
    if (type === "select")
      f.options = $('[data-testid="fb-options"]', row)
        .value.split("\n")
        .map((o) => o.trim())
        .filter(Boolean);
    return f;
  });
  return builder.rows;
}

function renderBuilder() {
  const list = $('[data-role="fb-list"]');
  list.replaceChildren(...builder.rows.map(fieldRow));
  $('[data-role="fb-empty"]').hidden = builder.rows.length > 0;
  $('[data-action="fb-add"]').disabled = builder.rows.length >= 20;
}

function rowError(index, message) {
  const row = $$('[data-testid="fb-row"]')[index];
  if (!row) return false;
  $('[data-role="fb-error"]', row).textContent = message;
  row.classList.add("fb-row--invalid");
  row.querySelector("input")?.focus();
  return true;
}

/** The API's rules, checked before sending: the index and message of the first broken field. */
function check(fields) {
  const seen = new Set();
  for (const [i, f] of fields.entries()) {
    if (!f.label) return [i, t("Give the field a label.")];
    if (!KEY.test(f.key)) return [i, t("The key is a-z, digits and _, starting with a letter (at most 40).")];
    if (seen.has(f.key)) return [i, t("The key '{key}' is used twice; each field needs its own.", { key: f.key })];
    seen.add(f.key);
    if (f.type === "select") {
      if (!f.options.length) return [i, t("A list needs at least one option.")];
      if (new Set(f.options).size !== f.options.length) return [i, t("The options repeat.")];
      if (f.options.length > 50) return [i, t("At most 50 options.")];
      if (f.options.some((o) => o.length > 100)) return [i, t("An option has at most 100 characters.")];
    }
  }
  return null;
}

export function openFieldsBuilder(queue, onSaved) {
  builder.queue = queue;
  builder.onSaved = onSaved;
  builder.rows = (queue.fields || []).map((f) => ({ ...f }));
  $("#fields-title").textContent = t("Start form of {name}", { name: queue.name });
  showFormError($("#fields-dialog form"), null);
  renderBuilder();
  openDialog($("#fields-dialog"));
  ($('[data-testid="fb-label"]') || $('[data-action="fb-add"]')).focus();
}

export function wireFieldsBuilder() {
  const dialog = $("#fields-dialog");
  $('[data-action="fb-add"]').addEventListener("click", () => {
    readRows();
    builder.rows.push({ key: "", label: "", type: "text", required: false });
    renderBuilder();
    const rows = $$('[data-testid="fb-row"]');
    rows[rows.length - 1]?.querySelector('[data-testid="fb-label"]').focus();
  });
  $("form", dialog).addEventListener("submit", async (e) => {
    e.preventDefault();
    const form = e.currentTarget;
    for (const row of $$('[data-testid="fb-row"]')) {
      row.classList.remove("fb-row--invalid");
      $('[data-role="fb-error"]', row).textContent = "";
    }
    const fields = readRows();
    const bad = check(fields);
    if (bad) {
      rowError(...bad);
      return;
    }
    await submitForm(
      form,
      async () => {
        try {
          const q = await api.patch(`/queues/${builder.queue.id}`, { fields });
          Object.assign(builder.queue, q);
          dialog.close("done");
          builder.onSaved?.(builder.queue);
          toast({ title: t("Start form of {name} saved", { name: q.name }), kind: "success", timeout: 3000 });
        } catch (err) {
          // The server's word, next to its field where it names one.
          const loc = err.details?.details?.[0]?.loc;
          const index = err.details?.index ?? (loc && loc[1] === "fields" ? Number(loc[2]) : NaN);
          if (Number.isInteger(index) && rowError(index, err.details?.details?.[0]?.msg?.replace(/^Value error, /, "") || err.message)) return;
          throw err;
        }
      },
      $('[data-testid="fb-save"]'),
    );
  });
}
