"""Answering what was asked, end to end through /api/chat with the real Rasa and action server:
the turn's decision (`about`), the fact asked, the facts the sources give, honest declines,
context, the form of address, and no silence while a volunteer is awaited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, update

from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, Handoff, Turn, Volunteer
from tests.integration.conftest import button, texts
from tests.integration.people import open_conversation

ABOUT_KEYS = {"procedure", "aspect", "outcome"}


@pytest.fixture
def ask(gateway):
    """A fresh citizen: ask("text") → the whole /api/chat response body."""
    sender = open_conversation(gateway)

    def send(text: str) -> dict:
        response = gateway.post("/api/chat", json={"sender_id": sender, "text": text})
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body["about"]) == ABOUT_KEYS, body  # in every 200 response, exactly these keys
        return body

    send.sender = sender
    return send


def stored_turns(sender: str) -> list[Turn]:
    with session_scope() as session:
        return list(
            session.scalars(
                select(Turn)
                .join(Conversation, Conversation.id == Turn.conversation_id)
                .join(Citizen, Citizen.id == Conversation.citizen_id)
                .where(Citizen.channel_user_id == sender)
                .order_by(Turn.id)
            )
        )


def test_every_turn_reports_and_stores_its_decision(ask):
    turns = [
        ask(text)["about"]
        for text in (
            "asdkjh qwe zzz",
            "xin chào",
            "làm căn cước mất bao lâu",
            "cảm ơn em",
            "thủ tục đăng ký sáng chế thế nào",
        )
    ]
    assert turns[0]["procedure"] is None and turns[0]["outcome"] in ("clarify", "other")
    assert turns[1] == {"procedure": None, "aspect": None, "outcome": "chitchat"}
    assert turns[2] == {"procedure": "can-cuoc", "aspect": "time", "outcome": "answer"}
    assert turns[3] == {"procedure": None, "aspect": None, "outcome": "chitchat"}
    assert turns[4] == {"procedure": None, "aspect": None, "outcome": "decline"}
    stored = [{"procedure": t.procedure, "aspect": t.aspect, "outcome": t.outcome} for t in stored_turns(ask.sender)]
    assert stored == turns


def test_a_fee_question_ending_in_thanks_is_answered(ask):
    body = ask("Cho tôi hỏi làm hộ chiếu phổ thông lệ phí bao nhiêu? Xin cảm ơn.")
    assert body["about"] == {"procedure": "ho-chieu", "aspect": "fee", "outcome": "answer"}
    assert "đồng" in texts(body["replies"]) and "không có gì" not in texts(body["replies"])


def test_where_to_go_for_a_birth_registration_is_not_dossier_tracking(ask):
    body = ask("làm khai sinh cho con thì phải đến đâu")
    assert body["about"] == {"procedure": "khai-sinh", "aspect": "where", "outcome": "answer"}


@pytest.mark.parametrize(
    "question, fact",
    [
        ("trong bao nhiêu ngày phải đi khai sinh cho con", "60 ngày"),
        ("nhà tôi cho thuê phòng, khách đến thì phải thông báo lưu trú trước mấy giờ", "23 giờ"),
    ],
)
def test_the_fact_asked_comes_first(ask, question, fact):
    first = ask(question)["replies"][0]["text"]
    assert first.startswith("Dạ") and fact in first


def test_online_level_is_never_claimed_beyond_the_sources(ask):
    for question in (
        "xin lý lịch tư pháp online được không",
        "đăng ký hộ kinh doanh nộp trực tuyến được không",
        "làm hộ chiếu online được không",
        "đổi bằng lái xe trực tuyến được không",
    ):
        said = texts(ask(question)["replies"])
        assert "hoàn toàn trực tuyến" not in said and "toàn trình" not in said.replace("chưa xác nhận", ""), question


def test_a_lost_id_card_is_reissued_online_with_the_last_biometrics(ask):
    said = texts(ask("tôi bị mất thẻ căn cước, làm lại có phải đi lấy sinh trắc học lại không")["replies"])
    assert "sinh trắc" in said and ("trực tuyến" in said or "online" in said)
    assert "phải thu nhận lại sinh trắc" not in said


def test_vneid_level_2_is_registered_at_the_commune_police(ask):
    body = ask("đăng ký định danh điện tử mức 2 ở đâu")
    said = texts(body["replies"])
    assert body["about"]["procedure"] == "vneid" and "công an cấp xã" in said.lower()
    assert "Trung tâm Phục vụ hành chính công TP.HCM" not in said


@pytest.mark.parametrize(
    "question",
    [
        "tôi muốn đăng ký kết hôn với người nước ngoài thì cần giấy tờ gì",
        "học lái xe ô tô lần đầu thì đăng ký ở đâu",
        "tôi muốn kiện hàng xóm ra tòa vì lấn đất",
        "lương hưu của tôi tính thế nào",
    ],
)
def test_near_neighbours_and_other_topics_are_declined_by_name(ask, question):
    body = ask(question)
    assert body["about"] == {"procedure": None, "aspect": None, "outcome": "decline"}
    said = texts(body["replies"])
    assert "chưa có hướng dẫn" in said and "dichvucong.gov.vn" in said
    button(body["replies"], "Gặp tình nguyện viên")


def test_an_aspect_only_follow_up_stays_on_the_procedure_and_a_story_does_not_switch_it(ask):
    ask("đăng ký thường trú cần giấy tờ gì")
    assert ask("còn lệ phí?")["about"] == {"procedure": "thuong-tru", "aspect": "fee", "outcome": "answer"}
    story = "Hồi trước nhà em đi làm giấy khai sinh cho bé mất cả buổi. Giờ cái này nộp ở đâu ạ?"
    assert ask(story)["about"] == {"procedure": "thuong-tru", "aspect": "where", "outcome": "answer"}


@pytest.mark.parametrize("word", ["tiếp tục", "làm tiếp", "tiếp"])
def test_a_stopped_guide_resumes(ask, word):
    replies = ask("hướng dẫn tôi đăng ký khai sinh trực tuyến")["replies"]
    ask(button(replies, "Bắt đầu"))
    ask("dừng lại")
    body = ask(word)
    assert "Bước 1/6" in texts(body["replies"]) and body["about"]["outcome"] == "guide"


def test_elders_are_addressed_as_they_call_themselves(ask):
    said = texts(ask("cho chú hỏi làm căn cước cần giấy tờ gì")["replies"])
    assert "chú" in said and "anh/chị" not in said.lower()
    assert "anh/chị" not in texts(ask("còn lệ phí thì sao")["replies"]).lower()  # kept for the conversation


def test_an_age_of_fifty_or_more_is_addressed_as_co_chu(ask):
    said = texts(ask("tôi năm nay 62 tuổi, muốn đổi thẻ căn cước thì cần gì")["replies"]).lower()
    assert "cô/chú" in said and "anh/chị" not in said


def test_a_question_in_english_gets_one_english_line(ask):
    replies = ask("What documents do I need to register a birth?")["replies"]
    assert replies[0]["text"].isascii() and "Vietnamese" in replies[0]["text"]
    assert "Giấy chứng sinh" in texts(replies[1:])


def test_a_waiting_citizen_is_never_left_in_silence(ask, loaded_db):
    with session_scope() as session:
        session.execute(update(Volunteer).values(online=False))
    assert ask("cho tôi gặp tình nguyện viên")["about"]["outcome"] == "handoff"
    first = ask("tôi cần hỏi về sổ đỏ")
    assert first["about"] == {"procedure": None, "aspect": None, "outcome": "handoff"}
    assert "ghi lại tin nhắn" in texts(first["replies"])
    assert ask("còn đó không")["replies"] == []  # acknowledged a moment ago: no repeat
    with session_scope() as session:  # a minute later, the next message is acknowledged again
        handoff = session.scalars(
            select(Handoff)
            .join(Conversation, Conversation.id == Handoff.conversation_id)
            .join(Citizen, Citizen.id == Conversation.citizen_id)
            .where(Citizen.channel_user_id == ask.sender)
        ).one()
        handoff.citizen_told_waiting_at -= dt.timedelta(seconds=61)
    assert "ghi lại tin nhắn" in texts(ask("có ai không ạ")["replies"])


@pytest.mark.parametrize("text", ["?", "ừm", "ok", "hả", "123", "...", "không hiểu", "thôi", "em ơi", "😀", "cảm ơn"])
def test_a_bot_held_conversation_never_answers_with_nothing(ask, text):
    body = ask(text)
    assert body["replies"] and all(r["text"] for r in body["replies"]), text
