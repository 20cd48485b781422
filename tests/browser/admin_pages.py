"""What the staff pages' browser tests share: an account logged in through the page's own form,
and a watch on script errors and content-security-policy violations."""

from __future__ import annotations

import itertools

from bot.console import auth
from bot.storage.db import session_scope

PASSWORD = "mật-khẩu-trang-quản-trị"
# Before login the page asks /me and gets 401: the browser logs that refusal as an error.
LOGIN_CHECK = "status of 401"
WATCH_CSP = (
    "window.cspViolations = [];"
    "document.addEventListener('securitypolicyviolation',"
    " (e) => window.cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));"
)
_accounts = itertools.count()


def new_account(role: str = "staff", name: str = "Thảo") -> str:
    """A fresh account of `role` with PASSWORD; its username."""
    username = f"trang-{role}-{next(_accounts)}"
    with session_scope() as session:
        auth.create_account(session, username, name, PASSWORD, role)
    return username


def log_in(page, url: str, username: str, password: str = PASSWORD, expected: tuple[str, ...] = ()) -> list[str]:
    """Opens `url` (/admin#tab or /console) and logs in through its form. Returns the list that
    collects the page's script errors and error logs from then on, but for the login check's 401
    and the `expected` refusals (substrings such as "status of 422"); CSP violations gather in
    `window.cspViolations`."""
    problems: list[str] = []
    ignored = (LOGIN_CHECK, *expected)
    page.on(
        "console",
        lambda m: problems.append(m.text) if m.type == "error" and not any(s in m.text for s in ignored) else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.add_init_script(WATCH_CSP)
    page.goto(url)
    page.fill("#username", username)
    page.fill("#password", password)
    page.locator("#login-form button[type=submit]").click()
    return problems


def staff_opens(page, base: str, tab: str, expected: tuple[str, ...] = ()) -> list[str]:
    """A new staff account logged in on /admin at `tab` (see log_in for what is returned)."""
    return log_in(page, f"{base}/admin#{tab}", new_account("staff"), expected=expected)
