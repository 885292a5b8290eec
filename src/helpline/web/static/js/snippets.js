// Snippets (canned responses): the picker in the console composer and the management view
// (`#snippets`).
//
// Picker: the ≡ button beside the message box, or "/" plus letters typed at the start of the
// composer, opens a list (a listbox driven from the message box with aria-activedescendant,
// so focus never leaves it): ↑/↓ move, Enter or Tab inserts, Esc closes. The chosen snippet
// is filled in by the server (GET /chats/{id}/snippets/{sid}/render) and put into the message
// box, still editable, never sent by itself.

import { t, tn } from "./i18n.js";
import { api, getAll } from "./api.js";
import { $, confirmAction, h, showFormError, toast } from "./ui.js";

let cache = null; // snippets visible to me, loaded once, dropped when the manager changes them

async function loadSnippets() {
  if (cache === null) {
    try {
      cache = await getAll("/snippets", 1000);
    } catch {
      cache = [];
    }
  }
  return cache;
}

export function invalidateSnippets() {
  cache = null;
}

export class SnippetPicker {
  /**
   * input: the composer textarea; button: the ≡ button; list: the <ul> popup;
   * getChat(): the chat in the window; insert(text, replaceSlash): puts text in the composer.
   */
  constructor({ input, button, list, getChat, insert }) {
    Object.assign(this, { input, button, list, getChat, insert });
    this.items = [];
    this.active = 0;
    this.mode = null; // "slash" | "browse" | null
    list.setAttribute("role", "listbox");
    list.id = list.id || "snippet-listbox";
    list.setAttribute("aria-label", t("Snippets"));
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-controls", list.id);
    // Capture phase on the form: runs before the composer's own Enter-to-send handler.
    input.form.addEventListener("keydown", (e) => this.onKey(e), true);
    input.addEventListener("input", () => this.onInput());
    input.addEventListener("blur", () => setTimeout(() => this.list.contains(document.activeElement) || this.close(), 150));
    button.addEventListener("click", () => (this.mode ? this.close() : this.open("browse", "")));
    list.addEventListener("mousedown", (e) => e.preventDefault()); // keep focus in the box
  }

  onInput() {
    const m = /^\/([^\s/]*)$/.exec(this.input.value);
    if (m) this.open("slash", m[1]);
    else if (this.mode === "slash") this.close();
  }

  async open(mode, filter) {
    this.mode = mode;
    this.filter = filter.toLowerCase();
    const all = await loadSnippets();
    if (this.mode !== mode) return;
    const chat = this.getChat();
    const words = this.filter;
    this.items = all
      .filter((s) => !s.queue_id || s.queue_id === chat?.queue_id)
      .filter((s) => !words || s.title.toLowerCase().includes(words) || s.content.toLowerCase().includes(words))
      .sort((a, b) => Number(!a.title.toLowerCase().startsWith(words)) - Number(!b.title.toLowerCase().startsWith(words)) || a.title.localeCompare(b.title));
    this.active = 0;
    this.render();
    this.list.hidden = false;
    this.button.setAttribute("aria-expanded", "true");
    if (mode === "browse") this.input.focus();
  }

  close() {
    if (!this.mode) return;
    this.mode = null;
    this.list.hidden = true;
    this.button.setAttribute("aria-expanded", "false");
    this.input.removeAttribute("aria-activedescendant");
  }

  render() {
    if (!this.items.length) {
      this.list.replaceChildren(
        h("li", { class: "snippet-list__empty muted small", role: "option", "aria-disabled": "true", "aria-selected": "false" }, cache?.length ? t("No snippet matches “{filter}”.", { filter: this.filter }) : t("No snippets yet — add some under Snippets.")),
      );
      this.input.removeAttribute("aria-activedescendant");
      return;
    }
    this.list.replaceChildren(
      ...this.items.map((s, i) => {
        const li = h(
          "li",
          { role: "option", id: `snippet-opt-${s.id}`, class: "snippet-option", "aria-selected": String(i === this.active), "data-testid": "snippet-option", "data-snippet-id": s.id },
          h("strong", {}, s.title),
          s.shared ? h("span", { class: "snippet-option__tag" }, s.queue?.name || t("Shared")) : null,
          h("small", {}, s.content),
        );
        li.addEventListener("click", () => this.choose(i));
        return li;
      }),
    );
    const current = this.list.children[this.active];
    this.input.setAttribute("aria-activedescendant", current.id);
    current.scrollIntoView({ block: "nearest" });
  }

