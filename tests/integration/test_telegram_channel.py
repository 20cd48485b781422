"""Citizens on Telegram, end to end with the real Rasa and app, against a local server that
implements the Bot API contract: webhook and polling, buttons, media, volunteer handoff, retries,
idempotency and forged webhooks."""

from __future__ import annotations

import itertools
import json
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from bot.channels.telegram import MAX_ATTEMPTS, redact
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import ChannelEvent, Citizen, Conversation, Message, Turn, Volunteer
from tests.fakes.telegram_api import FakeTelegramAPI
from tests.integration.people import Console, volunteer_takes_over
from tests.integration.replica import Replica

SECRET = "citizen-hook-secret_2"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # the bytes of "a screenshot"
WEBHOOK_URL = "https://hotro.example.vn/webhooks/telegram"
_users = iter(range(8100, 8999))


def settings_for(telegram: FakeTelegramAPI, **extra):
    return get_settings().model_copy(
        update={
            "telegram_token": telegram.token,
            "telegram_api_url": telegram.base_url,
            "telegram_file_url": telegram.base_file_url,
            "telegram_secret": SECRET,
            **extra,
        }
    )


@pytest.fixture(scope="module")
def replica(stack, telegram):
    with Replica(settings_for(telegram, telegram_webhook_url=WEBHOOK_URL)) as running:
        yield running


@pytest.fixture(autouse=True)
def nobody_on_duty(loaded_db):
    with session_scope() as session:
        session.execute(update(Volunteer).values(online=False))


