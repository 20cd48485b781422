"""POST /api/chat with the real Rasa server, action server and gateway."""

import json

from sqlalchemy import create_engine, func, select, text

from bot.router import FORGOTTEN
from bot.settings import get_settings
from bot.storage import crypto
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, Message, Turn
from tests.integration.conftest import button, texts
from tests.integration.people import open_conversation


def test_birth_registration_documents_with_source(chat):
    replies = chat("đăng ký khai sinh cần giấy tờ gì")
    answer = texts(replies)
    assert "Giấy chứng sinh" in answer
    assert "Nguồn: Cổng Dịch vụ công quốc gia, thủ tục mã 1.001193" in answer
    assert answer.startswith("Dạ")


def test_button_click_answers_the_other_aspect(chat):
    replies = chat("đăng ký khai sinh cần giấy tờ gì")
    fee = chat(button(replies, "Lệ phí"))
    assert "lệ phí đăng ký khai sinh" in texts(fee)
    assert "Thông tư 85/2019/TT-BTC" in texts(fee)


def test_context_carries_to_a_follow_up(chat):
    chat("làm lý lịch tư pháp cần giấy tờ gì")
    assert "lệ phí xin cấp phiếu lý lịch tư pháp" in texts(chat("còn lệ phí thì sao"))


def test_unaccented_question(chat):
    assert "căn cước" in texts(chat("lam lai can cuoc o dau")).lower()


def test_greeting_says_what_it_does_and_the_privacy_notice(chat):
    replies = chat("xin chào")
    assert "trợ lý ảo" in replies[0]["text"]
    notice = replies[1]["text"]
    assert f"{get_settings().retention_days} ngày" in notice and "xóa dữ liệu của tôi" in notice
    assert replies[-1]["buttons"]


def test_fallback_is_polite_and_says_what_it_can_do(chat):
    answer = texts(chat("asdkjh qwe zzz"))
    assert answer.startswith("Dạ") and "thủ tục" in answer


def test_buttons_are_opaque_keys(chat):
    for reply in chat("xin chào"):
        for b in reply["buttons"]:
            assert not b["payload"].startswith("/") and "{" not in b["payload"]


def test_a_button_key_works_only_in_its_own_conversation(chat, gateway):
    key = button(chat("đăng ký khai sinh cần giấy tờ gì"), "Lệ phí")
    someone_else = open_conversation(gateway)
    other = gateway.post("/api/chat", json={"sender_id": someone_else, "text": key}).json()["replies"]
    assert "lệ phí đăng ký khai sinh" not in texts(other)


def last_turn(sender: str) -> Turn:
    with session_scope() as session:
        return session.scalars(
            select(Turn)
            .join(Message, Turn.message_id == Message.id)
            .join(Citizen, Citizen.channel_user_id == sender)
            .order_by(Turn.id.desc())
            .limit(1)
        ).first()


def test_slash_commands_from_citizens_never_reach_rasa_as_intents(chat):
    chat("đăng ký khai sinh cần giấy tờ gì")
    chat("/restart")
    turn = last_turn(chat.sender)
    assert turn.intent != "restart" and "action_restart" not in turn.actions
    assert "lệ phí đăng ký khai sinh" in texts(chat("còn lệ phí thì sao"))  # context survived


def test_turn_records_intent_confidence_and_actions(chat):
    chat("làm hộ chiếu hết bao nhiêu tiền")
    turn = last_turn(chat.sender)
    assert turn.intent == "ask_fee" and 0 < turn.confidence <= 1
    assert turn.actions == ["action_answer"] and turn.latency_ms >= 0


def test_same_message_id_is_processed_once(chat):
    first = chat("làm căn cước ở đâu", message_id="m-42")
    again = chat("làm căn cước ở đâu", message_id="m-42")
    assert again == first
    with session_scope() as session:
        count = session.scalar(select(func.count()).select_from(Message).where(Message.channel_message_id == "m-42"))
    assert count == 1


def test_secrets_are_masked_before_storage_and_rasa(chat):
    replies = chat("số căn cước của tôi là 079123456789 mật khẩu là Abc@12345")
    assert "đừng gửi mật khẩu" in replies[0]["text"]
    with session_scope() as session:
        stored = " ".join(session.scalars(select(Message.text)).all())
    assert "079123456789" not in stored and "Abc@12345" not in stored
    tracker = create_engine(get_settings().tracker_url)
    with tracker.connect() as connection:
        ring = crypto.current_ring()
        events = " ".join(ring.decrypt(row[0]) for row in connection.execute(text("SELECT data FROM events")))
    assert "079123456789" not in events and "Abc@12345" not in events


def test_every_outbound_is_stored_and_marked_sent(chat):
    chat("làm căn cước cần giấy tờ gì")
    with session_scope() as session:
        rows = session.scalars(
            select(Message)
            .join(Conversation)
            .join(Citizen)
            .where(Citizen.channel_user_id == chat.sender, Message.direction == "out")
        ).all()
    assert rows and all(row.status == "sent" for row in rows)


def test_deletion_on_request_removes_app_rows_and_rasa_events(chat):
    chat("làm căn cước cần giấy tờ gì")
    with session_scope() as session:
        citizen = session.scalar(select(Citizen).where(Citizen.channel_user_id == chat.sender))
        conversation = session.scalar(select(Conversation).where(Conversation.citizen_id == citizen.id))
        old_conversation, old_sender = conversation.id, conversation.rasa_sender_id
    confirm = chat("Xóa dữ liệu của tôi")
    assert "không hoàn tác" in texts(confirm)
    assert "đã xóa" in texts(chat(button(confirm, "Xóa dữ liệu")))
    with session_scope() as session:  # nothing of the old conversation is left; the confirmation starts a new one
        left = session.scalars(select(Message.text).where(Message.conversation_id == old_conversation)).all()
        now = session.scalars(
            select(Message.text).join(Conversation).join(Citizen).where(Citizen.channel_user_id == chat.sender)
        ).all()
    assert left == [] and now == [FORGOTTEN]
    tracker = create_engine(get_settings().tracker_url)
    with tracker.connect() as connection:
        events = connection.execute(
            text("SELECT count(*) FROM events WHERE sender_id = :s"), {"s": old_sender}
        ).scalar()
    assert events == 0


def test_deletion_can_be_declined(chat):
    chat("làm căn cước cần giấy tờ gì")
    confirm = chat("xoá dữ liệu của tôi")
    assert "giữ nguyên" in texts(chat(button(confirm, "Không xóa")))
    assert "lệ phí" in texts(chat("còn lệ phí thì sao")).lower()


def test_health_and_readiness(gateway):
    assert gateway.get("/healthz").json() == {"status": "ok"}
    ready = gateway.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "rasa": "ok", "action_server": "ok"}


def test_structured_log_line_without_message_text(chat, stack):
    chat("lệ phí đăng ký kết hôn bao nhiêu")
    lines = (stack.log_dir / "gateway-0.log").read_text(encoding="utf-8").splitlines()
    turns = [
        json.loads(line[line.index("{") :]) for line in lines if '{"event": "turn"' in line
    ]  # after time, level, logger
    assert turns and {"conversation", "channel", "intent", "confidence", "actions", "latency_ms"} <= set(turns[-1])
    assert not any("đăng ký kết hôn" in line for line in lines)
