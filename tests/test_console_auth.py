"""Console logins under attack (issue 12): failed logins lock one account from one address only
(finding 6), and Argon2 hashes run off the event loop, a bounded number at a time (finding 7).
And the account commands leave their audit lines (issue 13)."""

from __future__ import annotations

import asyncio
import io
import statistics
import sys
import time

import httpx
import pytest
from sqlalchemy import select

from bot.__main__ import main
from bot.admin import accounts as account_service
from bot.console import auth
from bot.storage.db import session_scope
from bot.storage.models import Volunteer
from tests.abuse_gateway import FAR_CLIENT, abuse_gateway

PASSWORD = "mat-khau-dung-123"


@pytest.fixture(scope="module")
def accounts(loaded_db) -> list[str]:
    names = ["khoa-lan", "khoa-minh"]
    with session_scope() as session:
        for name in names:
            auth.create_account(session, name, name.title(), PASSWORD)
    return names


def login(client: httpx.Client, username: str, password: str, address: str) -> httpx.Response:
    return client.post(
        "/console/api/login", json={"username": username, "password": password}, headers={"X-Forwarded-For": address}
    )


def test_failed_logins_lock_one_account_from_one_address_only(accounts):
    lan, minh = accounts
    with abuse_gateway(login_max_failures=3) as gateway, httpx.Client(base_url=gateway.url) as client:
        assert [login(client, lan, "sai-mat-khau", FAR_CLIENT).status_code for _ in range(3)] == [401] * 3
        locked = login(client, lan, PASSWORD, FAR_CLIENT)  # refused before the password is even checked
        assert locked.status_code == 429, locked.text
        assert 14 * 60 <= int(locked.headers["Retry-After"]) <= 15 * 60
        assert "thử lại" in locked.json()["error"]
        assert login(client, lan, PASSWORD, "198.51.100.40").status_code == 200  # Lan herself, elsewhere
        assert login(client, minh, PASSWORD, FAR_CLIENT).status_code == 200  # a colleague at the same place


def one_hash_seconds() -> float:
    """How long one Argon2 verification takes on this machine, now."""

    def once() -> float:
        started = time.perf_counter()
        auth._verify(auth._DUMMY_HASH, "sai-mat-khau")
        return time.perf_counter() - started

    return statistics.median(once() for _ in range(5))


async def healthz_while_logins_hash(url: str, logins: int) -> tuple[list[int], list[float]]:
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=httpx.Limits(max_connections=logins + 2)) as client:
        await client.get("/healthz")
        flood = asyncio.ensure_future(
            asyncio.gather(
                *(
                    client.post("/console/api/login", json={"username": f"khong-co-{n}", "password": "sai-mat-khau"})
                    for n in range(logins)
                )
            )
        )
        latencies = []
        while not flood.done():
            started = time.perf_counter()
            assert (await client.get("/healthz")).status_code == 200
            latencies.append(time.perf_counter() - started)
        return [r.status_code for r in await flood], latencies


def test_hashing_does_not_block_other_requests(loaded_db):
    hash_s = one_hash_seconds()
    with abuse_gateway(login_max_failures=1000) as gateway:
        statuses, latencies = asyncio.run(healthz_while_logins_hash(gateway.url, 20))
    assert statuses == [401] * 20
    assert len(latencies) >= 3, "the logins ended before /healthz could be asked"
    # on the loop, /healthz would wait behind queued hashes (20 of them: ~20 × hash_s)
    assert max(latencies) < 3 * hash_s, f"/healthz took {max(latencies) * 1000:.0f} ms; one hash {hash_s * 1000:.0f} ms"


def test_account_commands_write_audit_lines_without_an_actor(loaded_db, monkeypatch, capsys):
    """`python -m bot volunteer …` changes accounts through the admin page's service: each change is
    in the audit log, attributed to the command line, and no line holds the password."""
    username, new_password = "dong-lenh-lan", "mat-khau-moi-dong-lenh"

    def run(*argv: str, stdin: str = "") -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))  # scripts pipe the password in
        return main(["volunteer", *argv])

    assert run("add", username, "--name", "Lan", "--telegram-id", "5500123", stdin=f"{PASSWORD}\n") == 0
    assert run("add", username, "--name", "Lan", stdin=f"{PASSWORD}\n") == 1
    assert "đã có người dùng" in capsys.readouterr().err
    assert run("passwd", username, stdin=f"{new_password}\n") == 0
    assert run("disable", username) == 0
    assert run("disable", "khong-co-tai-khoan-nay") == 1

    with session_scope() as session:
        lines = [e for e in account_service.audit_entries(session, 200) if e["target"] == username]
        assert not session.scalar(select(Volunteer.active).where(Volunteer.username == username))
    assert [(e["action"], e["actor"]) for e in reversed(lines)] == [
        ("account.create", account_service.COMMAND_LINE),
        ("account.reset_password", account_service.COMMAND_LINE),
        ("account.disable", account_service.COMMAND_LINE),
    ]
    assert PASSWORD not in str(lines) and new_password not in str(lines)
