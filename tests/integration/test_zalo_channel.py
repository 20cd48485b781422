"""Citizens on Zalo, end to end with the real Rasa and app, against a local server that implements
the OA Open API v3 contract: signed webhooks, buttons as oa.query.hide templates, media, volunteer
handoff, the 7-day window, idempotency and forged events."""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from bot.channels.zalo import redact
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import ChannelEvent, Citizen, Conversation, Message, Turn, Volunteer
from bot.storage.zalo_tokens import store_tokens
from tests.fakes.zalo_api import FakeZaloAPI
from tests.integration.people import Console, volunteer_takes_over
from tests.integration.replica import Replica

OA_SECRET = "oa-secret-key-for-tests"
OA_ID = "388613280878808645"
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 32  # the bytes of "a photo of a receipt"
_users = itertools.count(2468458835296197000)
_messages = itertools.count(1)


@pytest.fixture(scope="module")
def zalo():
    with FakeZaloAPI() as api:
        store_tokens(*api.issue_tokens(), expires_in_s=90000)
        yield api


@pytest.fixture(scope="module")
def replica(stack, zalo):
    settings = get_settings().model_copy(
        update={
            "zalo_app_id": zalo.app_id,
            "zalo_app_secret": zalo.app_secret,
            "zalo_oa_secret": OA_SECRET,
            "zalo_api_url": zalo.base_url,
            "zalo_oauth_url": zalo.base_url,
            "zalo_media_hosts": "127.0.0.1",
        }
    )  # the fake's CDN links are local
    with Replica(settings) as running:
        yield running


@pytest.fixture(autouse=True)
def nobody_on_duty(loaded_db):
    with session_scope() as session:
        session.execute(update(Volunteer).values(online=False))


def signed(app_id: str, body: bytes, timestamp: str, secret: str = OA_SECRET) -> dict:
    mac = hashlib.sha256(app_id.encode() + body + timestamp.encode() + secret.encode()).hexdigest()
    return {"X-ZEvent-Signature": f"mac={mac}", "Content-Type": "application/json"}


class ZaloCitizen:
    """A Zalo user writing to the OA; Zalo delivers signed events to the webhook."""

    def __init__(self, zalo: FakeZaloAPI, replica: Replica, last_interaction: dt.datetime | None = None):
        self.zalo, self.replica = zalo, replica
        self.id = str(next(_users))
        zalo.add_user(self.id, last_interaction=last_interaction)
        self.seen = 0

    def event(self, name: str, message: dict | None = None, timestamp_ms: int | None = None) -> dict:
        event = {
            "app_id": self.zalo.app_id,
            "user_id_by_app": "552177279717587730",
            "event_name": name,
            "timestamp": str(timestamp_ms or int(time.time() * 1000)),
        }
        if name == "follow":
            event.update(oa_id=OA_ID, follower={"id": self.id}, source="oa_profile")
        else:
            event.update(
                sender={"id": self.id},
                recipient={"id": OA_ID},
                message={"msg_id": f"{next(_messages):020x}", **(message or {})},
            )
        return event

    def deliver(self, event: dict, secret: str = OA_SECRET) -> httpx.Response:
        body = json.dumps(event, ensure_ascii=False).encode()
        return httpx.post(
            self.replica.url + "/webhooks/zalo",
            content=body,
            headers=signed(self.zalo.app_id, body, event["timestamp"], secret),
            timeout=30,
        )

    def say(self, text: str) -> None:
        assert self.deliver(self.event("user_send_text", {"text": text})).status_code == 200

    def click(self, message: dict, title: str) -> None:
        """oa.query.hide: Zalo sends the button's payload back as the user's (hidden) text."""
        buttons = message["attachment"]["payload"]["buttons"]
        self.say(next(b["payload"] for b in buttons if b["title"] == title))

    def reply(self, predicate=lambda m: True) -> dict:
        """The first message to this user after the last one returned that matches."""
        self.zalo.wait_for(lambda _: self._next(predicate) is not None)
        index, message = self._next(predicate)
        self.seen = index + 1
        return message

    def _next(self, predicate) -> tuple[int, dict] | None:
        mine = [m["message"] for m in self.zalo.messages if m["user_id"] == self.id]
        return next(((i, m) for i, m in enumerate(mine) if i >= self.seen and predicate({"text": "", **m})), None)


def button_titles(message: dict) -> list[str]:
    return [b["title"] for b in message.get("attachment", {}).get("payload", {}).get("buttons", [])]


