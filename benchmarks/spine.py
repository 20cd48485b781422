"""Spine figures: train time, cold start to /readyz, /api/chat latency against Rasa's bare REST
webhook (same questions, same run), resident memory of every process.

    .venv/bin/python benchmarks/spine.py [--requests 200] [--skip-train]

Runs its own stack on free ports with a scratch var/ folder; the project's var/ is untouched.
Rasa's REST channel is enabled for this run only (it is not in credentials.yml: it has no token).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import httpx

from common import ROOT, SCRATCH, limits_of, open_conversation, percentile

from bot.city import group_rss  # noqa: E402
from bot.knowledge.loader import load  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.storage import db  # noqa: E402
from bot.supervisor import Stack  # noqa: E402
from bot.text import normalize  # noqa: E402
from tests.ports import free_port  # noqa: E402

QUESTIONS = [
    "đăng ký khai sinh cần giấy tờ gì",
    "làm căn cước ở đâu",
    "lệ phí làm hộ chiếu bao nhiêu",
    "đăng ký kết hôn mất mấy ngày",
    "lý lịch tư pháp nộp online được không",
    "thủ tục đăng ký thường trú",
    "lam lai can cuoc bi mat o dau",
    "e mún làm gks cho con thì lm s ạ",
    "xin chào",
    "cảm ơn em",
    "sang tên sổ đỏ cần gì",
    "đổi bằng lái xe hết bao nhiêu tiền",
    "còn lệ phí thì sao",
    "đăng ký tạm trú ở đâu",
    "giấy xác nhận độc thân xin ở đâu",
    "đăng ký hộ kinh doanh cần giấy tờ gì",
    "bạn là người hay máy",
    "giá vàng hôm nay",
    "thẻ bảo hiểm y tế cho bé",
    "tra cứu hồ sơ đã nộp thế nào",
]


def process_group_rss_mb(pgids: set[int]) -> float:
    """Resident memory of every process in these process groups (children included)."""
    return sum(group_rss(pgid) for pgid in pgids) / 2**20


def timed_train(settings: Settings) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            str(ROOT / ".venv-rasa/bin/rasa"),
            "train",
            "--data",
            "build/rasa",
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--out",
            str(settings.var_dir / "models"),
            "--force",
        ],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "RASA_TELEMETRY_ENABLED": "false"},
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return time.monotonic() - started


def interleaved_latencies(calls, count: int) -> list[list[float]]:
    """Call each path in turn for every question, so that drift (a growing tracker table, the
    machine's other work) weighs on both alike."""
    times: list[list[float]] = [[] for _ in calls]
    for i in range(count):
        for call, sink in zip(calls, times):
            started = time.perf_counter()
            call(i)
            sink.append((time.perf_counter() - started) * 1000)
    return times


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--skip-train", action="store_true")
    args = parser.parse_args()

    scratch = SCRATCH
    credentials = scratch / "credentials.yml"
    credentials.write_text((ROOT / "credentials.yml").read_text() + "\nrest:\n")
    settings = Settings(
        var_dir=scratch,
        gateway_port=free_port(),
        rasa_port=free_port(consecutive=8),
        actions_port=free_port(),
        rasa_credentials=credentials,
    )
    print(json.dumps({"rate_limits": limits_of(settings)}), flush=True)
    figures: dict[str, object] = {}

    if not args.skip_train:
        figures["train_s"] = round(timed_train(settings), 1)

    db.upgrade(settings.db_url)
    load(settings.knowledge_dir, settings.offices_path)

    stack = Stack(settings)
    started = time.monotonic()
    stack.start()
    try:
        stack.wait_ready()
        figures["cold_start_to_ready_s"] = round(time.monotonic() - started, 1)
        gateway = httpx.Client(base_url=stack.gateway_url, timeout=60)
        rasa = httpx.Client(base_url=settings.rasa_url, timeout=60)

        conversations: dict[int, str] = {}  # ten messages to each server-issued conversation

        def via_gateway(i: int) -> None:
            if i // 10 not in conversations:
                conversations[i // 10] = open_conversation(gateway)
            r = gateway.post(
                "/api/chat", json={"sender_id": conversations[i // 10], "text": QUESTIONS[i % len(QUESTIONS)]}
            )
            r.raise_for_status()

        def via_rest(i: int) -> None:
            r = rasa.post(
                "/webhooks/rest/webhook",
                json={"sender": f"bench-r{i // 10}", "message": normalize(QUESTIONS[i % len(QUESTIONS)])},
            )
            r.raise_for_status()

        for warm in range(len(QUESTIONS)):  # warm both paths (model, index, connections)
            via_gateway(10_000 + warm)
            via_rest(10_000 + warm)
        gateway_ms, rest_ms = interleaved_latencies([via_gateway, via_rest], args.requests)
        for name, values in (("api_chat", gateway_ms), ("rasa_rest", rest_ms)):
            figures[f"{name}_p50_ms"] = round(statistics.median(values), 1)
            figures[f"{name}_p95_ms"] = round(percentile(values, 95), 1)
        figures["gateway_overhead_p50_ratio"] = round(figures["api_chat_p50_ms"] / figures["rasa_rest_p50_ms"], 2)
        figures["gateway_overhead_p95_ratio"] = round(figures["api_chat_p95_ms"] / figures["rasa_rest_p95_ms"], 2)
        pgids = {s.process.pid for s in stack.services}
        figures["rss_all_processes_mb"] = round(process_group_rss_mb(pgids))
        figures["rss_by_service_mb"] = {s.name: round(process_group_rss_mb({s.process.pid})) for s in stack.services}
    finally:
        stack.stop()
    figures["requests"] = args.requests
    print(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
