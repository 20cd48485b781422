"""Guides through POST /api/chat with the real services, by clicking buttons."""

import json

import pytest
from sqlalchemy import create_engine, select, text

from bot.knowledge.files import read_all
from bot.settings import get_settings
from bot.storage import crypto
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, GuideEvent
from tests.conftest import ROOT
from tests.integration.conftest import button, texts

FIVE = ["khai-sinh", "ket-hon", "ly-lich-tu-phap", "tam-tru", "dang-ky-xe"]


TITLES = {e.slug: e.title for e in read_all(ROOT / "knowledge")[0]}


def start(chat, slug: str) -> list[dict]:
    """Name the procedure, then click the guide button under the answer."""
    return chat(button(chat(TITLES[slug]), "Hướng dẫn từng bước"))


def events(sender: str) -> list[tuple[str, int, str | None]]:
    with session_scope() as session:
        rasa_id = session.scalar(
            select(Conversation.rasa_sender_id).join(Citizen).where(Citizen.channel_user_id == sender)
        )
        rows = session.scalars(select(GuideEvent).where(GuideEvent.rasa_sender_id == rasa_id).order_by(GuideEvent.id))
        return [(r.event, r.step, r.detail) for r in rows]


@pytest.mark.parametrize("slug", FIVE)
def test_full_guide_to_submission(chat, slug):
    replies = start(chat, slug)
    assert "chuẩn bị" in texts(replies)
    replies = chat(button(replies, "Bắt đầu"))
    steps = 0
    while replies[0]["text"].startswith("Bước"):
        steps += 1
        assert replies[0]["text"].startswith(f"Bước {steps}/")
        replies = chat(button(replies, "Xong"))
    assert steps >= 3 and "Anh/chị đã nộp được chưa?" in texts(replies)
    assert "chúc mừng" in texts(chat(button(replies, "Đã nộp"))).lower()
    recorded = events(chat.sender)
    assert recorded[0][0] == "started" and recorded[-1] == ("outcome", steps, "submitted")
    assert [e for e in recorded if e[0] == "step"][:steps] == [("step", n, None) for n in range(1, steps + 1)]


def test_back_repeat_stuck_twice_calls_a_volunteer_then_the_citizen_goes_on_alone(chat):
    replies = chat(button(start(chat, "khai-sinh"), "Bắt đầu"))
    replies = chat(button(replies, "Xong"))
    assert replies[0]["text"].startswith("Bước 2/")
    replies = chat(button(replies, "Quay lại"))
    assert replies[0]["text"].startswith("Bước 1/")
    replies = chat(button(replies, "Nhắc lại"))
    assert replies[0]["text"].startswith("Bước 1/")
    problems = chat(button(replies, "Tôi bị kẹt"))
    fix = chat(button(problems, "Không nhận được mã OTP"))
    assert "OTP" in texts(fix)
    called = chat(button(fix, "Vẫn bị kẹt"))
    assert "nhờ tình nguyện viên" in texts(called)
    assert [e[0] for e in events(chat.sender)][-3:] == ["stuck", "problem", "volunteer_called"]
    back = chat(button(called, "Thôi, hỏi trợ lý ảo"))  # stops waiting: the guide is where it was
    assert "trợ lý ảo tiếp tục" in texts(back).lower()
    assert texts(chat("làm tiếp")).startswith("Bước 1/")


def test_typed_words_drive_the_guide_too(chat):
    chat(button(start(chat, "tam-tru"), "Bắt đầu"))
    assert texts(chat("xong rồi")).startswith("Bước 2/")
    assert texts(chat("quay lại bước trước")).startswith("Bước 1/")


def test_in_person_procedure_explains_instead_of_guiding(chat):
    chat("chứng thực bản sao cần gì")
    replies = chat("hướng dẫn tôi nộp online")
    assert "phải làm trực tiếp" in texts(replies) and "Bước 1" not in texts(replies)


def test_guide_resumes_after_every_service_restarts_and_later_sessions(chat, stack):
    replies = chat(button(start(chat, "ly-lich-tu-phap"), "Bắt đầu"))
    replies = chat(button(replies, "Xong"))
    assert replies[0]["text"].startswith("Bước 2/")
    stack.stop()
    stack.start()
    stack.wait_ready()
    assert chat(button(replies, "Xong"))[0]["text"].startswith("Bước 3/")  # state survived the restart

    # hours later: a new Rasa session offers to continue where the citizen stopped
    with session_scope() as session:
        rasa_id = session.scalar(
            select(Conversation.rasa_sender_id).join(Citizen).where(Citizen.channel_user_id == chat.sender)
        )
    ring = crypto.current_ring()  # Rasa reads an event's time from its JSON, stored encrypted
    with create_engine(get_settings().tracker_url).begin() as connection:
        for event_id, data in connection.execute(
            text("SELECT id, data FROM events WHERE sender_id = :s"), {"s": rasa_id}
        ):
            event = json.loads(ring.decrypt(data))
            event["timestamp"] -= 7200
            connection.execute(
                text("UPDATE events SET timestamp = timestamp - 7200, data = :data WHERE id = :id"),
                {"data": ring.encrypt(json.dumps(event)), "id": event_id},
            )
    offer = chat("chào em")
    assert "bước 3/" in texts(offer)
    assert chat(button(offer, "Làm tiếp"))[0]["text"].startswith("Bước 3/")
