"""Who may use each `/admin` route, for every route the gateway serves there: anonymous 401, a
volunteer 403 (but for changing their own password), staff everything but accounts and the audit
log, admin everything — and never a 5xx. Routes come from the gateway's own OpenAPI document, so a
route added later is checked without touching this file."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integration.people import Console

ADMIN_ONLY = ("/admin/api/accounts", "/admin/api/audit")
EVERY_ROLE = ("/admin/api/me/password",)  # anyone logged in changes their own password
NOTHING = 2**31 - 1  # an id no row has: a write routed to it changes nothing


def _admin_routes(gateway: httpx.Client) -> list[tuple[str, str]]:
    paths = gateway.get("/openapi.json").json()["paths"]
    routes = [
        (method.upper(), path)
        for path, item in paths.items()
        if path.startswith("/admin/")
        for method in item
        if method in ("get", "post", "put", "delete", "patch")
    ]
    return sorted(routes)


def _concrete(path: str) -> str:
    """A path whose parameters name nothing that exists, so no call changes a row."""
    return re.sub(
        r"\{(\w+)\}",
        lambda m: (
            str(NOTHING) if m.group(1) in ("n", "id", "revision") or m.group(1).endswith("_id") else "khong-co-muc-nay"
        ),
        path,
    )


def _call(client: httpx.Client, method: str, path: str, csrf: str | None = None) -> httpx.Response:
    headers = {"X-CSRF-Token": csrf} if csrf else {}
    body = None if method == "GET" else {}
    return client.request(method, _concrete(path), json=body, headers=headers)


def _allowed(role: str, path: str) -> bool:
    if path.startswith(EVERY_ROLE):
        return True
    if path.startswith(ADMIN_ONLY):
        return role == "admin"
    return role in ("staff", "admin")


@pytest.fixture(scope="module")
def people(stack) -> dict[str, Console]:
    return {
        role: Console(stack.gateway_url, f"Quyen{role.capitalize()}", role=role, online=False)
        for role in ("volunteer", "staff", "admin")
    }


def test_the_admin_api_is_in_the_openapi_document(gateway):
    routes = _admin_routes(gateway)
    paths = {path for _, path in routes}
    # the contract, at least
    assert {
        "/admin/api/procedures",
        "/admin/api/procedures/{slug}",
        "/admin/api/procedures/{slug}/revisions",
        "/admin/api/procedures/{slug}/revisions/{n}/restore",
    } <= paths
    assert ("PUT", "/admin/api/procedures/{slug}") in routes
    assert len(routes) >= 25


def test_anonymous_callers_get_401_on_every_admin_route(gateway):
    with httpx.Client(base_url=str(gateway.base_url), timeout=30) as anonymous:
        refused = {
            (method, path): _call(anonymous, method, path).status_code for method, path in _admin_routes(gateway)
        }
    assert {route: status for route, status in refused.items() if status != 401} == {}


@pytest.mark.parametrize("role", ["volunteer", "staff", "admin"])
def test_each_role_reaches_exactly_its_routes_and_nothing_fails(gateway, people, role):
    person = people[role]
    wrong = {}
    for method, path in _admin_routes(gateway):
        status = _call(person.http, method, path, person.csrf).status_code
        expected_refusal = not _allowed(role, path)
        if status >= 500 or status == 401 or (status == 403) != expected_refusal:
            wrong[(method, path)] = status
    assert wrong == {}


def test_a_change_without_the_login_csrf_token_is_refused(gateway, people):
    staff = people["staff"]
    response = staff.http.put("/admin/api/procedures/khai-sinh", json={"revision": 1, "entry": {}})
    assert response.status_code == 403


def test_the_page_is_served_to_everyone_and_shows_the_login_itself(gateway):
    page = gateway.get("/admin")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
