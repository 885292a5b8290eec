// The queue settings' "Service levels" group: minutes in the form, seconds in the API
// (`sla`, `request_sla`). An empty field is no target; the server validates the rest (0 or
// less is its 422, shown beside the field by the settings dialog).

const PRIORITIES = ["urgent", "high", "normal", "low"];
const KINDS = { response: "response_s", resolve: "resolve_s" };

const toMinutes = (seconds) => (seconds == null ? "" : String(Math.round((seconds / 60) * 100) / 100));

function toSeconds(value) {
  const text = String(value).trim();
  if (!text) return null;
  const n = Number(text);
  // Not a number: sent as is, so the server's 422 says what is wrong beside the field.
  return Number.isFinite(n) ? Math.round(n * 60) : text;
}

export function fillSla(form, queue) {
  form.elements.first_response.value = toMinutes(queue.sla?.first_response_s);
  for (const p of PRIORITIES) {
    for (const [kind, key] of Object.entries(KINDS)) form.elements[`${p}.${kind}`].value = toMinutes(queue.request_sla?.[p]?.[key]);
  }
}

export function collectSla(form) {
  const first = toSeconds(form.elements.first_response.value);
  const requestSla = {};
  for (const p of PRIORITIES) {
    const targets = {};
    for (const [kind, key] of Object.entries(KINDS)) {
      const s = toSeconds(form.elements[`${p}.${kind}`].value);
      if (s !== null) targets[key] = s;
    }
    if (Object.keys(targets).length) requestSla[p] = targets;
  }
  return {
    sla: first === null ? null : { first_response_s: first },
    request_sla: Object.keys(requestSla).length ? requestSla : null,
  };
}
