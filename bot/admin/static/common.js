// What every part of the admin page shares: the session, one JSON fetch wrapper, DOM helpers.
// Server data is only ever written with textContent (never innerHTML).
export const session = { me: null, csrf: "" };

export const $ = (id) => document.getElementById(id);

export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = String(text);
  return node;
}

let statusTimer = null;
export function say(text, isError) {
  const line = $("status");
  line.textContent = text || "";
  line.className = isError ? "error" : "";
  clearTimeout(statusTimer);
  if (text && !isError) statusTimer = setTimeout(() => (line.textContent = ""), 5000);
}

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.error) || `Lỗi ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

// JSON in and out; the login's CSRF token on every change. `body` may be FormData (uploads).
export async function api(method, path, body) {
  const opts = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
  if (method !== "GET") opts.headers["X-CSRF-Token"] = session.csrf;
  if (body instanceof FormData) {
    opts.body = body;
  } else if (body !== undefined) {
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const response = await fetch(path, opts);
  const type = response.headers.get("content-type") || "";
  const data = type.includes("json") ? await response.json() : await response.text();
  if (!response.ok) {
    if (response.status === 401) window.dispatchEvent(new CustomEvent("admin:logged-out"));
    if (data && data.must_change_password) window.location.hash = "#password";
    throw new ApiError(response.status, typeof data === "object" ? data : { error: data });
  }
  return data;
}

export function formatTime(iso) {
  return iso ? new Date(iso).toLocaleString("vi-VN", { timeZone: "Asia/Ho_Chi_Minh" }) : "";
}