def test_follow_question_buttons_guide_then_a_volunteer_and_back(replica, zalo):
    citizen = ZaloCitizen(zalo, replica)
    assert citizen.deliver(citizen.event("follow")).status_code == 200
    citizen.reply(lambda m: "trợ lý ảo" in m["text"])

    citizen.say("đăng ký khai sinh cần giấy tờ gì")
    answer = citizen.reply(lambda m: "Lệ phí" in button_titles(m))
    assert all(b["type"] == "oa.query.hide" for b in answer["attachment"]["payload"]["buttons"])
    citizen.click(answer, "Lệ phí")
    citizen.reply(lambda m: "lệ phí" in m["text"].lower())

    citizen.say("hướng dẫn tôi nộp khai sinh trực tuyến")
    citizen.click(citizen.reply(lambda m: "Bắt đầu" in button_titles(m)), "Bắt đầu")
    step = citizen.reply(lambda m: m["text"].startswith("Bước 1/"))
    assert len(button_titles(step)) == 5  # six step buttons: five under the step, one more after
    assert button_titles(citizen.reply(lambda m: m["text"] == "Lựa chọn khác:")) == ["Dừng"]

    lan, events, handoff = volunteer_takes_over(replica.url, citizen)
    assert lan.http.get(f"/console/api/handoffs/{handoff}").json()["handoff"]["channel_window"] is None
    assert lan.send(handoff, "Dạ, chị gửi giúp em ảnh màn hình (che số giấy tờ) nhé.").status_code == 200
    citizen.reply(lambda m: m["text"].startswith("Dạ, chị gửi giúp em ảnh màn hình"))
    url = zalo.add_file(f"{citizen.id}.jpg", JPEG, "image/jpeg")
    image = {"text": "", "attachments": [{"type": "image", "payload": {"thumbnail": url, "url": url}}]}
    assert citizen.deliver(citizen.event("user_send_image", image)).status_code == 200
    shown = events.wait_for(lambda d: d["handoff_id"] == handoff and d["message"]["text"].startswith("[Ảnh"))
    assert "giấy tờ tùy thân" in shown["message"]["text"]
    opened = lan.http.get(shown["message"]["media"]["url"])  # the volunteer opens it from the console
    assert opened.status_code == 200 and opened.content == JPEG and opened.headers["content-type"] == "image/jpeg"

    assert lan.post(f"/console/api/handoffs/{handoff}/hand-back", {"step": 1}).status_code == 200
    citizen.reply(lambda m: "Trợ lý ảo tiếp tục hướng dẫn anh/chị từ bước 1" in m["text"])
    citizen.click(citizen.reply(lambda m: m["text"].startswith("Bước 1/")), "Xong")
    citizen.reply(lambda m: m["text"].startswith("Bước 2/"))


def test_a_volunteer_is_told_when_zalo_closed_the_window(replica, zalo):
    quiet_since = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=8)
    citizen = ZaloCitizen(zalo, replica, last_interaction=quiet_since)
    citizen.say("tôi muốn gặp tình nguyện viên")
    lan = Console(replica.url, "Lan")
    with session_scope() as session:  # the citizen's last message was 8 days ago
        session.execute(
            update(Citizen).where(Citizen.channel_user_id == citizen.id).values(last_inbound_at=quiet_since)
        )
    handoff = max(h["id"] for h in lan.queue()["queued"])
    detail = lan.post(f"/console/api/handoffs/{handoff}/claim").json()["handoff"]
    assert "không gửi được" in detail["channel_window"]
    sent = lan.send(handoff, "Dạ, em chào chị.")
    assert sent.status_code == 502 and "chưa gửi được" in sent.json()["error"]


def test_media_to_the_bot_is_explained_and_never_reaches_rasa(replica, zalo):
    citizen = ZaloCitizen(zalo, replica)
    with session_scope() as session:
        turns = session.scalar(select(func.count()).select_from(Turn).where(Turn.intent.is_not(None)))
    sticker = {
        "attachments": [{"type": "sticker", "payload": {"id": "bfe458bf64fa8da4d4eb", "url": "https://zalo.me/s.png"}}]
    }
    assert citizen.deliver(citizen.event("user_send_sticker", sticker)).status_code == 200
    explained = citizen.reply(lambda m: "chưa đọc được" in m["text"])
    assert button_titles(explained) == ["Gặp tình nguyện viên"]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Turn).where(Turn.intent.is_not(None))) == turns


def test_a_redelivered_event_is_processed_once_and_unknown_events_are_acknowledged(replica, zalo):
    citizen = ZaloCitizen(zalo, replica)
    event = citizen.event("user_send_text", {"text": "làm căn cước ở đâu"})
    assert citizen.deliver(event).status_code == 200
    assert citizen.deliver(event).status_code == 200
    citizen.reply(lambda m: "căn cước" in m["text"].lower())
    with session_scope() as session:
        assert (
            session.scalar(
                select(func.count())
                .select_from(ChannelEvent)
                .where(ChannelEvent.event_id == event["message"]["msg_id"])
            )
            == 1
        )
    assert citizen.deliver(citizen.event("user_reacted_message", {"react_icon": "/-heart"})).status_code == 200


