// The admin page's Widget tab: the sites allowed to embed the chat (PUT /widget/settings, the
// environment's shown beside them), and identity verification: the secret with copy-paste
// snippets for the site's back end (both come from GET /widget/settings).

import { ApiError, api } from "./api.js";
import { t } from "./i18n.js";
import { $, $$, h, showFormError, submitForm, toast } from "./ui.js";

const SNIPPET_TITLES = {
  html: t("The script tag, with your visitor's details"),
  python: t("Python (your back end)"),
  javascript: t("JavaScript (Node.js back end)"),
};

function render(settings) {
  const form = $("#widget-sites-form");
  form.elements.origins.value = settings.origins.join("\n");
  const env = $('[data-role="env-origins"]', form);
  env.hidden = settings.env_origins.length === 0;
  env.textContent = t("Also allowed by HELPLINE_WIDGET_ORIGINS: {sites}", { sites: settings.env_origins.join(", ") });
  const identity = settings.identity;
  $('[data-role="identity-off"]').hidden = identity.enabled;
  $('[data-role="identity-on"]').hidden = !identity.enabled;
  $("#widget-secret").value = identity.secret || "";
  $('[data-role="snippets"]').replaceChildren(
    ...["html", "python", "javascript"].map((key) => {
      const id = `widget-snippet-${key}`;
      return h(
        "div",
        { class: "snippet stack" },
        h("div", { class: "snippet__head" }, h("h4", { id: `${id}-title` }, SNIPPET_TITLES[key]), h("button", { class: "btn btn--sm", type: "button", "data-copy": `#${id}`, "data-testid": `copy-snippet-${key}` }, t("Copy"))),
        h("pre", { class: "snippet__code", id, tabindex: "0", "aria-labelledby": `${id}-title`, "data-testid": `widget-snippet-${key}` }, identity.snippets[key] || ""),
      );
    }),
  );
  wireCopy();
}

function wireCopy() {
  for (const btn of $$("[data-copy]")) {
    if (btn.dataset.wired) continue;
    btn.dataset.wired = "1";
    btn.addEventListener("click", async () => {
      const el = $(btn.dataset.copy);
      try {
        await navigator.clipboard.writeText(el.value ?? el.textContent);
        toast({ title: t("Copied"), kind: "success", timeout: 2000 });
      } catch {
        toast({ title: t("Copy it by hand"), text: t("The browser did not allow copying."), kind: "warning" });
      }
    });
  }
}

async function load() {
  try {
    render(await api.get("/widget/settings"));
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 403)) showFormError($("#widget-sites-form"), err);
  }
}

function wire() {
  const form = $("#widget-sites-form");
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const origins = form.elements.origins.value
      .split(/[\s,]+/)
      .map((o) => o.trim())
      .filter(Boolean);
    submitForm(form, async () => {
      render(await api.put("/widget/settings", { origins }));
      toast({ title: t("Sites saved"), kind: "success", timeout: 3000 });
    });
  });
}

wire();
load();
