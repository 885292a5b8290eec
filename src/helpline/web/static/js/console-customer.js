// The console's customer panel, beside the conversation: who the customer is (name, e-mail),
// where they came from (page, referrer, browser, language), their pre-chat answers, the
// chat's tags (tags.js picker), their earlier chats (opening one shows its transcript), open
// requests and average rating (GET /customers/{id}). Collapsible; on a phone it covers the
// conversation until closed.

import { formatNumber, t, tn } from "./i18n.js";
import { api } from "./api.js";
import { mayDo, state, upsert } from "./console-store.js";
import { TagPicker } from "./tags.js";
import { $, CHAT_STATUS, REQUEST_STATUS, deviceWords, formatDateTime, h } from "./ui.js";

const OPEN_KEY = "helpline.console.customer-panel";
const OPEN_REQUEST = new Set(["new", "open", "in_progress", "on_hold"]);
const phone = () => window.matchMedia("(max-width: 760px)").matches;
const panel = { picker: null, customerId: null, profile: null, loading: null, openChat: () => {} };

function languageName(locale) {
  if (!locale) return null;
  try {
    const name = new Intl.DisplayNames([navigator.language || "en"], { type: "language" }).of(locale);
    return name && name !== locale ? `${name} (${locale})` : locale;
  } catch {
    return locale;
  }
}

function fieldLabel(key) {
  for (const q of state.queues) {
    const f = (q.fields || []).find((x) => x.key === key);
    if (f) return f.label;
  }
  return key;
}

function safeLink(url, testid) {
  let ok = false;
  try {
    ok = ["http:", "https:"].includes(new URL(url).protocol);
  } catch {
    ok = false;
  }
  const text = url.length > 80 ? `${url.slice(0, 77)}…` : url;
  return ok ? h("a", { href: url, target: "_blank", rel: "noopener noreferrer nofollow", title: url, "data-testid": testid }, text) : h("span", { title: url, "data-testid": testid }, text);
}

function section(title, testid, ...body) {
  return h("section", { class: "cp-section", "data-testid": testid }, h("h3", { class: "cp-section__title" }, title), ...body);
}

function facts(rows) {
  const shown = rows.filter(([, v]) => v !== null && v !== undefined && v !== "");
  if (!shown.length) return null;
  return h("dl", { class: "cp-facts" }, ...shown.flatMap(([k, v, testid]) => [h("dt", {}, k), h("dd", { "data-testid": testid || null }, v)]));
}

function answers(chat) {
  const fields = chat.context?.fields || {};
  const keys = Object.keys(fields);
  if (!keys.length) return null;
  // Answers are shown as the customer gave them: a number field often holds an order or
  // account number, which grouping digits ("1,234") would misquote.
  const value = (v) => (v === true ? t("Yes") : v === false ? t("No") : String(v));
  return section(
    t("Pre-chat answers"),
    "cp-answers",
    h("dl", { class: "cp-facts" }, ...keys.flatMap((k) => [h("dt", {}, fieldLabel(k)), h("dd", { "data-testid": "cp-answer", "data-key": k }, value(fields[k]))])),
  );
}

function history(chat, profile) {
  if (!profile) return section(t("Earlier chats"), "cp-chats", h("p", { class: "muted small" }, panel.loading ? t("Loading…") : t("Not available.")));
  const earlier = profile.chats.filter((c) => c.id !== chat.id);
  if (!earlier.length) return section(t("Earlier chats"), "cp-chats", h("p", { class: "muted small" }, t("This is their first chat.")));
  return section(
    t("Earlier chats"),
    "cp-chats",
    h(
      "ul",
      { class: "cp-list" },
      ...earlier.slice(0, 20).map((c) => {
        const b = h(
          "button",
          { class: "cp-item", type: "button", "data-testid": "cp-chat", "data-chat-id": c.id, title: t("Open {reference}", { reference: c.reference }) },
          h("span", { class: "cp-item__top" }, h("strong", {}, c.reference), h("span", { class: `badge badge--${c.status}` }, CHAT_STATUS[c.status] || c.status)),
          h("span", { class: "cp-item__meta" }, [state.queuesById.get(c.queue_id)?.name, formatDateTime(c.created_at)].filter(Boolean).join(" · ")),
        );
        b.addEventListener("click", () => panel.openChat(c.id));
        return h("li", {}, b);
      }),
    ),
    earlier.length > 20 ? h("p", { class: "muted small" }, tn("and {count} more", "and {count} more", earlier.length - 20)) : null,
  );
}

function requests(profile) {
  if (!profile) return null;
  const open = profile.requests.filter((r) => OPEN_REQUEST.has(r.status));
  return section(
    t("Open requests"),
    "cp-requests",
    open.length
      ? h(
          "ul",
          { class: "cp-list" },
          ...open.map((r) =>
            h(
              "li",
              {},
              h(
                "a",
                { class: "cp-item", href: `#requests/${encodeURIComponent(r.reference)}`, "data-testid": "cp-request" },
                h("span", { class: "cp-item__top" }, h("strong", {}, r.reference), h("span", { class: `badge badge--${r.status}` }, REQUEST_STATUS[r.status] || r.status)),
                h("span", { class: "cp-item__meta" }, r.summary),
              ),
            ),
          ),
        )
      : h("p", { class: "muted small" }, t("None open.")),
  );
}

