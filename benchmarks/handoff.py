"""Volunteer desk latencies on the real services (Rasa, actions, gateway) with the volunteers'
Telegram bots and the Zalo OA pointed at the local servers of the tests:

- handoff → notification: from the citizen sending "I want a person" to the volunteers' Telegram
  group receiving the notice (and, separately, to the console's live stream showing it);
- volunteer send → citizen: from the console's POST of a reply to the citizen's channel having
  it: the open web chat (server-sent events), Telegram (the local Bot API server receives
  sendMessage) and Zalo (the local OA API server receives message/cs).

    .venv/bin/python benchmarks/handoff.py [--handoffs 40] [--replies 200]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import time

import httpx

from common import bearer, open_conversation, percentile, scratch_stack

from bot.console import auth  # noqa: E402
from bot.storage.db import session_scope  # noqa: E402
from bot.storage.zalo_tokens import store_tokens  # noqa: E402
from tests.fakes.telegram_api import FakeTelegramAPI  # noqa: E402
from tests.fakes.zalo_api import FakeZaloAPI  # noqa: E402
from tests.integration.replica import EventStream  # noqa: E402

GROUP = -1009876543210
PASSWORD = "benchmark-password"
CITIZEN_BOT = "987654:CitizenBotToken-abc123"
TELEGRAM_CITIZEN = 5550001
ZALO_CITIZEN = "2468458835296190001"
ZALO_SECRET = "bench-oa-secret"
ASK = "tôi muốn gặp tình nguyện viên"


def notice_id(params: dict) -> int:
    return int(re.search(r"#(\d+)\n", params["text"]).group(1))


def summary(values: list[float]) -> dict:
    return {
        "n": len(values),
        "p50_ms": round(percentile(values, 50) * 1000, 1),
        "p95_ms": round(percentile(values, 95) * 1000, 1),
        "max_ms": round(max(values) * 1000, 1),
    }


class Desk:
    """A volunteer logged into the console of a running stack, with its live stream open."""

    def __init__(self, stack):
        username = f"lan{stack.gateway_url.rsplit(':', 1)[1]}"  # one account per stack of the run
        with session_scope() as session:
            auth.create_account(session, username, "Lan", PASSWORD)
        self.console = httpx.Client(base_url=stack.gateway_url, timeout=60)
        csrf = self.console.post("/console/api/login", json={"username": username, "password": PASSWORD}).json()["csrf"]
        self.headers = {auth.CSRF_HEADER: csrf}
        self.console.post("/console/api/status", json={"online": True}, headers=self.headers).raise_for_status()
        self.events = EventStream("/console/api/events", self.console).start_and_wait()

    def queued_after(self, send) -> tuple[int, float]:
        """Runs `send` (a citizen asking for a person); (handoff id, seconds until the console heard it)."""
        known = {e.data["handoff_id"] for e in self.events.events if e.name == "handoff"}
        started = time.perf_counter()
        send()
        queued = self.events.arrival(
            lambda e: e.name == "handoff" and e.data["kind"] == "queued" and e.data["handoff_id"] not in known, 30
        )
        return queued.data["handoff_id"], queued.at - started

    def send_latencies(self, handoff_id: int, arrived, replies: int) -> list[float]:
        """Seconds from the volunteer's POST to `arrived(text)` returning (the citizen's channel has it)."""
        self.console.post(f"/console/api/handoffs/{handoff_id}/claim", headers=self.headers).raise_for_status()
        latencies = []
        for n in range(replies):
            text = f"Dạ, anh/chị làm tiếp bước {n} nhé."
            started = time.perf_counter()
            self.console.post(
                f"/console/api/handoffs/{handoff_id}/messages", json={"text": text}, headers=self.headers
            ).raise_for_status()
            arrived(text)
            latencies.append(time.perf_counter() - started)
        return latencies


def notices_and_web_chat(handoffs: int, replies: int) -> dict:
    with FakeTelegramAPI() as volunteers_bot:
        volunteers_bot.add_chat(GROUP, "supergroup", title="Tình nguyện viên")
        with scratch_stack(
            volunteer_telegram_token=volunteers_bot.token,
            volunteer_telegram_chat_id=str(GROUP),
            volunteer_telegram_secret="bench-secret",
            telegram_api_url=volunteers_bot.base_url,
            volunteer_hours="00:00-00:00",
        ) as stack:
            desk = Desk(stack)
            to_notice, to_console, citizens = [], [], []
            web = httpx.Client(base_url=stack.gateway_url, timeout=60)
            for _ in range(handoffs):
                sender = open_conversation(web)
                started = time.perf_counter()
                handoff_id, heard = desk.queued_after(
                    lambda s=sender: web.post("/api/chat", json={"sender_id": s, "text": ASK}).raise_for_status()
                )
                volunteers_bot.wait_for_call("sendMessage", lambda p, h=handoff_id: notice_id(p) == h)
                to_notice.append(time.perf_counter() - started)
                to_console.append(heard)
                citizens.append((sender, handoff_id))
            sender, handoff_id = citizens[0]
            inbox = EventStream(f"{stack.gateway_url}/api/chat/stream", headers=bearer(sender)).start_and_wait()
            to_web = desk.send_latencies(handoff_id, lambda t: inbox.wait_for(lambda d: d.get("text") == t), replies)
    return {
        "handoff_to_telegram_notice": summary(to_notice),
        "handoff_to_console_stream": summary(to_console),
        "volunteer_send_to_citizen_web_chat": summary(to_web),
    }


def telegram_and_zalo_citizens(replies: int) -> dict:
    with FakeTelegramAPI(token=CITIZEN_BOT) as citizens_bot, FakeZaloAPI() as zalo:
        citizens_bot.add_user(TELEGRAM_CITIZEN, "Hoa")
        citizens_bot.add_chat(TELEGRAM_CITIZEN)
        zalo.add_user(ZALO_CITIZEN)
        with scratch_stack(
            telegram_token=citizens_bot.token,
            telegram_api_url=citizens_bot.base_url,
            telegram_webhook_url="https://bench.example/webhooks/telegram",
            telegram_secret="bench-secret",
            zalo_app_id=zalo.app_id,
            zalo_app_secret=zalo.app_secret,
            zalo_oa_secret=ZALO_SECRET,
            zalo_api_url=zalo.base_url,
            zalo_oauth_url=zalo.base_url,
            volunteer_hours="00:00-00:00",
        ) as stack:
            store_tokens(*zalo.issue_tokens(), expires_in_s=90000)
            desk = Desk(stack)
            telegram_handoff, _ = desk.queued_after(
                lambda: httpx.post(
                    f"{stack.gateway_url}/webhooks/telegram",
                    headers={"X-Telegram-Bot-Api-Secret-Token": "bench-secret"},
                    json=citizens_bot.make_message_update(TELEGRAM_CITIZEN, TELEGRAM_CITIZEN, ASK),
                ).raise_for_status()
            )
            to_telegram = desk.send_latencies(
                telegram_handoff,
                lambda t: citizens_bot.wait_for_call(
                    "sendMessage", lambda p: p["chat_id"] == TELEGRAM_CITIZEN and p["text"] == t
                ),
                replies,
            )

            event = {
                "app_id": zalo.app_id,
                "event_name": "user_send_text",
                "timestamp": str(int(time.time() * 1000)),
                "sender": {"id": ZALO_CITIZEN},
                "recipient": {"id": "388613280878808645"},
                "message": {"msg_id": "bench0000000000000001", "text": ASK},
            }
            body = json.dumps(event).encode()
            mac = hashlib.sha256(
                zalo.app_id.encode() + body + event["timestamp"].encode() + ZALO_SECRET.encode()
            ).hexdigest()
            zalo_handoff, _ = desk.queued_after(
                lambda: httpx.post(
                    f"{stack.gateway_url}/webhooks/zalo",
                    content=body,
                    headers={"X-ZEvent-Signature": f"mac={mac}", "Content-Type": "application/json"},
                ).raise_for_status()
            )
            to_zalo = desk.send_latencies(
                zalo_handoff, lambda t: zalo.wait_for_message(ZALO_CITIZEN, lambda m: m.get("text") == t), replies
            )
    return {
        "volunteer_send_to_citizen_telegram": summary(to_telegram),
        "volunteer_send_to_citizen_zalo": summary(to_zalo),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--handoffs", type=int, default=40)
    parser.add_argument("--replies", type=int, default=200)
    args = parser.parse_args()
    figures = notices_and_web_chat(args.handoffs, args.replies) | telegram_and_zalo_citizens(args.replies)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
