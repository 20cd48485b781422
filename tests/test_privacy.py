"""Retention: old conversation text goes everywhere it was kept; the volunteers' activity stays."""

import datetime as dt

from sqlalchemy import select

from bot.console import auth
from bot.privacy import purge_expired
from bot.storage.db import session_scope
from bot.storage.models import (
    ChannelEvent,
    Citizen,
    Conversation,
    Handoff,
    HandoffAssignment,
    HandoffNote,
    Message,
    utcnow,
)


def test_purge_removes_old_text_and_keeps_activity(loaded_db):
    now = utcnow()
    long_ago = now - dt.timedelta(days=loaded_db.retention_days + 1)
    with session_scope() as session:
        citizen = Citizen(channel="web", channel_user_id="retention-citizen")
        session.add(citizen)
        session.flush()
        conversation = Conversation(citizen_id=citizen.id, rasa_sender_id="retention-sender")
        session.add(conversation)
        session.flush()
        volunteer = auth.create_account(session, "retention-volunteer", "Lan", "mật-khẩu-lưu-trữ")
        old = Message(
            conversation_id=conversation.id,
            direction="in",
            channel="web",
            author="citizen",
            text="câu hỏi cũ",
            status="processed",
            created_at=long_ago,
        )
        recent = Message(
            conversation_id=conversation.id,
            direction="in",
            channel="web",
            author="citizen",
            text="câu hỏi mới",
            status="processed",
            created_at=now,
        )
        handoff = Handoff(
            conversation_id=conversation.id,
            reason="stuck",
            channel="web",
            status="handed_back",
            packet={"transcript": [{"author": "citizen", "text": "câu hỏi cũ"}]},
            requested_at=long_ago,
            volunteer_id=volunteer.id,
            rating=5,
        )
        session.add_all([old, recent, handoff])
        session.flush()
        session.add_all(
            [
                HandoffNote(handoff_id=handoff.id, volunteer_id=volunteer.id, text="ghi chú cũ", created_at=long_ago),
                HandoffAssignment(
                    handoff_id=handoff.id, volunteer_id=volunteer.id, started_at=long_ago, ended_at=long_ago
                ),
                ChannelEvent(
                    channel="zalo", event_id="retention-old", payload={"message": {"text": "x"}}, received_at=long_ago
                ),
            ]
        )
    purge_expired(now)
    with session_scope() as session:
        texts = session.scalars(select(Message.text).where(Message.conversation_id == conversation.id)).all()
        assert texts == ["câu hỏi mới"]
        kept = session.get(Handoff, handoff.id)
        assert kept.packet == {} and kept.rating == 5
        assert session.scalars(select(HandoffNote).where(HandoffNote.handoff_id == handoff.id)).all() == []
        assert (
            len(session.scalars(select(HandoffAssignment).where(HandoffAssignment.handoff_id == handoff.id)).all()) == 1
        )
        assert session.scalar(select(ChannelEvent).where(ChannelEvent.event_id == "retention-old")) is None