class TelegramCitizen:
    """A citizen writing to the bot in a private chat; Telegram delivers to the webhook."""

    def __init__(self, telegram: FakeTelegramAPI, replica: Replica):
        self.telegram, self.replica = telegram, replica
        self.id = next(_users)
        telegram.add_user(self.id, "Hoa")
        telegram.add_chat(self.id)
        self.seen = 0

    def deliver(self, update: dict, secret: str = SECRET) -> httpx.Response:
        return httpx.post(
            self.replica.url + "/webhooks/telegram",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": secret},
            timeout=30,
        )

    def say(self, text: str) -> None:
        assert self.deliver(self.telegram.make_message_update(self.id, self.id, text)).status_code == 200

    def click(self, message: dict, title: str) -> dict:
        data = next(
            b["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for b in row if b["text"] == title
        )
        update_ = self.telegram.make_callback_query_update(self.id, self.id, message["message_id"], data)
        assert self.deliver(update_).status_code == 200
        return update_

    def reply(self, predicate=lambda m: True, timeout: float = 10) -> dict:
        """The first message sent to this citizen after the last one returned that matches
        (a stored Message object: text, reply_markup), waiting for it if need be."""
        self.telegram.wait_for_call(
            "sendMessage", lambda p: p["chat_id"] == self.id and self._next(predicate) is not None, timeout
        )
        message = self._next(predicate)
        self.seen = message["message_id"]
        return message

    def _next(self, predicate) -> dict | None:
        return next(
            (
                m
                for m in self.telegram.sent_messages(self.id)
                if m["message_id"] > self.seen and predicate({"text": "", **m})
            ),
            None,
        )


def test_webhook_is_registered_with_its_secret(replica, telegram):
    telegram.wait_for_call("setWebhook")
    assert telegram.webhook["url"] == WEBHOOK_URL and telegram.webhook["secret_token"] == SECRET


def test_question_buttons_guide_then_a_volunteer_and_back(replica, telegram):
    citizen = TelegramCitizen(telegram, replica)
    citizen.say("/start")
    assert "trợ lý ảo" in citizen.reply(lambda m: "trợ lý ảo" in m["text"])["text"]
    telegram.wait_for_call("sendChatAction", lambda p: p["chat_id"] == citizen.id and p["action"] == "typing")

    citizen.say("đăng ký khai sinh cần giấy tờ gì")
    answer = citizen.reply(lambda m: "Lệ phí" in str(m.get("reply_markup")))
    click = citizen.click(answer, "Lệ phí")
    telegram.wait_for_call("answerCallbackQuery", lambda p: p["callback_query_id"] == click["callback_query"]["id"])
    assert "lệ phí" in citizen.reply(lambda m: "lệ phí" in m["text"].lower())["text"].lower()

    citizen.say("hướng dẫn tôi nộp khai sinh trực tuyến")
    ready = citizen.reply(lambda m: "Bắt đầu" in str(m.get("reply_markup")))
    citizen.click(ready, "Bắt đầu")
    assert citizen.reply(lambda m: m["text"].startswith("Bước 1/"))

    lan, events, handoff = volunteer_takes_over(replica.url, citizen)
    assert lan.send(handoff, "Dạ, chị đang ở màn hình nào ạ?").status_code == 200
    citizen.reply(lambda m: m["text"] == "Dạ, chị đang ở màn hình nào ạ?")
    citizen.say("màn hình đăng nhập")
    events.wait_for(lambda d: d["handoff_id"] == handoff and d["message"]["text"] == "màn hình đăng nhập")
    telegram.add_file("AgACAgUAAxkBAAIC", PNG, "photos/file_7.png")
    photo = telegram.make_message_update(citizen.id, citizen.id, "ảnh màn hình")
    message = photo["message"]
    message["caption"] = message.pop("text")
    message["photo"] = [
        {"file_id": "AgACAgUAAxkBAAIB", "file_unique_id": "AQADx", "width": 90, "height": 51},
        {"file_id": "AgACAgUAAxkBAAIC", "file_unique_id": "AQADy", "width": 1280, "height": 720},
    ]
    assert citizen.deliver(photo).status_code == 200
    shown = events.wait_for(lambda d: d["handoff_id"] == handoff and d["message"]["text"].startswith("[Ảnh"))
    assert "giấy tờ tùy thân" in shown["message"]["text"] and shown["message"]["text"].endswith("ảnh màn hình")
    opened = lan.http.get(shown["message"]["media"]["url"])  # the volunteer opens it from the console
    assert opened.status_code == 200 and opened.content == PNG and opened.headers["content-type"] == "image/png"
    assert "no-store" in opened.headers["cache-control"]
    assert Console(replica.url, "Khác").http.get(shown["message"]["media"]["url"]).status_code == 403

    assert lan.post(f"/console/api/handoffs/{handoff}/hand-back", {"step": 1}).status_code == 200
    citizen.reply(lambda m: "Trợ lý ảo tiếp tục hướng dẫn anh/chị từ bước 1" in m["text"])
    step = citizen.reply(lambda m: m["text"].startswith("Bước 1/"))
    citizen.click(step, "Xong")
    assert citizen.reply(lambda m: m["text"].startswith("Bước 2/"))


def test_media_to_the_bot_gets_a_kind_explanation_and_never_reaches_rasa(replica, telegram):
    citizen = TelegramCitizen(telegram, replica)
    voice = telegram.make_message_update(citizen.id, citizen.id, "x")
    del voice["message"]["text"]
    voice["message"]["voice"] = {
        "file_id": "AwACAgUAAxkBAAIE",
        "file_unique_id": "AgADz",
        "duration": 4,
        "mime_type": "audio/ogg",
    }
    with session_scope() as session:
        turns = session.scalar(select(func.count()).select_from(Turn).where(Turn.intent.is_not(None)))
    assert citizen.deliver(voice).status_code == 200
    explained = citizen.reply(lambda m: "chưa đọc được" in m["text"])
    assert "Gặp tình nguyện viên" in str(explained["reply_markup"])
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(Turn).where(Turn.intent.is_not(None))) == turns


def test_a_redelivered_update_is_processed_once(replica, telegram):
    citizen = TelegramCitizen(telegram, replica)
    update_ = telegram.make_message_update(citizen.id, citizen.id, "lệ phí làm căn cước bao nhiêu")
    assert citizen.deliver(update_).status_code == 200
    assert citizen.deliver(update_).status_code == 200
    citizen.reply(lambda m: "căn cước" in m["text"].lower())
    with session_scope() as session:
        events = session.scalar(
            select(func.count())
            .select_from(ChannelEvent)
            .where(ChannelEvent.channel == "telegram", ChannelEvent.event_id == str(update_["update_id"]))
        )
        assert events == 1
    texts = [m["text"] for m in telegram.sent_messages(citizen.id)]
    assert len(texts) == len(set(texts)), "a reply was sent twice"


def test_rate_limited_replies_wait_as_told_and_arrive(replica, telegram):
    citizen = TelegramCitizen(telegram, replica)
    retry_after = 2
    telegram.fail_next("sendMessage", times=1, retry_after=retry_after, chat_id=citizen.id)
    citizen.say("làm căn cước ở đâu")
    delivered = citizen.reply(lambda m: "căn cước" in m["text"].lower())
    attempts = telegram.timed_calls("sendMessage", lambda p: p["chat_id"] == citizen.id)
    (refused_at, refused), (resent_at, resent) = attempts[:2]
    assert refused["text"] == resent["text"] == delivered["text"]  # refused once, then sent
    assert resent_at - refused_at >= retry_after  # the fake's clock: not resent before Telegram allowed it


