"""A citizen's right to have their conversation deleted, and the retention limit.

Both delete from the app database and from Rasa's tracker store (`bot.rasa_client` knows how).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, exists, func, select, update
from sqlalchemy.orm import Session

from bot.handoff import notices
from bot.rasa_client import delete_tracker_events
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import (
    ButtonKey,
    ChannelEvent,
    Citizen,
    Conversation,
    FaqDraft,
    GuideEvent,
    Handoff,
    HandoffAssignment,
    HandoffNote,
    Message,
    Turn,
)
from bot.text import normalize

DELETE_REQUESTS = frozenset(
    normalize(t)
    for t in (
        "xóa dữ liệu của tôi",
        "xóa dữ liệu",
        "xóa dữ liệu của em",
        "xóa dữ liệu của mình",
        "xóa thông tin của tôi",
        "xóa cuộc trò chuyện",
        "xóa lịch sử trò chuyện",
    )
)
FORGET, KEEP = "@forget", "@keep"  # app commands carried by button keys, never sent to Rasa


def is_delete_request(normalized_text: str) -> bool:
    return normalized_text in DELETE_REQUESTS


def _delete_conversations(session: Session, conversation_ids: list[int]) -> None:
    handoffs = select(Handoff.id).where(Handoff.conversation_id.in_(conversation_ids))
    for handoff_part in (HandoffNote, HandoffAssignment):
        session.execute(delete(handoff_part).where(handoff_part.handoff_id.in_(handoffs)))
    notices.mark_for_deleted_handoffs(session, handoffs)
    # A FAQ draft quotes the citizen's question; staff's decisions on messages go with them (FK cascade).
    for model in (FaqDraft, Handoff, Turn, ButtonKey, Message):
        session.execute(delete(model).where(model.conversation_id.in_(conversation_ids)))
    senders = select(Conversation.rasa_sender_id).where(Conversation.id.in_(conversation_ids))
    session.execute(delete(GuideEvent).where(GuideEvent.rasa_sender_id.in_(senders)))
    session.execute(delete(Conversation).where(Conversation.id.in_(conversation_ids)))


def forget_citizen(channel: str, user_id: str) -> int:
    """Delete everything stored about one citizen; returns how many conversations went."""
    with session_scope() as session:
        citizen = session.scalar(select(Citizen).where(Citizen.channel == channel, Citizen.channel_user_id == user_id))
        if citizen is None:
            return 0
        conversations = session.scalars(select(Conversation).where(Conversation.citizen_id == citizen.id)).all()
        senders = [c.rasa_sender_id for c in conversations]
        _delete_conversations(session, [c.id for c in conversations])
        session.delete(citizen)
    delete_tracker_events(senders)
    return len(senders)


def _delete_expired_citizens(session: Session, cutoff: dt.datetime) -> None:
    """Conversations quiet since the cutoff whose messages are all gone, then citizens left with no
    conversation. A conversation a volunteer took part in stays with its handoff, for the report."""
    expired = session.scalars(
        select(Conversation.id).where(
            Conversation.updated_at < cutoff,
            ~exists().where(Message.conversation_id == Conversation.id),
            ~exists().where(Handoff.conversation_id == Conversation.id),
        )
    ).all()
    _delete_conversations(session, list(expired))
    session.execute(
        delete(Citizen).where(
            func.coalesce(Citizen.last_inbound_at, Citizen.created_at) < cutoff,
            ~exists().where(Conversation.citizen_id == Citizen.id),
        )
    )


def purge_expired(now: dt.datetime | None = None) -> tuple[int, int]:
    """Delete messages (and staff's inbox decisions on them), the transcripts, notes and FAQ drafts
    of handoffs, guide events, webhook events, Rasa
    events, then conversations and citizens left empty, older than the retention period. The
    volunteers' activity (who held what, how long, the rating) holds no text and stays for the
    monthly report."""
    now = now or dt.datetime.now(dt.timezone.utc)
    cutoff = now - dt.timedelta(days=get_settings().retention_days)
    with session_scope() as session:
        stale = select(Message.id).where(Message.created_at < cutoff)
        session.execute(delete(Turn).where(Turn.message_id.in_(stale)))
        messages = session.execute(delete(Message).where(Message.created_at < cutoff)).rowcount
        session.execute(delete(ButtonKey).where(ButtonKey.created_at < cutoff))
        session.execute(delete(HandoffNote).where(HandoffNote.created_at < cutoff))
        session.execute(delete(FaqDraft).where(FaqDraft.created_at < cutoff))
        notices.mark_older_than(session, cutoff)
        session.execute(update(Handoff).where(Handoff.requested_at < cutoff).values(packet={}))
        session.execute(delete(ChannelEvent).where(ChannelEvent.received_at < cutoff))
        session.execute(delete(GuideEvent).where(GuideEvent.created_at < cutoff))
        _delete_expired_citizens(session, cutoff)
    return messages, delete_tracker_events([], before=cutoff.timestamp())
