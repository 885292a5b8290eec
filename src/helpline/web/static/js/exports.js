// Customer data exports: ask for one, wait while a background pass builds it, download it.
// Shared by the portal ("Download my data") and the admin page (a customer's data).

import { api, download } from "./api.js";

const POLL_MS = 1000;
const GIVE_UP_MS = 5 * 60 * 1000;

/** Ask for an export at `path` (`/me/export` or `/customers/{id}/export`), then poll it until it
 * is ready or failed; `onUpdate` gets every state. Resolves with the last state. */
export async function exportAndWait(path, onUpdate = () => {}) {
  let state = await api.post(path);
  onUpdate(state);
  const until = Date.now() + GIVE_UP_MS;
  while (state.status === "pending" && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    state = await api.get(`/exports/${state.id}`);
    onUpdate(state);
  }
  return state;
}

export function downloadExport(state, filename = "helpline-data.zip") {
  return download(`/exports/${state.id}/download`, filename);
}