  onKey(e) {
    if (!this.mode || e.target !== this.input) return;
    const n = this.items.length;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      if (!n) return;
      e.preventDefault();
      this.active = (this.active + (e.key === "ArrowDown" ? 1 : n - 1)) % n;
      this.render();
    } else if ((e.key === "Enter" && !e.shiftKey) || (e.key === "Tab" && n)) {
      if (!n) {
        if (e.key === "Enter") this.close();
        return;
      }
      e.preventDefault();
      e.stopImmediatePropagation();
      this.choose(this.active);
    } else if (e.key === "Escape") {
      e.preventDefault();
      e.stopPropagation();
      this.close();
    }
  }

  async choose(index) {
    const snippet = this.items[index];
    const chat = this.getChat();
    const slash = this.mode === "slash";
    this.close();
    if (!snippet || !chat) return;
    let text;
    try {
      const res = await api.get(`/chats/${encodeURIComponent(chat.id)}/snippets/${encodeURIComponent(snippet.id)}/render`);
      text = res.text;
    } catch (err) {
      toast({ title: t("Could not insert the snippet"), text: err.message, kind: "error" });
      return;
    }
    this.insert(text, slash);
    this.input.focus();
    this.input.setSelectionRange(this.input.value.length, this.input.value.length);
  }
}

// ------------------------------------------------------------------ management view

const mg = { me: null, queues: [], editing: null };

export function initSnippetManager({ me, queues }) {
  mg.me = me;
  mg.queues = queues;
  const seesAll = me.role === "supervisor" || me.role === "admin";
  const root = $('[data-role="snippets-view"]');
  const form = h(
    "form",
    { class: "card snippet-form", novalidate: true, "data-testid": "snippet-form", "aria-labelledby": "snippet-form-title" },
    h("h2", { id: "snippet-form-title" }, t("New snippet")),
    h("p", { class: "form-error", role: "alert", "data-role": "error", "data-testid": "snippet-error" }),
    h("div", { class: "field" }, h("label", { for: "snippet-title" }, t("Title")), h("input", { class: "input", id: "snippet-title", name: "title", maxlength: "120", required: true, "data-testid": "snippet-title" })),
    h(
      "div",
      { class: "field" },
      h("label", { for: "snippet-content" }, t("Text")),
      h("textarea", { class: "textarea", id: "snippet-content", name: "content", rows: "5", maxlength: "5000", required: true, "data-testid": "snippet-content" }),
      h("span", { class: "hint" }, t("Placeholders: {customer.name}, {agent.name}, {chat.reference}, {queue.name}. In a chat, type / and a few letters to insert it.")),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "snippet-queue" }, t("Who can use it")),
      h(
        "select",
        { class: "select", id: "snippet-queue", name: "queue_id", "data-testid": "snippet-queue", disabled: !seesAll },
        h("option", { value: "" }, t("Only me (personal)")),
        ...(seesAll ? queues.map((q) => h("option", { value: q.id }, t("Everyone in {name}", { name: q.name }))) : []),
      ),
      seesAll ? null : h("span", { class: "hint" }, t("Shared snippets are managed by supervisors.")),
    ),
    h(
      "div",
      { class: "form-actions form-actions--start" },
      h("button", { class: "btn btn--primary", type: "submit", "data-testid": "snippet-save" }, t("Save snippet")),
      h("button", { class: "btn btn--ghost", type: "button", "data-action": "snippet-cancel-edit", hidden: true }, t("Cancel editing")),
    ),
  );
  form.addEventListener("submit", save);
  form.querySelector('[data-action="snippet-cancel-edit"]').addEventListener("click", () => edit(null));
  root.replaceChildren(
    h(
      "div",
      { class: "view-inner" },
      h("div", { class: "view-head" }, h("h1", { id: "snippets-heading" }, t("Snippets"))),
      h("p", { class: "muted" }, t("Canned responses for the chat composer: your personal ones, and those shared with your queues.")),
      h("div", { class: "snippets-grid" }, form, h("div", {}, h("ul", { class: "grid-list snippet-admin-list", "data-testid": "snippet-list", "aria-label": t("Snippets") }))),
    ),
  );
}

