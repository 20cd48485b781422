"""Abuse figures on the real services (Rasa, actions, gateway) — issue 12's targets:

- chat p95 while 50 concurrent failed logins on distinct accounts repeat for 30 s (the login limit
  raised so every attempt costs a hash), against idle: within 2×;
- message 1,000 against message 10 of one conversation (the conversation limit raised): within 1.5×;
- the gateway's memory while a 256 MB body is refused (by Content-Length, then chunked): flat.

    .venv/bin/python benchmarks/abuse.py [--flood-seconds 30] [--accounts 50] [--messages 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import threading
import time

import httpx

from common import percentile, scratch_stack

from bot.console import auth  # noqa: E402
from bot.storage.db import session_scope  # noqa: E402
from long_conversation import conversation_costs  # noqa: E402

LIMITS = {"login_max_failures": 1_000_000, "rate_limit_conversation": 100_000}
QUESTIONS = [
    "làm căn cước cần giấy tờ gì",
    "đăng ký khai sinh mất bao lâu",
    "lệ phí đăng ký kết hôn",
    "nộp hồ sơ tạm trú ở đâu",
    "có làm giấy xác nhận cư trú online được không",
]
BIG_BODY = 256 * 1024 * 1024


def rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def gateway_pid(stack) -> int:
    return stack.service("gateway-0").process.pid


async def chat_latencies(client: httpx.AsyncClient, seconds: float) -> list[float]:
    """Questions one after another for `seconds`, in fresh conversations of 20 messages."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        sender = (await client.post("/api/chat/session", json={})).json()["sender_id"]
        for question in (QUESTIONS * 4)[:20]:
            started = time.perf_counter()
            response = await client.post("/api/chat", json={"sender_id": sender, "text": question})
            response.raise_for_status()
            latencies.append(time.perf_counter() - started)
            if time.monotonic() >= deadline:
                break
    return latencies


async def login_flood(base_url: str, usernames: list[str], seconds: float) -> int:
    """Every account fails to log in again and again, all at once; returns the attempts made."""
    attempts = 0
    deadline = time.monotonic() + seconds

    async def fail(client: httpx.AsyncClient, username: str) -> None:
        nonlocal attempts
        while time.monotonic() < deadline:
            response = await client.post("/console/api/login", json={"username": username, "password": "sai-mat-khau"})
            assert response.status_code == 401, response.text
            attempts += 1

    async with httpx.AsyncClient(
        base_url=base_url, timeout=120, limits=httpx.Limits(max_connections=len(usernames))
    ) as client:
        await asyncio.gather(*(fail(client, name) for name in usernames))
    return attempts


async def chat_under_login_flood(stack, accounts: int, seconds: float) -> dict:
    usernames = [f"flood{i}" for i in range(accounts)]
    with session_scope() as session:
        for name in usernames:
            auth.create_account(session, name, name, "mat-khau-dung-123")
    async with httpx.AsyncClient(base_url=stack.gateway_url, timeout=120) as client:
        idle = await chat_latencies(client, seconds)
        flood = asyncio.create_task(login_flood(stack.gateway_url, usernames, seconds))
        busy = await chat_latencies(client, seconds)
        attempts = await flood
    idle_p95, busy_p95 = percentile(idle, 95), percentile(busy, 95)
    return {
        "accounts": accounts,
        "seconds": seconds,
        "failed_logins": attempts,
        "idle_chat_p95_ms": round(idle_p95 * 1000, 1),
        "flood_chat_p95_ms": round(busy_p95 * 1000, 1),
        "ratio": round(busy_p95 / idle_p95, 2),
        "target": "≤ 2×",
    }


def send_big_body(host: str, port: int, chunked: bool) -> int:
    """POST a 256 MB body to /api/chat; returns the status the gateway answered with (it may
    answer before the body is sent, then close the connection)."""
    head = "POST /api/chat HTTP/1.1\r\nHost: bench\r\nContent-Type: application/json\r\n"
    head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else f"Content-Length: {BIG_BODY}\r\n\r\n"
    block = b"x" * (1 << 20)
    with socket.create_connection((host, port), timeout=60) as sock:
        sock.sendall(head.encode())
        try:
            for _ in range(BIG_BODY // len(block)):
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block) if chunked else block)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the end: what we hope for
        answer = sock.recv(4096).decode(errors="replace")
    return int(answer.split()[1]) if answer.startswith("HTTP/") else 0


def memory_while_refusing(stack) -> dict:
    pid = gateway_pid(stack)
    before = rss_mb(pid)
    result = {"gateway_rss_before_mb": round(before, 1)}
    for chunked in (False, True):
        peak, done = before, threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, rss_mb(pid))
                done.wait(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        status = send_big_body(stack.settings.gateway_host, stack.settings.gateway_port, chunked)
        done.set()
        watcher.join()
        kind = "chunked" if chunked else "content_length"
        result[f"{kind}_status"] = status
        result[f"{kind}_peak_rss_mb"] = round(peak, 1)
    result["target"] = "flat (peak within a few MB of before)"
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flood-seconds", type=float, default=30.0)
    parser.add_argument("--accounts", type=int, default=50)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    with scratch_stack(**LIMITS) as stack:
        print(
            json.dumps(
                {"login_flood": asyncio.run(chat_under_login_flood(stack, args.accounts, args.flood_seconds))},
                ensure_ascii=False,
            )
        )
        print(
            json.dumps({"long_conversation": conversation_costs(stack.gateway_url, args.messages)}, ensure_ascii=False)
        )
        print(json.dumps({"big_body": memory_while_refusing(stack)}, ensure_ascii=False))


if __name__ == "__main__":
    main()
