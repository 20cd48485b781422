"""The started processes keep their secrets (issue 12, findings 4, 12, 13, 15).

One stack of its own, whose Rasa token starts with `-` (one random token in 64 does) and whose
secrets are set, so each can be looked for where it must not be."""

import os
import stat
from pathlib import Path

import httpx
import pytest

from bot.settings import Settings
from bot.supervisor import Stack
from tests.ports import free_port

RASA_TOKEN = "-fG3kq9Zt_dash-first-token"
ACTIONS_SECRET = "actions-secret-Zq81"
METRICS_TOKEN = "metrics-token-Kw27"
FAR_CLIENT = {"X-Forwarded-For": "203.0.113.7"}  # a client behind the (loopback, trusted) proxy


@pytest.fixture(scope="module")
def own_stack(loaded_db, tmp_path_factory):
    var = tmp_path_factory.mktemp("processes") / "var"  # made by the stack itself
    settings = Settings(
        var_dir=var,
        database_url=loaded_db.db_url,
        gateway_port=free_port(),
        rasa_port=free_port(consecutive=8),
        actions_port=free_port(),
        rasa_token=RASA_TOKEN,
        actions_secret=ACTIONS_SECRET,
        metrics_token=METRICS_TOKEN,
    )
    with Stack(settings).running() as stack:
        yield stack


def group_members(pgid: int) -> list[int]:
    """Every process in a service's process group (the service and what it forked)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.getpgid(int(entry.name)) == pgid:
                    members.append(int(entry.name))
            except ProcessLookupError:
                continue
    return members


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_rasa_starts_with_a_token_beginning_with_a_dash_and_checks_it(own_stack):
    url = f"{own_stack.settings.rasa_url}/status"
    assert httpx.get(url, params={"token": RASA_TOKEN}).status_code == 200
    assert httpx.get(url, params={"token": "wrong"}).status_code in (401, 403)
    assert httpx.get(url).status_code in (401, 403)


def test_no_secret_is_on_any_started_process_command_line(own_stack):
    processes = [pid for service in own_stack.services for pid in group_members(service.process.pid)]
    assert len(processes) >= len(own_stack.services)
    for pid in processes:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        for secret in (RASA_TOKEN, ACTIONS_SECRET, METRICS_TOKEN):
            assert secret.encode() not in cmdline, f"process {pid} shows a secret: {cmdline!r}"


def test_state_is_readable_by_its_owner_only(own_stack, loaded_db):
    var = own_stack.settings.var_dir
    assert mode(var) == 0o700
    assert mode(var / "run") == 0o700 and mode(var / "log") == 0o700
    files = [
        var / "rasa_tracker.db",
        *(var / "log").glob("*.log"),
        *(var / "run").glob("*.pid"),
        Path(loaded_db.db_url.removeprefix("sqlite:///")),
    ]
    assert len(files) >= 1 + 2 * len(own_stack.services) + 1
    for path in files:
        assert mode(path) == 0o600, f"{path} is {oct(mode(path))}"


def test_every_service_runs_with_umask_077(own_stack):
    for service in own_stack.services:
        status = Path(f"/proc/{service.process.pid}/status").read_text()
        assert "Umask:\t0077" in status, f"{service.name}: {status}"


def test_the_action_server_takes_calls_from_rasa_only(own_stack):
    webhook = f"{own_stack.settings.actions_url}/webhook"
    call = {"next_action": "action_that_does_not_exist", "sender_id": "x", "tracker": {}, "domain": {}}
    right = {"Authorization": f"Bearer {ACTIONS_SECRET}"}
    assert httpx.post(webhook, json=call).status_code == 401
    assert httpx.post(webhook, json=call, headers={"Authorization": "Bearer wrong"}).status_code == 401
    as_text = httpx.post(webhook, content=str(call), headers={**right, "Content-Type": "text/plain"})
    assert as_text.status_code == 415
    # past the check: rasa-sdk itself answers that there is no such action
    assert httpx.post(webhook, json=call, headers=right).status_code == 404
    assert httpx.get(f"{own_stack.settings.actions_url}/health").status_code == 200


def test_the_stack_still_answers_through_the_guarded_action_server(own_stack):
    with httpx.Client(base_url=own_stack.gateway_url, timeout=60) as gateway:
        issued = gateway.post("/api/chat/session", json={})
        sender = issued.json()["sender_id"] if issued.status_code == 200 else "processes-citizen-1"
        answer = gateway.post("/api/chat", json={"sender_id": sender, "text": "đăng ký khai sinh cần giấy tờ gì"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["about"] == {"procedure": "khai-sinh", "aspect": "documents", "outcome": "answer"}
    assert "giấy" in " ".join(reply["text"] for reply in answer.json()["replies"]).lower()


def test_metrics_answer_loopback_clients_or_the_token_only(own_stack):
    with httpx.Client(base_url=own_stack.gateway_url) as gateway:
        assert gateway.get("/metrics").status_code == 200
        assert gateway.get("/metrics", headers=FAR_CLIENT).status_code == 403
        wrong = {**FAR_CLIENT, "Authorization": "Bearer wrong"}
        assert gateway.get("/metrics", headers=wrong).status_code == 403
        right = gateway.get("/metrics", headers={**FAR_CLIENT, "Authorization": f"Bearer {METRICS_TOKEN}"})
    assert right.status_code == 200 and right.headers["content-type"].startswith("text/plain")
