"""Accounts on the real stack: an admin adds, disables, resets, promotes and links accounts; a reset
account can do nothing but change its password; nobody can lock the admins out; every change (and
every knowledge publish) is in the audit log; and only admins manage accounts."""

from __future__ import annotations

import itertools

import httpx
import pytest
from sqlalchemy import select, update

from bot.admin import accounts as service
from bot.console import auth
from bot.knowledge import publish
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, KnowledgeEntry, Volunteer
from tests.integration.people import PASSWORD, Console

NEW_PASSWORD = "mật-khẩu-mới-của-tôi"
_names = itertools.count()


@pytest.fixture(scope="module")
def admin(stack) -> Console:
    return Console(stack.gateway_url, "Khanh", role="admin", online=False)


def unique(prefix: str) -> str:
    return f"{prefix}-tk{next(_names)}"


def log_in(base: str, username: str, password: str) -> tuple[httpx.Client, httpx.Response]:
    client = httpx.Client(base_url=base, timeout=30)
    return client, client.post("/console/api/login", json={"username": username, "password": password})


def post(client: httpx.Client, csrf: str, path: str, body: dict | None = None) -> httpx.Response:
    return client.post(path, json=body or {}, headers={auth.CSRF_HEADER: csrf})


def create(admin: Console, role: str = "volunteer", **extra) -> dict:
    body = {"username": unique("moi"), "display_name": "Mai", "role": role, **extra}
    response = admin.post("/admin/api/accounts", body)
    assert response.status_code == 201, response.text
    return response.json()


def audit_actions(target: str) -> list[str]:
    """The audit log's actions for one account or entry, oldest first."""
    with session_scope() as session:
        query = select(AuditEntry.action).where(AuditEntry.target == target).order_by(AuditEntry.id)
        return list(session.scalars(query))


def must_change_first(response: httpx.Response) -> bool:
    return response.status_code == 403 and "đổi mật khẩu" in response.json()["error"]


def test_an_admin_adds_an_account_that_must_replace_its_temporary_password(stack, admin):
    created = create(admin, telegram_user_id=None)
    account, temporary = created["account"], created["temporary_password"]
    assert account["must_change_password"] is True and account["active"] is True
    assert account["role"] == "volunteer"
    assert len(temporary) >= 10
    listed = {a["username"]: a for a in admin.http.get("/admin/api/accounts").json()["accounts"]}
    assert listed[account["username"]]["id"] == account["id"]
    assert set(listed[account["username"]]) == {
        "id",
        "username",
        "display_name",
        "role",
        "active",
        "online",
        "telegram_user_id",
        "must_change_password",
        "created_at",
        "last_seen_at",
    }
    assert temporary not in str(admin.http.get("/admin/api/audit").json())  # never logged

    client, login = log_in(stack.gateway_url, account["username"], temporary)
    assert login.status_code == 200 and login.json()["must_change_password"] is True
    csrf = login.json()["csrf"]
    assert must_change_first(client.get("/console/api/queue"))
    assert (
        post(
            client, csrf, "/admin/api/me/password", {"current_password": temporary, "new_password": NEW_PASSWORD}
        ).status_code
        == 200
    )
    assert client.get("/console/api/queue").status_code == 200
    assert client.get("/console/api/me").json()["must_change_password"] is False
    assert audit_actions(account["username"]) == ["account.create", "account.password_changed"]


def test_a_refused_route_tells_the_page_to_open_the_password_form(stack, admin):
    created = create(admin)
    client, login = log_in(stack.gateway_url, created["account"]["username"], created["temporary_password"])
    refused = client.get("/console/api/queue")
    assert must_change_first(refused)
    assert refused.json()["must_change_password"] is True


def test_creating_refuses_bad_input_and_taken_names(admin):
    taken = create(admin, telegram_user_id="7700100")["account"]
    for body, status in [
        ({"username": taken["username"], "display_name": "Mai", "role": "volunteer"}, 409),
        ({"username": unique("tg"), "display_name": "Mai", "role": "volunteer", "telegram_user_id": "7700100"}, 409),
        ({"username": "a b", "display_name": "Mai", "role": "volunteer"}, 422),
        ({"username": unique("vai"), "display_name": "Mai", "role": "boss"}, 422),
        ({"username": unique("ten"), "display_name": "   ", "role": "staff"}, 422),
        ({"username": unique("tg"), "display_name": "Mai", "role": "staff", "telegram_user_id": "abc"}, 422),
    ]:
        response = admin.post("/admin/api/accounts", body)
        assert response.status_code == status, (body, response.text)
        assert response.json()["error"]