@pytest.mark.parametrize(
    "body, headers, status",
    [
        (b'{"update_id": 1}', {"X-Telegram-Bot-Api-Secret-Token": "wrong"}, 403),
        (b'{"update_id": 1}', {}, 403),
        (b"{not json", {"X-Telegram-Bot-Api-Secret-Token": SECRET}, 400),
        (b'{"message": {}}', {"X-Telegram-Bot-Api-Secret-Token": SECRET}, 400),
        (b'{"update_id": "7"}', {"X-Telegram-Bot-Api-Secret-Token": SECRET}, 400),
        (b"{" + b" " * (1 << 20) + b"}", {"X-Telegram-Bot-Api-Secret-Token": SECRET}, 413),
    ],
)
def test_forged_or_malformed_webhooks_are_rejected_and_store_nothing(replica, body, headers, status):
    with session_scope() as session:
        before = session.scalar(select(func.count()).select_from(ChannelEvent))
    response = httpx.post(
        replica.url + "/webhooks/telegram", content=body, headers={"Content-Type": "application/json", **headers}
    )
    assert response.status_code == status and "error" in response.json()
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(ChannelEvent)) == before


def test_polling_mode_deletes_the_webhook_and_only_one_process_polls(stack, telegram):
    settings = settings_for(telegram, telegram_webhook_url="")
    with Replica(settings) as first, Replica(settings) as second:
        telegram.wait_for_call("deleteWebhook")
        assert telegram.webhook is None
        citizen = TelegramCitizen(telegram, first)
        telegram.push_update(telegram.make_message_update(citizen.id, citizen.id, "đăng ký kết hôn cần giấy tờ gì"))
        assert "kết hôn" in citizen.reply(lambda m: "kết hôn" in m["text"].lower())["text"].lower()
        pollers = [r for r in (first, second) if r.app.state.telegram.polling]
        assert len(pollers) == 1


def test_network_errors_are_retried_with_backoff(replica, telegram):
    citizen = TelegramCitizen(telegram, replica)
    telegram.break_next("sendMessage", times=2, chat_id=citizen.id)
    citizen.say("đăng ký tạm trú ở đâu")
    assert "tạm trú" in citizen.reply(lambda m: "tạm trú" in m["text"].lower())["text"].lower()
    attempts = [c for c in telegram.calls if c[0] == "sendMessage" and c[1]["chat_id"] == citizen.id]
    assert len(attempts) >= 3  # two refused by the outage, then delivered


PAYLOADS = Path(__file__).parent.parent / "data" / "telegram"
_update_ids = itertools.count(990_000_000)


@pytest.mark.parametrize(
    "fixture, label",
    [
        ("photo.json", "[Ảnh — có thể chứa giấy tờ tùy thân"),
        ("document.json", "[Tệp — có thể chứa giấy tờ tùy thân"),
        ("voice.json", "[Ghi âm]"),
        ("location.json", "[Vị trí]"),
        ("sticker.json", "[Nhãn dán]"),
    ],
)
def test_real_media_updates_are_stored_labelled_and_explained(replica, telegram, fixture, label):
    citizen = TelegramCitizen(telegram, replica)
    update_ = as_from(citizen, json.loads((PAYLOADS / fixture).read_text()))
    assert citizen.deliver(update_).status_code == 200
    citizen.reply(lambda m: "chưa đọc được" in m["text"])
    stored = inbound_of(citizen)
    assert stored[-1].text.startswith(label) and stored[-1].media["kind"] == fixture.removesuffix(".json")


def test_an_edited_message_is_acknowledged_but_not_answered_again(replica, telegram):
    citizen = TelegramCitizen(telegram, replica)
    update_ = as_from(citizen, json.loads((PAYLOADS / "edited_message.json").read_text()))
    assert citizen.deliver(update_).status_code == 200
    event_id = str(update_["update_id"])
    replica.run(replica.app.state.telegram.inbox.drain())
    with session_scope() as session:
        assert session.scalar(select(ChannelEvent.processed_at).where(ChannelEvent.event_id == event_id)) is not None
    assert inbound_of(citizen) == [] and telegram.sent_messages(citizen.id) == []


