import { t, tn } from "./i18n.js";
// HTTP client for /api/v1: JSON in and out, CSRF header on unsafe methods, errors as ApiError
// carrying the server's {"error": {"code", "message"}} so pages can show the message.

const BASE = "/api/v1";
const UNSAFE = new Set(["POST", "PUT", "PATCH", "DELETE"]);

export class ApiError extends Error {
  constructor(status, code, message, body = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.body = body;
  }
}

export function readCookie(name) {
  for (const part of document.cookie.split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return decodeURIComponent(v.join("="));
  }
  return null;
}

export function bootData() {
  const el = document.getElementById("boot");
  try {
    return el ? JSON.parse(el.textContent) : {};
  } catch {
    return {};
  }
}

let bootCsrf = null;

function csrfToken() {
  if (bootCsrf === null) bootCsrf = bootData().csrf || "";
  return readCookie("helpline_csrf") || bootCsrf;
}

const STATUS_MESSAGES = {
  0: t("Cannot reach the server. Check your connection and try again."),
  401: t("Your session has ended. Please sign in again."),
  403: t("You are not allowed to do that."),
  404: t("Not found — it may have been removed, or you may not have access to it."),
  409: t("That is not possible right now."),
  413: t("That file is too large."),
  415: t("That type of file is not allowed."),
  422: t("Please check what you entered."),
  429: t("Too many attempts. Please wait a moment and try again."),
  503: t("The service is temporarily unavailable. Please try again shortly."),
};

export function defaultMessage(status) {
  return STATUS_MESSAGES[status] || t("Something went wrong (HTTP {status}). Please try again.", { status });
}

function errorFrom(status, body) {
  const err = body && typeof body === "object" ? body.error : null;
  let message = err && typeof err.message === "string" && err.message ? err.message : null;
  if (!message) message = defaultMessage(status);
  const apiErr = new ApiError(status, (err && err.code) || `http_${status}`, message, body);
  if (err) Object.assign(apiErr, { details: err });
  return apiErr;
}

let bearer = null;

/**
 * Authenticate with `Authorization: Bearer <token>` instead of the session cookie (the
 * embedded widget: no cookies cross-site). Such requests need no CSRF token.
 */
export function setBearer(token) {
  bearer = token || null;
}

export async function request(method, path, body) {
  const headers = { Accept: "application/json" };
  const init = { method, headers, credentials: bearer ? "omit" : "same-origin" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  else if (UNSAFE.has(method)) headers["X-CSRF-Token"] = csrfToken();
  let res;
  try {
    res = await fetch(BASE + path, init);
  } catch {
    throw new ApiError(0, "network", defaultMessage(0));
  }
  if (res.status === 204) return null;
  const type = res.headers.get("content-type") || "";
  let data = null;
  try {
    data = type.includes("json") ? await res.json() : await res.text();
  } catch {
    data = null;
  }
  if (!res.ok) throw errorFrom(res.status, data);
  return data;
}

export const api = {
  get: (path) => request("GET", path),
  post: (path, body = {}) => request("POST", path, body),
  put: (path, body = {}) => request("PUT", path, body),
  patch: (path, body = {}) => request("PATCH", path, body),
  del: (path) => request("DELETE", path),
};

/**
 * For a view loaded on several occasions whose answers may come back out of order (a page's
 * first load, a link, a refresh, a second search): `const begin = latestOnly()` once, then
 * `const current = begin()` before each load, and draw its answer only while `current()` holds;
 * otherwise an older, slower answer would replace a fresher one.
 */
export function latestOnly() {
  let last = 0;
  return () => {
    const mine = ++last;
    return () => mine === last;
  };
}

/** Every page of a list endpoint ({items, next}), up to `max` items. */
export async function getAll(path, max = 500) {
  const items = [];
  let cursor = null;
  do {
    const sep = path.includes("?") ? "&" : "?";
    const page = await api.get(cursor ? `${path}${sep}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...(page.items || []));
    cursor = page.next || null;
  } while (cursor && items.length < max);
  return items;
}

/**
 * Upload a file as multipart `file` with progress (XMLHttpRequest: fetch has no upload events).
 * Resolves with the parsed JSON answer; rejects with ApiError. Returns {promise, abort}.
 */
export function upload(path, file, onProgress) {
  const xhr = new XMLHttpRequest();
  const promise = new Promise((resolve, reject) => {
    xhr.open("POST", BASE + path);
    xhr.withCredentials = !bearer;
    xhr.setRequestHeader("Accept", "application/json");
    if (bearer) xhr.setRequestHeader("Authorization", `Bearer ${bearer}`);
    else xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.upload.addEventListener("progress", (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = null;
      }
      if (xhr.status >= 200 && xhr.status < 300) {
        if (onProgress) onProgress(1);
        resolve(data);
      } else {
        reject(errorFrom(xhr.status, data));
      }
    });
    xhr.addEventListener("error", () => reject(new ApiError(0, "network", defaultMessage(0))));
    xhr.addEventListener("abort", () => reject(new ApiError(0, "aborted", t("Upload cancelled."))));
    const form = new FormData();
    form.append("file", file, file.name);
    xhr.send(form);
  });
  return { promise, abort: () => xhr.abort() };
}

/**
 * An API file fetched with the current credentials (the bearer token where set) as an object
 * URL: how an `<img>` or a new tab shows a file without cookies. Revoke it when done.
 * Rejects with ApiError.
 */
export async function blobUrl(path) {
  const headers = {};
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  let res;
  try {
    res = await fetch(BASE + path, { headers, credentials: bearer ? "omit" : "same-origin" });
  } catch {
    throw new ApiError(0, "network", defaultMessage(0));
  }
  if (!res.ok) {
    const data = await res.json().catch(() => null);
    throw errorFrom(res.status, data);
  }
  return URL.createObjectURL(await res.blob());
}

/**
 * Download a file from the API with the current credentials (the bearer token where set), so
 * it works without cookies: fetch → blob → object URL → a temporary `<a download>` click.
 * Rejects with ApiError.
 */
export async function download(path, filename) {
  const url = await blobUrl(path);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename || "file";
  a.hidden = true;
  document.body.appendChild(a);
  a.click();
  a.remove();
  // Give the browser time to start the download before the URL goes away.
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

export async function signIn(email, password, totp) {
  return api.post("/auth/login", totp ? { email, password, totp } : { email, password });
}

export async function requestPasswordReset(email) {
  return api.post("/auth/password-reset", { email });
}

export async function resetPassword(token, password) {
  return api.post("/auth/password-reset/confirm", { token, password });
}

export async function signInGuest(name, email) {
  return api.post("/auth/guest", { name, email });
}

export async function signOut() {
  try {
    await api.post("/auth/logout", {});
  } finally {
    try {
      sessionStorage.clear();
    } catch {
      /* storage may be unavailable */
    }
  }
}
