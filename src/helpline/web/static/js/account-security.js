// The user menu's "API tokens" (create with name, scopes and an optional expiry; the token
// shown once with a copy button; the list with last use; revoke after a confirm) and "Your
// sessions" (device, address, created, last seen, this one marked; sign out any other).

import { t, tn } from "./i18n.js";
import { api } from "./api.js";
import { $, confirmAction, deviceWords, formatDateTime, h, openDialog, submitForm, toast, toastError } from "./ui.js";

const when = (iso) => (iso ? formatDateTime(iso) : "—");

/** A local calendar day's end, as the time a token chosen to expire "on" that day ends. */
function endOfDay(value) {
  const d = new Date(`${value}T23:59:59`);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function initTokens() {
  const dialog = $("#tokens-dialog");
  const form = $('[data-role="token-form"]', dialog);
  const created = $('[data-role="created"]', dialog);
  const body = $('[data-role="tokens"]', dialog);

  async function load() {
    const { items } = await api.get("/me/tokens");
    body.replaceChildren(...items.map(row));
    $('[data-role="tokens-empty"]', dialog).hidden = items.length > 0;
  }

  function row(token) {
    const revoke = h("button", { class: "btn btn--sm btn--danger-ghost", type: "button", "data-testid": "token-revoke" }, t("Revoke"));
    revoke.addEventListener("click", async () => {
      const ok = await confirmAction({
        title: t("Revoke “{name}”?", { name: token.name }),
        text: t("Anything using this token stops working at once. This cannot be undone."),
        ok: t("Revoke"),
      });
      if (!ok) return;
      try {
        await api.del(`/me/tokens/${token.id}`);
        toast({ title: t("Revoked {name}", { name: token.name }), kind: "success", timeout: 3000 });
        await load();
      } catch (err) {
        toastError(err, t("Could not revoke the token"));
      }
    });
    return h(
      "tr",
      { "data-testid": "token-row", "data-token-id": token.id },
      h("td", {}, h("strong", {}, token.name), h("div", { class: "small muted" }, h("code", {}, `${token.prefix}…`))),
      h("td", {}, h("span", { class: "small" }, token.scopes.join(", "))),
      h("td", { class: "nowrap" }, when(token.created_at)),
      h("td", { class: "nowrap", "data-testid": "token-last-used" }, token.last_used_at ? when(token.last_used_at) : t("Never")),
      h("td", { class: "nowrap" }, token.expired ? h("span", { class: "badge badge--expired" }, t("Expired")) : when(token.expires_at)),
      h("td", { class: "actions" }, revoke),
    );
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    submitForm(form, async () => {
      const name = form.elements.name.value.trim();
      const scopes = [...form.querySelectorAll('input[name="scopes"]:checked')].map((c) => c.value);
      if (!name) throw new Error(t("Give the token a name."));
      if (!scopes.length) throw new Error(t("Tick at least one scope."));
      const body = { name, scopes };
      if (form.elements.expires.value) body.expires_at = endOfDay(form.elements.expires.value);
      const token = await api.post("/me/tokens", body);
      $('[data-role="secret"]', dialog).textContent = token.token;
      created.hidden = false;
      form.reset();
      await load();
      $('[data-action="copy-token"]', dialog).focus();
    });
  });

  $('[data-action="copy-token"]', dialog).addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText($('[data-role="secret"]', dialog).textContent);
      toast({ title: t("Token copied"), kind: "success", timeout: 2500 });
    } catch {
      toast({ title: t("Copy it by hand"), text: t("The browser did not allow copying."), kind: "warning" });
    }
  });

  // Closing forgets the token shown: it is never shown again.
  dialog.addEventListener("close", () => {
    $('[data-role="secret"]', dialog).textContent = "";
    created.hidden = true;
  });

  return async () => {
    openDialog(dialog);
    form.elements.name.focus();
    try {
      await load();
    } catch (err) {
      toastError(err, t("Could not load your tokens"));
    }
  };
}

// A session's device in words; its raw user agent when the server's rules knew nothing of it.
function deviceOf(s) {
  return deviceWords(s) || s.user_agent || t("Unknown device");
}

function initSessions() {
  const dialog = $("#sessions-dialog");
  const list = $('[data-role="sessions"]', dialog);

  async function load() {
    const { items } = await api.get("/me/sessions");
    list.replaceChildren(...items.map(item));
  }

  function item(s) {
    const facts = h(
      "div",
      { class: "session__facts small muted" },
      h("span", {}, s.ip || t("unknown address")),
      h("span", {}, t("signed in {when}", { when: when(s.created_at) })),
      h("span", {}, t("last seen {when}", { when: when(s.last_seen_at) })),
    );
    let action;
    if (s.current) {
      action = h("span", { class: "badge badge--solved", "data-testid": "session-current" }, t("This device"));
    } else {
      action = h("button", { class: "btn btn--sm btn--danger-ghost", type: "button", "data-testid": "session-signout" }, t("Sign out"));
      action.addEventListener("click", async () => {
        const ok = await confirmAction({
          title: t("Sign out this session?"),
          text: t("{device} ({address}) will have to sign in again; its open pages stop now.", { device: deviceOf(s), address: s.ip || t("unknown address") }),
          ok: t("Sign out"),
        });
        if (!ok) return;
        try {
          await api.del(`/me/sessions/${s.id}`);
          toast({ title: t("Signed out"), kind: "success", timeout: 3000 });
          await load();
        } catch (err) {
          toastError(err, t("Could not sign that session out"));
        }
      });
    }
    return h(
      "li",
      { class: "session", "data-testid": "session-row", "data-session-id": s.id, "data-current": String(s.current) },
      h("div", { class: "session__what" }, h("strong", { title: s.user_agent || "" }, deviceOf(s)), facts),
      action,
    );
  }

  return async () => {
    openDialog(dialog);
    try {
      await load();
    } catch (err) {
      toastError(err, t("Could not load your sessions"));
    }
  };
}

/** Wire the user menu's two items to their dialogs (the page has both, or neither). */
export function initAccountSecurity() {
  if (!$("#tokens-dialog") || !$("#sessions-dialog")) return;
  const openTokens = initTokens();
  const openSessions = initSessions();
  for (const [action, open] of [["api-tokens", openTokens], ["sessions", openSessions]]) {
    for (const btn of document.querySelectorAll(`[data-action="${action}"]`)) {
      btn.addEventListener("click", () => {
        btn.closest("details")?.removeAttribute("open");
        open();
      });
    }
  }
}
