"""Time from a staff publish to the first web chat answer that says the new content, across two
gateway replicas sharing the database and Redis (the city deployment).

    .venv/bin/python benchmarks/publish_to_answer.py [--rounds 20]

A scratch stack (Rasa, action server, gateway A) and a second gateway B run on free ports with a
throwaway Redis. Each round a staff member publishes a new fee on A (PUT /admin/api/procedures/…),
then citizens ask about the fee alternately on A and B, back to back, until an answer names the new
fee; the time from the PUT to that answer is the round's figure. Prints p50/p95/max (seconds).
Everything started here is stopped by its process group.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import time
from contextlib import contextmanager

import httpx

from common import ROOT, open_conversation, percentile, scratch_stack  # first: sets the scratch VAR_DIR

from bot.console import auth  # noqa: E402
from bot.storage.db import session_scope  # noqa: E402
from tests import redis_server  # noqa: E402
from tests.ports import free_port  # noqa: E402

SLUG = "ket-hon"
QUESTION = "lệ phí đăng ký kết hôn bao nhiêu"
PASSWORD = "mật-khẩu-đo-thời-gian"
GIVE_UP_S = 30.0


@contextmanager
def second_gateway(stack):
    """Gateway B: the same settings as the stack's gateway, on its own port and process group."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "python"),
            "-m",
            "uvicorn",
            "bot.app:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--no-proxy-headers",
        ],
        cwd=ROOT,
        env={**stack.env, "GATEWAY_PORT": str(port)},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert process.poll() is None, "gateway B exited during start-up"
            try:
                if httpx.get(f"{url}/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "gateway B not ready"
            time.sleep(0.25)  # polling readiness, bounded by the deadline
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def staff_client(base: str) -> tuple[httpx.Client, dict[str, str]]:
    with session_scope() as session:
        auth.create_account(session, "bienTap", "Biên tập", PASSWORD, "staff")
    client = httpx.Client(base_url=base, timeout=30)
    login = client.post("/console/api/login", json={"username": "bienTap", "password": PASSWORD})
    login.raise_for_status()
    return client, {auth.CSRF_HEADER: login.json()["csrf"]}


def one_round(editor: httpx.Client, csrf: dict, citizens: list[httpx.Client], number: int) -> float:
    current = editor.get(f"/admin/api/procedures/{SLUG}").json()
    figure = f"{10_000 + number}.000 đồng"
    entry = {**current["entry"], "fee": {**current["entry"]["fee"], "text": f"Lệ phí lượt đo {number} là {figure}."}}
    senders = [open_conversation(c) for c in citizens]
    start = time.perf_counter()
    editor.put(
        f"/admin/api/procedures/{SLUG}", json={"revision": current["revision"], "entry": entry}, headers=csrf
    ).raise_for_status()
    asked = 0
    while time.perf_counter() - start < GIVE_UP_S:
        side = asked % len(citizens)  # alternate replicas: the figure is the first answer on either
        answer = citizens[side].post("/api/chat", json={"sender_id": senders[side], "text": QUESTION})
        replies = answer.json()["replies"]
        asked += 1
        if any(figure in r["text"] for r in replies):
            return time.perf_counter() - start
    raise TimeoutError(f"round {number}: no answer with the new fee after {GIVE_UP_S:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with (
        redis_server.redis_server() as redis_url,
        scratch_stack(
            redis_url=redis_url, rate_limit_conversation=1_000_000, rate_limit_new_conversations=1_000_000
        ) as stack,
        second_gateway(stack) as gateway_b,
    ):
        editor, csrf = staff_client(stack.gateway_url)
        citizens = [httpx.Client(base_url=stack.gateway_url, timeout=30), httpx.Client(base_url=gateway_b, timeout=30)]
        one_round(editor, csrf, citizens, 0)  # warm-up: the first answers load the models
        seconds = [one_round(editor, csrf, citizens, n) for n in range(1, args.rounds + 1)]
    print(
        json.dumps(
            {
                "publish_to_answer_s": {
                    "rounds": len(seconds),
                    "p50": round(percentile(seconds, 50), 3),
                    "p95": round(percentile(seconds, 95), 3),
                    "max": round(max(seconds), 3),
                },
                "replicas": 2,
                "redis": True,
                "live_index_check_every_s": 1.0,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
