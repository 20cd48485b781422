"""Volunteer desk latencies on the real services (Rasa, actions, gateway) with the volunteers'
Telegram bot pointed at the local Bot API server of the tests:

- handoff → notification: from the citizen sending "I want a person" to the volunteers' Telegram
  group receiving the notice (and, separately, to the console's live stream showing it);
- volunteer send → citizen: from the console's POST of a reply to the citizen's open web chat
  receiving it over server-sent events.

    .venv/bin/python benchmarks/handoff.py [--handoffs 40] [--replies 200]
"""
from __future__ import annotations

import argparse
import json
import re
import threading
import time

import httpx

from common import percentile, scratch_stack

from bot.console import auth  # noqa: E402
from bot.storage.db import session_scope  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402

GROUP = -1009876543210
PASSWORD = "benchmark-password"


class Stream(threading.Thread):
    """Timestamps every server-sent event of one stream."""

    def __init__(self, client: httpx.Client, url: str):
        super().__init__(daemon=True)
        self.client, self.url = client, url
        self.arrivals: list[tuple[float, str, dict]] = []
        self.changed = threading.Condition()
        self.connected = threading.Event()

    def run(self) -> None:
        try:
            self._read()
        except httpx.HTTPError:  # the stack stopped at the end of the run
            pass

    def _read(self) -> None:
        name = "message"
        with self.client.stream("GET", self.url, timeout=None) as response:
            for line in response.iter_lines():
                if line == ": connected":
                    self.connected.set()
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    with self.changed:
                        self.arrivals.append((time.perf_counter(), name, json.loads(line[6:])))
                        self.changed.notify_all()

    def arrival(self, predicate, timeout: float = 30) -> float:
        with self.changed:
            found = self.changed.wait_for(lambda: next((t for t, n, d in self.arrivals if predicate(n, d)), None), timeout)
        if found is None:
            raise TimeoutError("event did not arrive")
        return found


def notice_id(params: dict) -> int:
    return int(re.search(r"#(\d+)\n", params["text"]).group(1))


def summary(values: list[float]) -> dict:
    return {"n": len(values), "p50_ms": round(percentile(values, 50) * 1000, 1),
            "p95_ms": round(percentile(values, 95) * 1000, 1), "max_ms": round(max(values) * 1000, 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handoffs", type=int, default=40)
    parser.add_argument("--replies", type=int, default=200)
    args = parser.parse_args()
    with FakeTelegramAPI() as telegram:
        telegram.add_chat(GROUP, "supergroup", title="Tình nguyện viên")
        with scratch_stack(volunteer_telegram_token=telegram.token, volunteer_telegram_chat_id=str(GROUP),
                           volunteer_telegram_secret="bench-secret", telegram_api_url=telegram.base_url,
                           volunteer_hours="00:00-00:00") as stack:
            with session_scope() as session:
                auth.create_account(session, "lan", "Lan", PASSWORD)
            console = httpx.Client(base_url=stack.gateway_url, timeout=60)
            csrf = console.post("/console/api/login", json={"username": "lan", "password": PASSWORD}).json()["csrf"]
            headers = {auth.CSRF_HEADER: csrf}
            console.post("/console/api/status", json={"online": True}, headers=headers).raise_for_status()
            console_events = Stream(console, "/console/api/events")
            console_events.start()
            console_events.connected.wait(10)

            to_telegram, to_console, citizens, last = [], [], [], 0
            for n in range(args.handoffs):
                sender = f"bench-handoff-{n}"
                started = time.perf_counter()
                httpx.post(f"{stack.gateway_url}/api/chat", json={"sender_id": sender, "text": "tôi muốn gặp tình nguyện viên"},
                           timeout=60).raise_for_status()
                _, notice = telegram.wait_for_call("sendMessage", lambda p, after=last: notice_id(p) > after)
                to_telegram.append(time.perf_counter() - started)
                handoff_id = last = notice_id(notice)
                seen = console_events.arrival(lambda name, d, h=handoff_id: name == "handoff" and d["handoff_id"] == h)
                to_console.append(seen - started)
                citizens.append((sender, handoff_id))

            sender, handoff_id = citizens[0]
            console.post(f"/console/api/handoffs/{handoff_id}/claim", headers=headers).raise_for_status()
            inbox = Stream(httpx.Client(timeout=None), f"{stack.gateway_url}/api/chat/stream?sender_id={sender}")
            inbox.start()
            inbox.connected.wait(10)
            to_citizen = []
            for n in range(args.replies):
                text = f"Dạ, anh/chị làm tiếp bước {n} nhé."
                started = time.perf_counter()
                console.post(f"/console/api/handoffs/{handoff_id}/messages", json={"text": text},
                             headers=headers).raise_for_status()
                to_citizen.append(inbox.arrival(lambda name, d, t=text: d.get("text") == t) - started)
    print(json.dumps({
        "handoff_to_telegram_notice": summary(to_telegram),
        "handoff_to_console_stream": summary(to_console),
        "volunteer_send_to_citizen_web_chat": summary(to_citizen),
    }, indent=2))


if __name__ == "__main__":
    main()
