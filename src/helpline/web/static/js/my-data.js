// The portal's "Your data": a customer downloads everything they told us, as a zip.

import { t, tn } from "./i18n.js";
import { $, formatSize, setBusy, toastError } from "./ui.js";
import { downloadExport, exportAndWait } from "./exports.js";

function wire() {
  const card = $("#my-data");
  if (!card) return;
  const button = $('[data-action="export"]', card);
  const status = $('[data-role="status"]', card);
  const link = $('[data-action="download"]', card);
  let ready = null;
  button.addEventListener("click", async () => {
    setBusy(button, true, t("Preparing…"));
    link.hidden = true;
    status.textContent = t("Gathering your chats, requests and files…");
    try {
      const done = await exportAndWait("/me/export");
      setBusy(button, false, "");
      if (done.status === "ready") {
        ready = done;
        status.textContent = t("Your data is ready ({size}). The link works for 7 days.", { size: formatSize(done.size) });
        link.hidden = false;
        link.focus();
      } else {
        status.textContent = t("We could not prepare your data. Please try again later.");
      }
    } catch (err) {
      status.textContent = "";
      toastError(err, t("Could not prepare your data"));
    } finally {
      setBusy(button, false, "");
    }
  });
  link.addEventListener("click", async () => {
    if (!ready) return;
    try {
      await downloadExport(ready, "my-helpline-data.zip");
    } catch (err) {
      toastError(err, t("Could not download your data"));
    }
  });
}

wire();
