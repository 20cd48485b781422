"""Per-message latency as one conversation grows: 1,000 messages in one web conversation through
`POST /api/chat`, the p50 of messages 1–20 against 981–1000 (goal: within 1.5×).

    .venv/bin/python benchmarks/long_conversation.py [--messages 1000] [--window 20]

The stack is a scratch one whose per-conversation rate limit (RATE_LIMIT_CONVERSATION) is raised
above the messages sent, so no message is refused; the limits are printed.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import httpx

from common import open_conversation, scratch_stack

# What a citizen asks in turn: questions, follow-ups, guide steps, small talk.
CYCLE = [
    "xin chào",
    "đăng ký khai sinh cần giấy tờ gì",
    "còn lệ phí thì sao",
    "nộp ở đâu",
    "làm căn cước mất bao lâu",
    "lam lai can cuoc o dau",
    "hướng dẫn tôi nộp online",
    "xong",
    "cảm ơn em",
]


def conversation_costs(base_url: str, messages: int, window: int = 20) -> dict:
    """Send `messages` messages in one conversation; the p50 of the first and last `window`."""
    latencies: list[float] = []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        sender = open_conversation(client)
        for n in range(messages):
            started = time.perf_counter()
            response = client.post("/api/chat", json={"sender_id": sender, "text": CYCLE[n % len(CYCLE)]})
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
    first, last = statistics.median(latencies[:window]), statistics.median(latencies[-window:])
    return {
        "messages": messages,
        f"p50_first_{window}_ms": round(first, 1),
        f"p50_last_{window}_ms": round(last, 1),
        "ratio": round(last / first, 2),
        "target": "≤ 1.5×",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--window", type=int, default=20)
    args = parser.parse_args()
    limits = {"rate_limit_conversation": args.messages * 10}
    with scratch_stack(**limits) as stack:
        print(json.dumps(conversation_costs(stack.gateway_url, args.messages, args.window), ensure_ascii=False))


if __name__ == "__main__":
    main()