function rating(profile) {
  if (!profile) return null;
  const avg = profile.rating_avg;
  return section(
    t("Average rating"),
    "cp-rating",
    avg === null || avg === undefined
      ? h("p", { class: "muted small" }, t("Not rated yet."))
      : h("p", { class: "cp-rating" }, h("span", { class: "cp-stars", "aria-hidden": "true" }, "★".repeat(Math.round(avg)) + "☆".repeat(5 - Math.round(avg))), h("strong", { "data-testid": "cp-rating-value" }, `${formatNumber(Number(avg), { minimumFractionDigits: 1, maximumFractionDigits: 1 })} / ${formatNumber(5)}`)),
  );
}

async function loadProfile(chat) {
  const id = chat.customer?.id;
  if (!id || chat.gone) return;
  const key = `${id}:${chat.id}`;
  panel.loading = key;
  try {
    const profile = await api.get(`/customers/${encodeURIComponent(id)}`);
    if (panel.loading !== key) return;
    panel.profile = profile;
    panel.customerId = id;
  } catch {
    if (panel.loading === key) panel.profile = null;
  } finally {
    if (panel.loading === key) panel.loading = null;
  }
  const shown = state.chats.get(state.shownId);
  if (shown?.customer?.id === id) render(shown);
}

function render(chat) {
  const body = $('[data-role="cp-body"]');
  const c = chat.context || {};
  const profile = panel.customerId === chat.customer?.id ? panel.profile : null;
  const email = chat.customer?.email || profile?.email;
  const tagsBox = h("div", { class: "tag-picker" });
  const parts = [
    h(
      "div",
      { class: "cp-who" },
      h("strong", { class: "cp-who__name", "data-testid": "cp-name" }, chat.customer?.name || profile?.name || t("Customer")),
      email ? h("a", { href: `mailto:${email}`, "data-testid": "cp-email" }, email) : null,
      profile?.created_at ? h("span", { class: "muted small" }, t("Customer since {date}", { date: formatDateTime(profile.created_at) })) : null,
    ),
    section(t("Tags"), "cp-tags", tagsBox),
    section(
      t("Visit"),
      "cp-visit",
      facts([
        [t("Page"), c.page_url ? safeLink(c.page_url, "cp-page") : null],
        [t("Came from"), c.referrer ? safeLink(c.referrer, "cp-referrer") : null],
        [t("Browser"), c.user_agent ? h("span", { title: c.user_agent }, deviceWords(c.device) || c.user_agent.slice(0, 60)) : null, "cp-browser"],
        [t("Language"), languageName(c.locale), "cp-language"],
      ]) || h("p", { class: "muted small" }, t("Nothing known about the visit.")),
    ),
    answers(chat),
    history(chat, profile),
    requests(profile),
    rating(profile),
  ];
  body.replaceChildren(...parts.filter(Boolean)); // the DOM's replaceChildren writes null as text
  // The picker lives as long as the element: a new one per render keeps it simple.
  panel.picker = new TagPicker(tagsBox, {
    getAll: () => state.tags,
    save: async (ids) => {
      const updated = upsert(await api.put(`/chats/${chat.id}/tags`, { tag_ids: ids }));
      return updated?.tags || [];
    },
  });
  panel.picker.set(chat.tags || [], mayDo("tag", chat));
}

function setOpen(open, { remember = true, focus = false } = {}) {
  const aside = $('[data-role="customer-panel"]');
  aside.dataset.open = String(open);
  $('[data-testid="customer-panel-toggle"]').setAttribute("aria-expanded", String(open));
  if (remember && !phone()) localStorage.setItem(OPEN_KEY, open ? "1" : "0");
  if (open) {
    const chat = state.chats.get(state.shownId);
    if (chat) {
      render(chat);
      loadProfile(chat);
    }
    if (focus) $('[data-role="cp-title"]').focus();
  }
}

const isOpen = () => $('[data-role="customer-panel"]').dataset.open === "true";

/** The shown chat changed (`full`: another chat) or was updated. */
export function renderCustomerPanel(chat, full) {
  if (!chat) return;
  if (full && phone() && isOpen()) setOpen(false, { remember: false });
  if (!isOpen()) return;
  if (full && panel.picker?.input === document.activeElement) document.activeElement.blur();
  const focused = document.activeElement?.closest?.('[data-role="customer-panel"] .tag-picker');
  if (!focused) render(chat);
  else panel.picker.set(chat.tags || [], mayDo("tag", chat));
  if (full) loadProfile(chat);
}

export function wireCustomerPanel({ openChat }) {
  panel.openChat = (id) => {
    if (phone()) setOpen(false, { remember: false });
    openChat(id);
  };
  const stored = localStorage.getItem(OPEN_KEY);
  const open = phone() ? false : stored === null ? window.matchMedia("(min-width: 1100px)").matches : stored === "1";
  $('[data-role="customer-panel"]').dataset.open = String(open);
  $('[data-testid="customer-panel-toggle"]').setAttribute("aria-expanded", String(open));
  $('[data-testid="customer-panel-toggle"]').addEventListener("click", () => setOpen(!isOpen(), { focus: !isOpen() }));
  $('[data-action="customer-panel-close"]').addEventListener("click", () => {
    setOpen(false);
    $('[data-testid="customer-panel-toggle"]').focus();
  });
}
