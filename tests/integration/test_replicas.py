"""Two gateway replicas sharing the database and Redis (the city deployment): the citizen's web
chat is open on one, the volunteer's console on the other, and everything still arrives — once."""

from __future__ import annotations

import threading

import httpx
import pytest
from sqlalchemy import select, update

from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Message, Turn, Volunteer
from tests import redis_server
from tests.integration.conftest import texts
from tests.integration.people import ASK_HUMAN, Console, WebCitizen, open_conversation
from tests.integration.replica import Replica
from tests.system import require
from tests.waiting import wait_until


@pytest.fixture(scope="module")
def replicas(stack):
    require(redis_server.available(), "redis-server")
    with redis_server.redis_server() as url:
        settings = get_settings().model_copy(update={"redis_url": url})
        with Replica(settings) as first, Replica(settings) as second:
            yield first, second


def test_citizen_on_one_replica_volunteer_on_the_other(replicas):
    citizen_side, volunteer_side = replicas
    with session_scope() as session:
        session.execute(update(Volunteer).values(online=False))
    lan = Console(volunteer_side.url, "Lan")
    console_events = lan.stream()
    citizen = WebCitizen(citizen_side.url)

    assert "em đã báo tình nguyện viên" in texts(citizen.say(ASK_HUMAN))
    handoff = citizen.handoff().id
    console_events.wait_for(lambda d: d["handoff_id"] == handoff and d["kind"] == "queued", name="handoff")
    assert lan.post(f"/console/api/handoffs/{handoff}/claim").status_code == 200
    citizen.inbox.wait_for(lambda m: m["text"] == "Dạ, tình nguyện viên Lan đang hỗ trợ anh/chị.")

    assert citizen.say("Em cần làm giấy khai sinh cho con") == []
    console_events.wait_for(lambda d: d.get("message", {}).get("text") == "Em cần làm giấy khai sinh cho con")
    assert lan.send(handoff, "Dạ, chị đã có giấy chứng sinh chưa ạ?").status_code == 200
    citizen.inbox.wait_for(lambda m: m["text"] == "Dạ, chị đã có giấy chứng sinh chưa ạ?")

    assert lan.post(f"/console/api/handoffs/{handoff}/hand-back", {"step": None}).status_code == 200
    citizen.inbox.wait_for(lambda m: "Trợ lý ảo tiếp tục hỗ trợ" in m["text"])
    delivered = citizen.inbox.texts()
    assert len(delivered) == len(set(delivered)), f"a message arrived twice: {delivered}"


def test_one_conversation_is_handled_one_message_at_a_time_in_order_across_replicas(replicas):
    """Each message goes to the other replica while the previous one is still being answered
    (it is stored, then Rasa is asked): it waits for the shared lock, so turns never overlap and
    are taken in the order sent."""
    questions = [
        "làm căn cước cần giấy tờ gì",
        "lệ phí bao nhiêu",
        "làm ở đâu",
        "mất bao lâu",
        "đăng ký khai sinh cần gì",
        "nộp online được không",
    ]
    http = [httpx.Client(base_url=replica.url, timeout=60) for replica in replicas]
    sender = open_conversation(http[0])
    answers: dict[int, int] = {}

    def ask(number: int) -> None:
        answers[number] = (
            http[number % 2]
            .post("/api/chat", json={"sender_id": sender, "text": questions[number], "message_id": f"order-{number}"})
            .status_code
        )

    threads = []
    for number in range(len(questions)):
        threads.append(threading.Thread(target=ask, args=(number,)))
        threads[-1].start()
        wait_until(lambda: stored_inbound(sender, f"order-{number}"), f"message {number} never stored")
    for thread in threads:
        thread.join(60)
    assert answers == {number: 200 for number in range(len(questions))}

    with session_scope() as session:
        turns = session.execute(
            select(Message.channel_message_id, Message.created_at, Turn.created_at)
            .join(Turn, Turn.message_id == Message.id)
            .join(Citizen, Message.citizen_id == Citizen.id)
            .where(Citizen.channel_user_id == sender)
            .order_by(Message.id)
        ).all()
    assert [t.channel_message_id for t in turns] == [f"order-{number}" for number in range(len(questions))]
    for earlier, later in zip(turns, turns[1:]):  # a message is stored only once the previous turn ended
        assert earlier[2] <= later[1], f"{later[0]} started before {earlier[0]} ended"


def stored_inbound(sender: str, message_id: str) -> bool:
    with session_scope() as session:
        return (
            session.scalar(
                select(Message.id)
                .join(Citizen, Message.citizen_id == Citizen.id)
                .where(Citizen.channel_user_id == sender, Message.channel_message_id == message_id)
            )
            is not None
        )
