"""Chat speed: one conversation's latency through POST /api/chat (knowledge search included), and
50 closed-loop conversations for 30 s, against an unmodified `rasa init --no-prompt` bot measured
the same way in the same run (its REST webhook).

    .venv/bin/python benchmarks/chat_load.py [--seconds 30] [--conversations 50] [--rasa-replicas 2] [--skip-baseline]

Our stack runs one Rasa replica per core by default (two here), as a multi-core server should
(README, "Scaling"): one Rasa process is single-threaded Python and keeps one core busy at most.

Traffic goes to loopback only; every loop is bounded in time and count. The load generator shares
the machine's two cores with the bots, so it uses the HTTP client that costs the least CPU per
request (aiohttp; httpx took ~2 ms a request, a tenth of the machine at this load); its CPU time is
reported beside each run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from common import ROOT, percentile, scratch_stack

from tests.ports import free_port  # noqa: E402

OURS = [
    "xin chào",
    "đăng ký khai sinh cần giấy tờ gì",
    "còn lệ phí thì sao",
    "nộp ở đâu",
    "làm căn cước mất bao lâu",
    "lam lai can cuoc o dau",
    "e mún làm gks cho con thì lm s ạ",
    "hướng dẫn tôi nộp online",
    "xong",
    "cảm ơn em",
]
BASELINE = ["hello", "I am sad", "yes", "great", "are you a bot?", "bye"]
MAX_REQUESTS = 200_000  # a hard bound besides the time limit


def cpu_seconds(pgid: int) -> float:
    """CPU time used so far by every process of a process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[2]) == pgid:
                total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


async def closed_loop(send, conversations: int, seconds: float, script_length: int) -> dict:
    """Each client holds one conversation of `script_length` messages at a time, then starts the
    next one as a new citizen, until the time is up."""
    latencies: list[float] = []
    deadline = time.monotonic() + seconds

    async def conversation(number: int) -> None:
        turn = 0
        while time.monotonic() < deadline and len(latencies) < MAX_REQUESTS:
            started = time.perf_counter()
            await send(f"{number}-{turn // script_length}", turn % script_length)
            latencies.append((time.perf_counter() - started) * 1000)
            turn += 1

    started, client_cpu = time.monotonic(), time.process_time()
    await asyncio.gather(*(conversation(n) for n in range(conversations)))
    elapsed = time.monotonic() - started
    return {
        "messages": len(latencies),
        "messages_per_s": round(len(latencies) / elapsed, 1),
        "p50_ms": round(percentile(latencies, 50), 1),
        "p95_ms": round(percentile(latencies, 95), 1),
        "load_generator_cpu_s": round(time.process_time() - client_cpu, 1),
    }


def client(base_url: str, conversations: int, timeout_s: float) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        base_url,
        timeout=aiohttp.ClientTimeout(total=timeout_s),
        connector=aiohttp.TCPConnector(limit=conversations + 5),
        raise_for_status=True,
    )


async def post(session: aiohttp.ClientSession, path: str, body: dict) -> None:
    async with session.post(path, json=body) as response:
        await response.read()


async def open_conversation(session: aiohttp.ClientSession) -> str:
    """A server-issued web conversation id (POST /api/chat/session)."""
    async with session.post("/api/chat/session", json={}) as response:
        return (await response.json())["sender_id"]


async def measure_ours(args) -> dict:
    with scratch_stack(
        rasa_replicas=args.rasa_replicas, rate_limit_conversation=1_000_000
    ) as stack:  # closed-loop: no pauses
        async with client(stack.gateway_url, args.conversations, 60) as session:
            conversations: dict[str, str] = {}

            async def send(who: str, turn: int, prefix: str = "load") -> None:
                if turn == 0:  # a new citizen opens a conversation, as the page does on load
                    conversations[f"{prefix}-{who}"] = await open_conversation(session)
                await post(session, "/api/chat", {"sender_id": conversations[f"{prefix}-{who}"], "text": OURS[turn]})

            for turn in range(len(OURS)):  # warm up
                await send("0", turn, "warm")
            single = await closed_loop(lambda w, t: send(w, t, "single"), 1, min(args.seconds, 20), len(OURS))
            before = {s.name: cpu_seconds(s.process.pid) for s in stack.services}
            load = await closed_loop(send, args.conversations, args.seconds, len(OURS))
            load["cpu_s_by_service"] = {
                s.name: round(cpu_seconds(s.process.pid) - before[s.name], 1) for s in stack.services
            }
    return {"one_conversation": single, "closed_loop": load}


async def measure_baseline(args) -> dict:
    """An unmodified `rasa init --no-prompt` bot, trained and served here."""
    rasa = ROOT / ".venv-rasa" / "bin" / "rasa"
    project = Path(tempfile.mkdtemp(prefix="rasa-init-"))
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false"}
    subprocess.run(
        [str(rasa), "init", "--no-prompt", "--init-dir", str(project)],
        cwd=project,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    port = free_port()
    server = subprocess.Popen(
        [str(rasa), "run", "-i", "127.0.0.1", "-p", str(port), "--enable-api"],
        cwd=project,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        async with client(f"http://127.0.0.1:{port}", args.conversations, 120) as session:
            deadline = time.monotonic() + 180
            while True:
                try:
                    async with session.get("/status"):
                        break
                except aiohttp.ClientError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("the rasa init bot did not start")
                await asyncio.sleep(0.5)

            async def send(who: str, turn: int) -> None:
                await post(session, "/webhooks/rest/webhook", {"sender": f"base-{who}", "message": BASELINE[turn]})

            for turn in range(len(BASELINE)):
                await send("warm", turn)
            return {"closed_loop": await closed_loop(send, args.conversations, args.seconds, len(BASELINE))}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--conversations", type=int, default=50)
    parser.add_argument("--rasa-replicas", type=int, default=min(os.cpu_count() or 1, 8))
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    report = {"ours": {"rasa_replicas": args.rasa_replicas, **asyncio.run(measure_ours(args))}}
    if not args.skip_baseline:
        report["rasa_init_baseline"] = asyncio.run(measure_baseline(args))
        report["throughput_ratio"] = round(
            report["ours"]["closed_loop"]["messages_per_s"]
            / report["rasa_init_baseline"]["closed_loop"]["messages_per_s"],
            2,
        )
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
