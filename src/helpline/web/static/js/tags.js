// Tags on the pages: a chip (the tag's colour through a CSS variable: the CSP allows no style
// attribute) and the keyboard-friendly picker of the console's customer panel (a combobox
// with a listbox: type to filter, arrows to move, Enter to add or remove, Escape to close,
// Backspace in the empty box removes the last tag).

import { t, tn } from "./i18n.js";
import { $, h } from "./ui.js";

/** A chip for {id, name, color}; `onRemove` adds a remove button. */
export function tagChip(tag, { onRemove, testid = "tag-chip" } = {}) {
  const chip = h("span", { class: "tag-chip", "data-testid": testid, "data-tag-id": tag.id }, h("span", { class: "tag-chip__dot", "aria-hidden": "true" }), h("span", {}, tag.name));
  if (tag.color) chip.style.setProperty("--tag", tag.color);
  if (onRemove) {
    const x = h("button", { class: "tag-chip__remove", type: "button", "aria-label": t("Remove tag {name}", { name: tag.name }), "data-testid": "tag-remove" }, "×");
    x.addEventListener("click", () => onRemove(tag));
    chip.append(x);
  }
  return chip;
}

let pickers = 0;

export class TagPicker {
  /** root: the element to fill; getAll(): every tag; save(ids): store the chat's tags (a
   * promise of the new list or a thrown error). */
  constructor(root, { getAll, save }) {
    this.root = root;
    this.getAll = getAll;
    this.save = save;
    this.selected = [];
    this.active = -1;
    this.options = [];
    this.enabled = true;
    const n = ++pickers;
    this.chips = h("div", { class: "tag-picker__chips", "data-testid": "chat-tags", "aria-label": t("Tags of this chat") });
    this.input = h("input", {
      class: "input input--sm tag-picker__input",
      type: "text",
      role: "combobox",
      "aria-expanded": "false",
      "aria-autocomplete": "list",
      "aria-controls": `tag-listbox-${n}`,
      "aria-label": t("Add or remove tags"),
      placeholder: t("Add a tag…"),
      autocomplete: "off",
      "data-testid": "tag-input",
    });
    this.list = h("ul", { class: "tag-picker__list", role: "listbox", id: `tag-listbox-${n}`, "aria-label": t("Tags"), "aria-multiselectable": "true", "data-testid": "tag-options", hidden: true });
    this.status = h("p", { class: "field-error", role: "alert", "data-role": "tag-error" });
    root.replaceChildren(this.chips, h("div", { class: "tag-picker__box" }, this.input, this.list), this.status);
    this.input.addEventListener("input", () => this.open());
    this.input.addEventListener("focus", () => this.open());
    this.input.addEventListener("blur", () => setTimeout(() => this.close(), 150));
    this.input.addEventListener("keydown", (e) => this.onKey(e));
  }

  /** Show a chat's tags; `enabled`: whether I may change them. */
  set(tags, enabled) {
    this.selected = (tags || []).map((t) => t.id);
    this.enabled = enabled;
    this.input.disabled = !enabled;
    this.input.hidden = !enabled;
    this.status.textContent = "";
    this.renderChips();
    if (!this.list.hidden) this.renderList();
  }

  tagsById() {
    return new Map(this.getAll().map((t) => [t.id, t]));
  }

  renderChips() {
    const byId = this.tagsById();
    const chips = this.selected.map((id) => byId.get(id)).filter(Boolean);
    const shown = chips.map((t) => tagChip(t, this.enabled ? { onRemove: (tag) => this.toggle(tag.id) } : {}));
    this.chips.replaceChildren(...(shown.length ? shown : [h("span", { class: "muted small" }, this.enabled ? t("No tags yet.") : t("No tags."))]));
  }

  open() {
    if (!this.enabled) return;
    this.list.hidden = false;
    this.input.setAttribute("aria-expanded", "true");
    this.active = -1;
    this.renderList();
  }

  close() {
    this.list.hidden = true;
    this.input.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  renderList() {
    const q = this.input.value.trim().toLowerCase();
    this.options = this.getAll().filter((t) => !q || t.name.toLowerCase().includes(q));
    if (this.active >= this.options.length) this.active = this.options.length - 1;
    if (q && this.active < 0 && this.options.length) this.active = 0;
    const none = h("li", { class: "tag-picker__none muted small", role: "presentation" }, this.getAll().length ? t("No tag matches.") : t("No tags exist yet; an admin adds them."));
    this.list.replaceChildren(
      ...this.options.map((t, i) => {
        const on = this.selected.includes(t.id);
        const li = h(
          "li",
          { id: `${this.list.id}-${i}`, role: "option", class: "tag-picker__option", "aria-selected": String(on), "data-testid": "tag-option", "data-tag-id": t.id, "data-active": String(i === this.active) },
          h("span", { class: "tag-picker__check", "aria-hidden": "true" }, on ? "✓" : ""),
          tagChip(t, { testid: "tag-option-chip" }),
        );
        li.addEventListener("mousedown", (e) => e.preventDefault()); // keep the focus in the box
        li.addEventListener("click", () => this.toggle(t.id));
        return li;
      }),
      ...(this.options.length ? [] : [none]),
    );
    if (this.active >= 0) {
      const id = `${this.list.id}-${this.active}`;
      this.input.setAttribute("aria-activedescendant", id);
      $(`#${CSS.escape(id)}`)?.scrollIntoView({ block: "nearest" });
    } else this.input.removeAttribute("aria-activedescendant");
  }

  onKey(e) {
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      if (this.list.hidden) this.open();
      const n = this.options.length;
      if (!n) return;
      this.active = e.key === "ArrowDown" ? (this.active + 1) % n : (this.active - 1 + n) % n;
      this.renderList();
    } else if (e.key === "Enter") {
      e.preventDefault();
      const t = this.options[this.active];
      if (t) this.toggle(t.id);
    } else if (e.key === "Escape") {
      if (!this.list.hidden) {
        e.preventDefault();
        e.stopPropagation();
        this.close();
      }
    } else if (e.key === "Backspace" && !this.input.value && this.selected.length) {
      this.toggle(this.selected[this.selected.length - 1]);
    }
  }

  async toggle(id) {
    const before = this.selected;
    const next = before.includes(id) ? before.filter((x) => x !== id) : [...before, id];
    this.selected = next;
    this.renderChips();
    if (!this.list.hidden) this.renderList();
    try {
      const tags = await this.save(next);
      this.selected = tags.map((t) => t.id);
      this.status.textContent = "";
    } catch (err) {
      this.selected = before;
      this.status.textContent = t("Tags not saved: {reason}", { reason: err.message });
    }
    this.renderChips();
    if (!this.list.hidden) this.renderList();
  }
}
