"""Volunteer notices (posted by a channel, e.g. bot.channels.telegram_volunteers): what they say,
and the notices kept until they are neutral.

A notice quotes the citizen (masked, contacts too), so it is kept here until its channel edits it
to a neutral line: when its handoff ends, or once marked because the citizen's data was deleted or
reached retention.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from bot.handoff.service import REASONS
from bot.storage.db import session_scope
from bot.storage.models import Handoff, KnowledgeEntry, Message, TelegramNotice, Volunteer
from bot.text.masking import mask_contacts

PREVIEW_CHARS = 200
RECENT_MESSAGES = 3
NEUTRAL = "Yêu cầu hỗ trợ #{number} đã kết thúc."


@dataclass(frozen=True)
class PostedNotice:
    id: int
    chat_id: str
    message_id: int
    handoff_number: int  # the "#N" the notice shows, kept when its handoff is deleted

    @property
    def neutral_text(self) -> str:
        return NEUTRAL.format(number=self.handoff_number)


def _posted(rows) -> list[PostedNotice]:
    return [PostedNotice(row.id, row.chat_id, row.message_id, row.handoff_number) for row in rows]


def text_for(handoff_id: int) -> str:
    """The notice of a request: why, where, which procedure and step, the citizen's last messages."""
    with session_scope() as session:
        handoff = session.get(Handoff, handoff_id)
        recent = session.scalars(
            select(Message.text)
            .where(Message.conversation_id == handoff.conversation_id, Message.direction == "in")
            .order_by(Message.id.desc())
            .limit(RECENT_MESSAGES)
        ).all()
        entry = session.get(KnowledgeEntry, handoff.procedure_slug) if handoff.procedure_slug else None
        lines = [
            f"Yêu cầu hỗ trợ #{handoff.id}",
            f"Lý do: {REASONS.get(handoff.reason, handoff.reason)}",
            f"Kênh: {handoff.channel}",
        ]
        if entry is not None:
            lines.append(f"Thủ tục: {entry.title}" + (f" (bước {handoff.guide_step})" if handoff.guide_step else ""))
    if recent:  # stored texts have their secrets masked; a group chat gets no phone or email either
        lines.append("Tin nhắn gần đây:")
        lines += [f"- {mask_contacts(text)[:PREVIEW_CHARS]}" for text in reversed(recent)]
    return "\n".join(lines)


def remember(handoff_id: int, chat_id: str, message_id: int) -> None:
    """A notice the channel posted, kept until it is neutral."""
    with session_scope() as session:
        session.add(
            TelegramNotice(handoff_id=handoff_id, handoff_number=handoff_id, chat_id=chat_id, message_id=message_id)
        )


def of_handoff(handoff_id: int) -> list[PostedNotice]:
    with session_scope() as session:
        return _posted(session.scalars(select(TelegramNotice).where(TelegramNotice.handoff_id == handoff_id)))


def to_neutralise() -> list[PostedNotice]:
    """Notices of ended handoffs, or marked, oldest first."""
    with session_scope() as session:
        return _posted(
            session.scalars(
                select(TelegramNotice)
                .outerjoin(Handoff, Handoff.id == TelegramNotice.handoff_id)
                .where(or_(TelegramNotice.neutralise, Handoff.ended_at.is_not(None)))
                .order_by(TelegramNotice.id)
            )
        )


def forget(notice_id: int) -> None:
    """The notice is neutral now (or cannot be edited any more): nothing of it is kept."""
    with session_scope() as session:
        session.execute(delete(TelegramNotice).where(TelegramNotice.id == notice_id))


# Deleting a citizen's data or applying retention runs without network, so their notices are
# marked for the channel to edit to a neutral text (its sweep), never just forgotten.


def mark_for_deleted_handoffs(session: Session, handoffs) -> None:
    """`handoffs` (ids, or a select of them) are being deleted: their notices stay, detached."""
    _mark(session, TelegramNotice.handoff_id.in_(handoffs), handoff_id=None)


def mark_older_than(session: Session, cutoff: dt.datetime) -> None:
    _mark(session, TelegramNotice.created_at < cutoff)


def _mark(session: Session, which, **values) -> None:
    session.execute(update(TelegramNotice).where(which).values(neutralise=True, **values))


def linked_volunteer(telegram_user_id: str) -> int | None:
    """The active volunteer whose account is linked to this Telegram user, who may claim from a notice."""
    with session_scope() as session:
        return session.scalar(
            select(Volunteer.id).where(Volunteer.telegram_user_id == telegram_user_id, Volunteer.active.is_(True))
        )