@pytest.mark.parametrize(
    "forgery", ["bad signature", "other secret", "stale", "future", "invalid json", "huge", "no timestamp"]
)
def test_forged_or_malformed_events_are_rejected_and_store_nothing(replica, zalo, forgery):
    citizen = ZaloCitizen(zalo, replica)
    day_and_a_half_ago = int((time.time() - 36 * 3600) * 1000)
    event = citizen.event(
        "user_send_text",
        {"text": "xin chào"},
        timestamp_ms={"stale": day_and_a_half_ago, "future": int((time.time() + 3600) * 1000)}.get(forgery),
    )
    body = json.dumps(event).encode()
    headers = signed(zalo.app_id, body, event["timestamp"])
    if forgery == "bad signature":
        headers["X-ZEvent-Signature"] = "mac=" + "0" * 64
    elif forgery == "other secret":
        headers = signed(zalo.app_id, body, event["timestamp"], secret="app-secret-not-oa-secret")
    elif forgery == "invalid json":
        body = body[:-5]
    elif forgery == "huge":
        body = body[:-1] + b', "pad": "' + b"x" * (1 << 20) + b'"}'
    elif forgery == "no timestamp":
        del event["timestamp"]
        body = json.dumps(event).encode()
    with session_scope() as session:
        before = session.scalar(select(func.count()).select_from(ChannelEvent))
    response = httpx.post(replica.url + "/webhooks/zalo", content=body, headers=headers)
    expected = {"invalid json": 400, "no timestamp": 400, "huge": 413}.get(forgery, 401)
    assert response.status_code == expected and "error" in response.json()
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ChannelEvent)) == before


PAYLOADS = Path(__file__).parent.parent / "data" / "zalo"


@pytest.mark.parametrize(
    "fixture, label, kind",
    [
        (
            "user_send_image.json",
            "[Ảnh — có thể chứa giấy tờ tùy thân, đừng yêu cầu gửi] giấy hẹn trả kết quả",
            "photo",
        ),
        ("user_send_file.json", "[Tệp — có thể chứa giấy tờ tùy thân, đừng yêu cầu gửi]", "document"),
        ("user_send_location.json", "[Vị trí]", "location"),
        ("user_send_sticker.json", "[Nhãn dán]", "sticker"),
    ],
)
def test_real_media_events_are_stored_labelled_and_explained(replica, zalo, fixture, label, kind):
    citizen = ZaloCitizen(zalo, replica)
    assert citizen.deliver(as_from(citizen, json.loads((PAYLOADS / fixture).read_text()))).status_code == 200
    citizen.reply(lambda m: "chưa đọc được" in m["text"])
    stored = inbound_of(citizen)
    assert stored[-1].text == label and stored[-1].media["kind"] == kind


def test_unfollow_is_acknowledged_and_stores_no_message(replica, zalo):
    citizen = ZaloCitizen(zalo, replica)
    event = as_from(citizen, json.loads((PAYLOADS / "unfollow.json").read_text()))
    assert citizen.deliver(event).status_code == 200
    replica.run(replica.app.state.zalo.inbox.drain())
    assert inbound_of(citizen) == [] and not [m for m in zalo.messages if m["user_id"] == citizen.id]


def as_from(citizen: ZaloCitizen, event: dict) -> dict:
    """A recorded event, re-addressed to this test's citizen, signed now, with a fresh msg_id."""
    event.update(app_id=citizen.zalo.app_id, timestamp=str(int(time.time() * 1000)))
    for role in ("sender", "follower"):
        if role in event:
            event[role]["id"] = citizen.id
    if "message" in event:
        event["message"]["msg_id"] = f"{next(_messages):020x}"
    return event


def inbound_of(citizen: ZaloCitizen) -> list[Message]:
    with session_scope() as session:
        return session.scalars(
            select(Message)
            .join(Conversation)
            .join(Citizen)
            .where(Citizen.channel == "zalo", Citizen.channel_user_id == citizen.id, Message.direction == "in")
            .order_by(Message.id)
        ).all()


def test_an_otp_is_masked_before_the_event_is_stored(replica, zalo):
    citizen = ZaloCitizen(zalo, replica)
    event = citizen.event("user_send_text", {"text": "mã OTP là 482913 mà không vào được"})
    assert "482913" not in json.dumps(redact(json.loads(json.dumps(event))))
    assert citizen.deliver(event).status_code == 200
    citizen.reply(lambda m: "đừng gửi" in m["text"])
    replica.run(replica.app.state.zalo.inbox.drain())
    with session_scope() as session:
        stored = session.scalar(select(ChannelEvent).where(ChannelEvent.event_id == event["message"]["msg_id"]))
        assert stored.payload == {}
    assert "482913" not in inbound_of(citizen)[-1].text