export async function showSnippets() {
  invalidateSnippets();
  await renderList();
}

async function renderList() {
  const list = $('[data-testid="snippet-list"]');
  const items = await loadSnippets();
  if (!items.length) {
    list.replaceChildren(h("li", { class: "empty" }, h("strong", {}, t("No snippets yet")), h("span", { class: "small" }, t("Create the first one with the form."))));
    return;
  }
  list.replaceChildren(
    ...items.map((s) => {
      const editBtn = h("button", { class: "btn btn--sm", type: "button", "data-testid": "snippet-edit" }, t("Edit"));
      const delBtn = h("button", { class: "btn btn--sm btn--danger-ghost", type: "button", "data-testid": "snippet-delete" }, t("Delete"));
      editBtn.addEventListener("click", () => edit(s));
      delBtn.addEventListener("click", () => remove(s, delBtn));
      return h(
        "li",
        { class: "card snippet-admin-row", "data-testid": "snippet-row", "data-snippet-id": s.id },
        h(
          "div",
          { class: "snippet-admin-row__head" },
          h("strong", {}, s.title),
          h("span", { class: s.shared ? "badge badge--open" : "badge badge--ref" }, s.shared ? t("Shared · {queue}", { queue: s.queue?.name || "" }) : t("Personal")),
        ),
        h("p", { class: "snippet-admin-row__text" }, s.content),
        s.editable ? h("div", { class: "form-actions form-actions--start" }, editBtn, delBtn) : h("p", { class: "muted small" }, t("By {name}", { name: s.owner?.name || t("a supervisor") })),
      );
    }),
  );
}

function edit(s) {
  mg.editing = s;
  const form = $('[data-testid="snippet-form"]');
  form.elements.title.value = s?.title || "";
  form.elements.content.value = s?.content || "";
  form.elements.queue_id.value = s?.queue_id || "";
  $("#snippet-form-title").textContent = s ? t("Edit “{title}”", { title: s.title }) : t("New snippet");
  form.querySelector('[data-action="snippet-cancel-edit"]').hidden = !s;
  showFormError(form, null);
  if (s) form.elements.title.focus();
}

async function save(e) {
  e.preventDefault();
  const form = e.target;
  const title = form.elements.title.value.trim();
  const content = form.elements.content.value.trim();
  if (!title || !content) {
    showFormError(form, { message: t("Give the snippet a title and a text.") });
    (title ? form.elements.content : form.elements.title).focus();
    return;
  }
  const body = { title, content, queue_id: form.elements.queue_id.value || null };
  const btn = form.querySelector('[type="submit"]');
  btn.disabled = true;
  try {
    if (mg.editing) await api.patch(`/snippets/${encodeURIComponent(mg.editing.id)}`, body);
    else await api.post("/snippets", body);
    toast({ title: mg.editing ? t("Snippet saved") : t("Snippet created"), kind: "success", timeout: 2500, key: "snippet-saved" });
    edit(null);
    invalidateSnippets();
    await renderList();
  } catch (err) {
    showFormError(form, err);
  } finally {
    btn.disabled = false;
  }
}

function confirmDelete(s) {
  return confirmAction({
    title: t("Delete this snippet?"),
    text: s.shared
      ? t("“{title}” will no longer be offered in the composer to anyone in its queue.", { title: s.title })
      : t("“{title}” will no longer be offered in the composer.", { title: s.title }),
    ok: t("Delete snippet"),
  });
}

async function remove(s, btn) {
  if (!(await confirmDelete(s))) return;
  btn.disabled = true;
  try {
    await api.del(`/snippets/${encodeURIComponent(s.id)}`);
    if (mg.editing?.id === s.id) edit(null);
    invalidateSnippets();
    await renderList();
  } catch (err) {
    btn.disabled = false;
    toast({ title: t("Could not delete the snippet"), text: err.message, kind: "error" });
  }
}
