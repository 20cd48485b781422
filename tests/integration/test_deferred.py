"""While Rasa does not answer, a citizen's message is kept and they are told the answer is coming
(`/api/chat` answers 200 with that reply); once Rasa is back the answer arrives exactly once, in
order: on the web through the stream, on Telegram through the channel. Rasa is the session's real
one, behind a TCP gate the test closes (down) and opens (back). Two gateway replicas sharing Redis
(the city layout) and the session's own gateway (same database) all run the catch-up job, and
each message is still answered once."""

from __future__ import annotations

from collections import Counter

import httpx
import pytest
from sqlalchemy import func, select

from bot.router import ANSWER_COMING
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Message, Turn
from tests import redis_server
from tests.integration.people import WebCitizen, bearer
from tests.integration.replica import EventStream, Replica
from tests.integration.test_telegram_channel import SECRET, WEBHOOK_URL, TelegramCitizen
from tests.system import require
from tests.tcp_gate import TcpGate
from tests.waiting import wait_until

QUESTIONS = "làm căn cước ở đâu", "đăng ký khai sinh lệ phí bao nhiêu"


@pytest.fixture(scope="module")
def rasa_gate(stack):
    gate = TcpGate(int(get_settings().rasa_url.rsplit(":", 1)[1]))  # the session's Rasa
    yield gate
    gate.close()


@pytest.fixture(scope="module")
def replicas(rasa_gate, telegram):
    require(redis_server.available(), "redis-server")
    with redis_server.redis_server() as redis_url:
        settings = get_settings().model_copy(
            update={
                "rasa_servers": rasa_gate.url,
                "redis_url": redis_url,
                "telegram_token": telegram.token,
                "telegram_api_url": telegram.base_url,
                "telegram_file_url": telegram.base_file_url,
                "telegram_secret": SECRET,
                "telegram_webhook_url": WEBHOOK_URL,
            }
        )
        with Replica(settings) as first, Replica(settings) as second:
            yield first, second


def inbound(user_id: str) -> list[Message]:
    with session_scope() as session:
        return session.scalars(
            select(Message)
            .join(Citizen, Message.citizen_id == Citizen.id)
            .where(Citizen.channel_user_id == user_id)
            .order_by(Message.id)
        ).all()


def turns_of(message_id: int) -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Turn).where(Turn.message_id == message_id))


def outbound_statuses(conversation_id: int) -> set[str]:
    with session_scope() as session:
        return set(
            session.scalars(
                select(Message.status).where(Message.conversation_id == conversation_id, Message.direction == "out")
            )
        )


def test_web_questions_asked_while_rasa_is_down_are_answered_once_in_order_when_it_is_back(replicas, rasa_gate):
    rasa_gate.close()
    citizen = WebCitizen(replicas[0].url)
    for question in QUESTIONS:
        response = citizen.http.post("/api/chat", json={"sender_id": citizen.sender, "text": question})
        assert response.status_code == 200, response.text
        assert response.json() == {
            "replies": [{"text": ANSWER_COMING, "buttons": []}],
            "about": {"procedure": None, "aspect": None, "outcome": "deferred"},
        }
    asked = inbound(citizen.sender)
    assert [m.status for m in asked] == ["deferred", "deferred"]

    rasa_gate.open()
    wait_until(lambda: all(turns_of(m.id) for m in asked), "a deferred message got no turn")
    assert [m.status for m in inbound(citizen.sender)] == ["processed", "processed"]
    assert [turns_of(m.id) for m in asked] == [1, 1]  # several gateways ran the job: each message answered once
    with session_scope() as session:  # replies are stored with the turn: one turn, one set of replies
        answers = [
            m.id
            for m in session.scalars(
                select(Message)
                .where(  # texts are encrypted: compared here
                    Message.conversation_id == asked[0].conversation_id, Message.direction == "out"
                )
                .order_by(Message.id)
            )
            if m.text != ANSWER_COMING
        ]
    assert answers

    # The open page got them live if the answering gateway shares its Redis (the session's own
    # gateway shares only the database); a page connecting now gets what it has not acknowledged.
    live = Counter(int(e.id) for e in citizen.inbox.events if e.id is not None)
    assert max(live.values(), default=1) == 1, live
    page = EventStream(f"{replicas[1].url}/api/chat/stream", headers=bearer(citizen.sender)).start_and_wait()
    for answer in answers:
        page.arrival(lambda e: e.id == str(answer))
    assert [int(e.id) for e in page.events] == answers  # in order, each once
    texts = [e.data["text"].lower() for e in page.events]
    assert "căn cước" in texts[0] and any("khai sinh" in text for text in texts[1:]), (
        texts
    )  # asked first, answered first
    acknowledged = httpx.post(f"{replicas[0].url}/api/chat/ack", headers=bearer(citizen.sender), json={"ids": answers})
    assert acknowledged.json() == {"acknowledged": len(answers)}


def test_a_telegram_message_while_rasa_is_down_is_answered_through_the_channel_when_it_is_back(
    replicas, rasa_gate, telegram
):
    rasa_gate.close()
    citizen = TelegramCitizen(telegram, replicas[1])
    update = telegram.make_message_update(citizen.id, citizen.id, QUESTIONS[0])
    update["update_id"] += 10**6  # this fake counts from 1; the session's database keeps other modules' ids
    assert citizen.deliver(update).status_code == 200
    assert citizen.reply()["text"] == ANSWER_COMING
    [asked] = inbound(str(citizen.id))
    assert asked.status == "deferred"

    rasa_gate.open()
    # the catch-up job's next round (every 2 s) reconnects to Rasa: slow on a loaded CI machine
    citizen.reply(lambda m: "căn cước" in m["text"].lower(), timeout=30)
    wait_until(lambda: turns_of(asked.id) == 1, "the deferred message got no turn")
    wait_until(lambda: outbound_statuses(asked.conversation_id) == {"sent"}, "a reply was not sent")
    texts = [m["text"] for m in telegram.sent_messages(citizen.id)]
    assert max(Counter(texts).values()) == 1, texts  # the answer was sent once