def test_disabling_ends_the_account_sessions_and_enabling_lets_it_back_in(stack, admin):
    lan = Console(stack.gateway_url, "Lan")
    assert admin.post(f"/admin/api/accounts/{lan.id}/disable").json()["account"]["active"] is False
    assert lan.http.get("/console/api/me").status_code == 401
    assert log_in(stack.gateway_url, lan.username, PASSWORD)[1].status_code == 401
    assert admin.post(f"/admin/api/accounts/{lan.id}/enable").json()["account"]["active"] is True
    assert log_in(stack.gateway_url, lan.username, PASSWORD)[1].status_code == 200
    assert audit_actions(lan.username) == ["account.disable", "account.enable"]
    assert admin.post(f"/admin/api/accounts/{2**31 - 1}/disable").status_code == 404


def test_after_a_reset_only_the_temporary_password_works_and_must_be_changed(stack, admin):
    minh = Console(stack.gateway_url, "Minh")
    reset = admin.post(f"/admin/api/accounts/{minh.id}/reset-password")
    assert reset.status_code == 200, reset.text
    temporary = reset.json()["temporary_password"]
    assert reset.json()["account"]["must_change_password"] is True
    assert minh.http.get("/console/api/me").status_code == 401  # the reset ended the old session
    assert log_in(stack.gateway_url, minh.username, PASSWORD)[1].status_code == 401

    client, login = log_in(stack.gateway_url, minh.username, temporary)
    assert login.status_code == 200
    csrf = login.json()["csrf"]
    assert client.get("/console/api/me").json()["must_change_password"] is True
    for refused in (
        client.get("/console/api/queue"),
        client.get("/console/api/events"),
        post(client, csrf, "/console/api/status", {"online": True}),
        client.get("/admin/api/procedures"),
        client.get("/admin/api/accounts"),
    ):
        assert must_change_first(refused), (refused.request.url, refused.status_code, refused.text)
    assert client.get("/admin").status_code == 200  # the page itself, to show the form

    changed = post(
        client, csrf, "/admin/api/me/password", {"current_password": temporary, "new_password": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.text
    assert post(client, csrf, "/console/api/status", {"online": False}).status_code == 200
    assert log_in(stack.gateway_url, minh.username, NEW_PASSWORD)[1].status_code == 200
    assert audit_actions(minh.username) == ["account.reset_password", "account.password_changed"]


def test_a_pending_account_can_still_log_out(stack, admin):
    created = create(admin)
    client, login = log_in(stack.gateway_url, created["account"]["username"], created["temporary_password"])
    assert post(client, login.json()["csrf"], "/console/api/logout").status_code == 200
    assert client.get("/console/api/me").status_code == 401


def test_a_new_role_applies_at_once(stack, admin):
    tuan = Console(stack.gateway_url, "Tuan", online=False)
    assert tuan.http.get("/admin/api/procedures").status_code == 403
    assert admin.post(f"/admin/api/accounts/{tuan.id}/role", {"role": "staff"}).json()["account"]["role"] == "staff"
    assert tuan.http.get("/admin/api/procedures").status_code == 200
    assert tuan.http.get("/admin/api/accounts").status_code == 403
    assert tuan.http.get("/admin").status_code == 200
    assert admin.post(f"/admin/api/accounts/{tuan.id}/role", {"role": "admin"}).status_code == 200
    assert tuan.http.get("/admin/api/accounts").status_code == 200
    assert admin.post(f"/admin/api/accounts/{tuan.id}/role", {"role": "root"}).status_code == 422
    with session_scope() as session:
        query = select(AuditEntry).where(AuditEntry.target == tuan.username).order_by(AuditEntry.id)
        assert [(e.action, e.detail) for e in session.scalars(query)] == [
            ("account.role", {"role": "staff", "previous": "volunteer"}),
            ("account.role", {"role": "admin", "previous": "staff"}),
        ]


def test_a_telegram_id_links_to_one_account_only(stack, admin):
    first, second = Console(stack.gateway_url, "Hai", online=False), Console(stack.gateway_url, "Ba", online=False)
    telegram = "880012345"
    linked = admin.post(f"/admin/api/accounts/{first.id}/telegram", {"telegram_user_id": telegram})
    assert linked.status_code == 200 and linked.json()["account"]["telegram_user_id"] == telegram
    taken = admin.post(f"/admin/api/accounts/{second.id}/telegram", {"telegram_user_id": telegram})
    assert taken.status_code == 409 and "Telegram" in taken.json()["error"]
    assert admin.post(f"/admin/api/accounts/{first.id}/telegram", {"telegram_user_id": None}).status_code == 200
    assert admin.post(f"/admin/api/accounts/{second.id}/telegram", {"telegram_user_id": telegram}).status_code == 200
    assert admin.post(f"/admin/api/accounts/{second.id}/telegram", {"telegram_user_id": "12ab"}).status_code == 422
    assert audit_actions(first.username) == ["account.telegram", "account.telegram"]
    assert audit_actions(second.username) == ["account.telegram"]


def test_an_admin_cannot_lock_themselves_out(admin):
    disabled = admin.post(f"/admin/api/accounts/{admin.id}/disable")
    assert disabled.status_code == 409 and "tự khóa" in disabled.json()["error"]
    demoted = admin.post(f"/admin/api/accounts/{admin.id}/role", {"role": "staff"})
    assert demoted.status_code == 409
    assert admin.http.get("/admin/api/accounts").status_code == 200


def test_the_last_active_admin_stays(admin):
    """Seen from the service in a transaction that is rolled back: the shared database has other
    admins that other tests use, so they are only set aside inside it."""
    with session_scope() as session:
        other = session.get(Volunteer, admin.id)
        session.execute(
            update(Volunteer).where(Volunteer.role == "admin", Volunteer.id != admin.id).values(active=False)
        )
        for change in (
            lambda: service.disable(session, None, other),
            lambda: service.change_role(session, None, other, "volunteer"),
        ):
            with pytest.raises(service.AccountError) as refused:
                change()
            assert refused.value.status == 409 and "cuối cùng" in refused.value.message
        session.rollback()
    with session_scope() as session:
        assert session.scalar(select(Volunteer.active).where(Volunteer.id == admin.id)) is True


def test_the_audit_log_shows_knowledge_and_account_changes_newest_first(stack, admin):
    slug = "khai-sinh"
    with session_scope() as session:
        before = session.get(KnowledgeEntry, slug)
        original, data = before.revision, before.data
        # the same content again: a real revision and audit line that changes no answer
        published = publish.publish(session, slug, data, actor_id=admin.id, author="Khanh", expected_revision=original)
    with session_scope() as session:
        publish.restore(session, slug, original, actor_id=None, author=None)
    created = create(admin)["account"]

    entries = admin.http.get("/admin/api/audit", params={"limit": 3}).json()["entries"]
    assert [(e["action"], e["target"]) for e in entries] == [
        ("account.create", created["username"]),
        ("knowledge.restore", slug),
        ("knowledge.publish", slug),
    ]
    assert [e["actor"] for e in entries] == ["Khanh", service.COMMAND_LINE, "Khanh"]
    assert entries[2]["detail"] == {"revision": published}
    assert set(entries[0]) == {"id", "at", "actor", "action", "target", "detail"}
    older = admin.http.get("/admin/api/audit", params={"limit": 2, "before": entries[1]["id"]}).json()["entries"]
    assert older[0] == entries[2] and older[1]["id"] < entries[2]["id"]
    assert admin.http.get("/admin/api/audit", params={"limit": 500}).status_code == 422


@pytest.mark.parametrize("role", ["volunteer", "staff"])
def test_only_admins_manage_accounts(stack, admin, role):
    person = Console(stack.gateway_url, "Quyen", role=role, online=False)
    assert person.http.get("/admin/api/accounts").status_code == 403
    assert person.http.get("/admin/api/audit").status_code == 403
    new_admin = {"username": unique("x"), "display_name": "X", "role": "admin"}
    assert person.post("/admin/api/accounts", new_admin).status_code == 403
    assert person.post(f"/admin/api/accounts/{person.id}/role", {"role": "admin"}).status_code == 403
    assert person.post(f"/admin/api/accounts/{admin.id}/disable").status_code == 403
    with session_scope() as session:
        assert session.get(Volunteer, person.id).role == role and session.get(Volunteer, admin.id).active


def test_anonymous_callers_are_refused(gateway):
    assert gateway.get("/admin/api/accounts").status_code == 401
    assert gateway.get("/admin/api/audit").status_code == 401
    change = {"current_password": "a", "new_password": "b" * 12}
    assert gateway.post("/admin/api/me/password", json=change).status_code == 401


def test_a_volunteer_changes_their_own_password(stack):
    hoa = Console(stack.gateway_url, "Hoa", online=False)
    elsewhere, _ = log_in(stack.gateway_url, hoa.username, PASSWORD)  # the same person on another device
    for body, message in [
        ({"current_password": "sai-mat-khau-roi", "new_password": NEW_PASSWORD}, "không đúng"),
        ({"current_password": PASSWORD, "new_password": "ngan"}, "10 ký tự"),
        ({"current_password": PASSWORD, "new_password": PASSWORD}, "khác"),
    ]:
        refused = hoa.post("/admin/api/me/password", body)
        assert refused.status_code == 422 and message in refused.json()["error"], refused.text
    changed = hoa.post("/admin/api/me/password", {"current_password": PASSWORD, "new_password": NEW_PASSWORD})
    assert changed.status_code == 200, changed.text
    assert hoa.http.get("/console/api/me").status_code == 200  # this browser stays logged in
    assert elsewhere.get("/console/api/me").status_code == 401  # the others do not
    assert log_in(stack.gateway_url, hoa.username, PASSWORD)[1].status_code == 401
    assert log_in(stack.gateway_url, hoa.username, NEW_PASSWORD)[1].status_code == 200
    assert audit_actions(hoa.username) == ["account.password_changed"]