def as_from(citizen: TelegramCitizen, update_: dict) -> dict:
    """A recorded update, re-addressed to this test's citizen with a fresh update_id."""
    message = update_.get("message") or update_["edited_message"]
    message["from"]["id"] = message["chat"]["id"] = citizen.id
    update_["update_id"] = next(_update_ids)
    return update_


def inbound_of(citizen: TelegramCitizen) -> list[Message]:
    with session_scope() as session:
        return session.scalars(
            select(Message)
            .join(Conversation)
            .join(Citizen)
            .where(Citizen.channel == "telegram", Citizen.channel_user_id == str(citizen.id), Message.direction == "in")
            .order_by(Message.id)
        ).all()


def test_an_id_number_is_masked_before_the_update_is_stored_and_the_citizen_is_warned(replica, telegram):
    citizen = TelegramCitizen(telegram, replica)
    update_ = telegram.make_message_update(citizen.id, citizen.id, "CCCD của tôi 079123456789, làm căn cước ở đâu")
    assert "079123456789" not in json.dumps(redact(json.loads(json.dumps(update_))))
    assert citizen.deliver(update_).status_code == 200
    citizen.reply(lambda m: "đừng gửi" in m["text"])
    replica.run(replica.app.state.telegram.inbox.drain())
    with session_scope() as session:
        stored = session.scalar(select(ChannelEvent).where(ChannelEvent.event_id == str(update_["update_id"])))
        assert stored.processed_at is not None and stored.payload == {}  # processed: only the id is kept
    assert "079123456789" not in inbound_of(citizen)[-1].text


def test_a_reply_left_pending_by_a_long_outage_is_sent_later(replica, telegram):
    citizen = TelegramCitizen(telegram, replica)
    telegram.break_next("sendMessage", times=MAX_ATTEMPTS, chat_id=citizen.id)  # outlasts the retries
    citizen.say("đăng ký thường trú ở đâu")
    replica.run(replica.app.state.telegram.inbox.drain())  # the update's processing, retries included
    attempts = [c for c in telegram.calls if c[0] == "sendMessage" and c[1]["chat_id"] == citizen.id]
    assert len(attempts) == MAX_ATTEMPTS and telegram.sent_messages(citizen.id) == []
    assert replica.run(replica.app.state.outbox.resend_pending(older_than_s=0)) >= 1
    assert "thường trú" in citizen.reply(lambda m: "thường trú" in m["text"].lower())["text"].lower()
    with session_scope() as session:
        statuses = session.scalars(
            select(Message.status)
            .join(Conversation)
            .join(Citizen)
            .where(Citizen.channel_user_id == str(citizen.id), Message.direction == "out")
        ).all()
    assert statuses and set(statuses) == {"sent"}


def test_a_citizen_over_the_conversation_limit_is_told_once_and_telegram_always_gets_200(stack, telegram):
    with Replica(settings_for(telegram, telegram_webhook_url=WEBHOOK_URL, rate_limit_conversation=2)) as limited:
        citizen = TelegramCitizen(telegram, limited)
        updates = [
            telegram.make_message_update(citizen.id, citizen.id, text)
            for text in ("lệ phí khai sinh", "lệ phí kết hôn", "lệ phí căn cước", "lệ phí hộ chiếu")
        ]
        for update_ in updates:
            assert citizen.deliver(update_).status_code == 200  # never a 429 to the platform
        ids = [str(u["update_id"]) for u in updates]
        deadline = time.monotonic() + 60
        while True:  # every update processed (or dropped) by the replica
            with session_scope() as session:
                done = session.scalar(
                    select(func.count())
                    .select_from(ChannelEvent)
                    .where(
                        ChannelEvent.channel == "telegram",
                        ChannelEvent.event_id.in_(ids),
                        ChannelEvent.processed_at.is_not(None),
                    )
                )
            if done == len(ids):
                break
            assert time.monotonic() < deadline, f"{done} of {len(ids)} updates processed"
            threading.Event().wait(0.05)
        citizen.reply(lambda m: "nhắn nhanh quá" in m["text"])
        sent = [m["text"] for m in telegram.sent_messages(citizen.id)]
        assert sum("nhắn nhanh quá" in text for text in sent) == 1, sent  # told once, not per message
        assert not any("hộ chiếu" in text.lower() for text in sent)  # the messages over the limit were not answered
