// The scripts' translations: the page embeds its locale's `js` catalog as JSON
// (<script type="application/json" id="i18n">, helpline.kit.i18n.script_catalog), so `t()`
// works synchronously from the first line of every module. Source strings are English;
// placeholders are `{name}`. `make i18n` extracts every `t("…")` and `tn("…", "…", n)`
// (string literals only: never build a message from pieces). Dates, times and numbers
// go through Intl with the page's locale.

const node = typeof document !== "undefined" ? document.getElementById("i18n") : null;
const data = node ? JSON.parse(node.textContent || "{}") : {};
const messages = data.messages || {};

// The page's locale (`<html lang>`); the pseudo-locale formats like English.
export const locale = data.locale || (typeof document !== "undefined" && document.documentElement.lang) || "en";
export const dir = data.dir || "ltr";
export const intlLocale = locale === "qps" ? "en" : locale;

function fill(text, values) {
  if (!values) return text;
  return text.replace(/\{([a-z_]+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
}

/** `t("Send")`, `t("Chat with {name}", {name})`. */
export function t(message, values) {
  const found = messages[message];
  return fill(typeof found === "string" && found ? found : message, values);
}

/** A translated sentence with nodes in it: `parts(t("{agent} joined"), {agent: strongNode})`
 * → ["", strongNode, " joined"], for `h()` or `append()`. Strings stay text. */
export function parts(text, values) {
  const out = [];
  let last = 0;
  text.replace(/\{([a-z_]+)\}/g, (whole, key, offset) => {
    out.push(text.slice(last, offset));
    out.push(key in values ? values[key] : whole);
    last = offset + whole.length;
    return whole;
  });
  out.push(text.slice(last));
  return out.filter((piece) => piece !== "");
}

const rules = new Intl.PluralRules(intlLocale);

/** `tn("{count} chat waiting", "{count} chats waiting", n)`: `{count}` is n, formatted. */
export function tn(singular, plural, n, values) {
  const forms = messages[singular];
  let text;
  if (forms && typeof forms === "object") {
    text = forms[rules.select(n)] || forms.other;
  }
  if (!text) text = n === 1 ? singular : plural;
  return fill(text, { count: formatNumber(n), ...values });
}

export function formatNumber(n, options) {
  return new Intl.NumberFormat(intlLocale, options).format(n);
}

/** A date and time (`style`: Intl's dateStyle/timeStyle options, or a preset name). */
export function formatDateTime(value, options = { dateStyle: "medium", timeStyle: "short" }) {
  const date = value instanceof Date ? value : new Date(value);
  return new Intl.DateTimeFormat(intlLocale, options).format(date);
}

export function formatTime(value, options = { hour: "2-digit", minute: "2-digit" }) {
  return formatDateTime(value, options);
}

export function formatDate(value, options = { dateStyle: "medium" }) {
  return formatDateTime(value, options);
}

/** "3 minutes ago", "in 2 hours" for the locale. */
export function formatRelative(value, unit) {
  return new Intl.RelativeTimeFormat(intlLocale, { numeric: "auto" }).format(value, unit);
}

/** The languages offered by the page (boot data), for the switchers. */
export function languages() {
  const boot = document.getElementById("boot");
  const parsed = boot ? JSON.parse(boot.textContent || "{}") : {};
  return parsed.languages || [];
}

/** Wire every language switcher of the page (`[data-role="language"]`, templates/_language.html).
 * `save(code)`: also keep it on the account (signed in), so e-mails follow; `inUrl`: carry it
 * in `?lang=` (the widget's frame, where a cookie may not be kept). */
export function bindLanguageSwitchers({ save, inUrl } = {}) {
  for (const select of document.querySelectorAll('[data-role="language"]')) {
    select.addEventListener("change", () => switchLanguage(select.value, { saveToAccount: save, inUrl }));
  }
}

/** Switch language: remember it (cookie, and the account when signed in: e-mails follow it)
 * then reload, so the page renders in it. */
export async function switchLanguage(code, { saveToAccount, inUrl } = {}) {
  document.cookie = `helpline_lang=${encodeURIComponent(code)}; path=/; max-age=31536000; samesite=lax`;
  if (saveToAccount) {
    try {
      await saveToAccount(code);
    } catch (err) {
      // The page still switches; the account keeps its old language for e-mails.
      console.warn("could not save the language to the account", err);
    }
  }
  const url = new URL(location.href);
  if (inUrl || url.searchParams.has("lang")) url.searchParams.set("lang", code);
  location.assign(url.toString());
}
