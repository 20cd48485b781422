// The admin page's frame: login, the tab bar, and mounting each part once when first shown.
import { $, api, session, say } from "./common.js";

const mounted = new Set();

async function showTab(name) {
  // a tab this account may not see falls back to its first one (a volunteer's only tab: the password)
  const offered = document.querySelector(`#tabs a[data-tab="${name}"]:not([hidden])`);
  const link = offered ? name : document.querySelector("#tabs a:not([hidden])").dataset.tab;
  for (const a of document.querySelectorAll("#tabs a")) a.classList.toggle("active", a.dataset.tab === link);
  for (const section of document.querySelectorAll("main > section")) section.hidden = section.id !== `tab-${link}`;
  const section = $(`tab-${link}`);
  if (!mounted.has(link)) {
    mounted.add(link);
    try {
      const part = await import(`./${section.dataset.module}.js`);
      await part.mount(section);
    } catch (err) {
      mounted.delete(link);
      say(err.message || String(err), true);
    }
  }
}

function showApp() {
  $("login-view").hidden = true;
  $("me-bar").hidden = false;
  $("me-name").textContent = session.me.name;
  const staff = ["staff", "admin"].includes(session.me.role);
  // volunteers come here only to change their own password
  for (const a of document.querySelectorAll("#tabs a")) {
    a.hidden = a.dataset.role === "admin" ? session.me.role !== "admin" : !staff && a.dataset.tab !== "password";
  }
  $("forbidden").hidden = staff;
  $("app").hidden = false;
  showTab(session.me.must_change_password ? "password" : location.hash.slice(1));
}

function showLogin() {
  session.me = null;
  $("app").hidden = true;
  $("me-bar").hidden = true;
  $("login-view").hidden = false;
}

async function start() {
  try {
    session.me = await api("GET", "/console/api/me");
    session.csrf = session.me.csrf;
    showApp();
  } catch (err) {
    if (err.status === 401) showLogin();
    else say(err.message, true);
  }
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("login-error").textContent = "";
  try {
    session.me = await api("POST", "/console/api/login", { username: $("username").value, password: $("password").value });
    session.csrf = session.me.csrf;
    $("password").value = "";
    showApp();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
});

$("logout").addEventListener("click", async () => {
  try { await api("POST", "/console/api/logout", {}); } finally { showLogin(); }
});

window.addEventListener("hashchange", () => { if (session.me) showTab(location.hash.slice(1)); });
window.addEventListener("admin:logged-out", showLogin);
start();
