"""The handoff state machine: who holds a conversation, and every change of it.

    bot ──request──▶ queued ──claim──▶ human ──hand_back──▶ bot
                       ▲  ◀─release/expire─┘ │ └─transfer─▶ human (another volunteer)
          cancel ◀─────┘                     └──close──▶ closed

Each transition is one transaction that moves the conversation's owner and the handoff row
together (a claim is a conditional UPDATE, so of two volunteers exactly one wins), then emits a
`HandoffChanged` event. Telling the citizen, pausing Rasa, notifying volunteers and counting are
the listeners' business, never this module's.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.events import EventBus, HandoffChanged
from bot.handoff.desk import Availability, availability
from bot.settings import Settings
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import (
    Citizen,
    Conversation,
    Handoff,
    HandoffAssignment,
    HandoffNote,
    Message,
    Owner,
    Volunteer,
    as_utc,
    utcnow,
)

REASONS = {
    "citizen_request": "Người dân muốn gặp tình nguyện viên",
    "stuck": "Bị kẹt khi làm theo hướng dẫn",
    "repeated_fallback": "Trợ lý ảo không hiểu hai lần liền",
    "complaint": "Người dân phàn nàn, góp ý",
}
OUTCOMES = {
    "resolved": "Đã giải đáp xong",
    "submitted": "Người dân đã tự nộp được hồ sơ",
    "referred": "Hướng dẫn đến cơ quan giải quyết",
    "no_reply": "Người dân không phản hồi",
    "other": "Khác",
}
ENDED_BY_CITIZEN = "other"  # the outcome of a held handoff the citizen ended ("Kết thúc trò chuyện")
TRANSCRIPT_MESSAGES = 12
OPEN = ("queued", "claimed")


class HandoffError(Exception):
    status = 400


class NotFound(HandoffError):
    status = 404


class NotAllowed(HandoffError):
    status = 403


class Conflict(HandoffError):
    status = 409


@dataclass(frozen=True)
class Requested:
    handoff_id: int
    availability: Availability


def transcript(session: Session, conversation_id: int, limit: int = TRANSCRIPT_MESSAGES) -> list[dict]:
    """The latest messages, oldest first. Stored texts are already masked."""
    rows = session.scalars(
        select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id.desc()).limit(limit)
    ).all()
    return [{"author": m.author, "text": m.text, "at": as_utc(m.created_at).isoformat()} for m in reversed(rows)]


class Handoffs:
    def __init__(self, bus: EventBus, settings: Settings):
        self.bus = bus
        self.settings = settings

    async def request(
        self, conversation_id: int, reason: str, procedure: str | None = None, step: int | None = None
    ) -> Requested | None:
        """The bot asks for a volunteer. None when the conversation is not the bot's any more."""
        now = utcnow()
        with session_scope() as session:
            moved = session.execute(
                update(Conversation)
                .where(Conversation.id == conversation_id, Conversation.owner == Owner.bot)
                .values(owner=Owner.queued)
            ).rowcount
            if not moved:
                return None
            conversation = session.get(Conversation, conversation_id)
            handoff = Handoff(
                conversation_id=conversation_id,
                reason=reason if reason in REASONS else "citizen_request",
                channel=conversation.citizen.channel,
                procedure_slug=procedure,
                guide_step=step,
                packet={"transcript": transcript(session, conversation_id)},
                requested_at=now,
            )
            session.add(handoff)
            session.flush()
            desk = availability(session, self.settings, handoff, now)
            handoff.left_question = not desk.anybody
            event = self._event(session, "queued", handoff)
        await self.bus.emit(event)
        return Requested(handoff.id, desk)

    async def claim(self, handoff_id: int, volunteer_id: int) -> None:
        with session_scope() as session:
            won = session.execute(
                update(Handoff)
                .where(Handoff.id == handoff_id, Handoff.status == "queued")
                .values(status="claimed", volunteer_id=volunteer_id, claimed_at=utcnow(), last_volunteer_reply_at=None)
            ).rowcount
            if not won:
                raise Conflict("Dạ, yêu cầu này đã có tình nguyện viên khác nhận hoặc đã kết thúc.")
            handoff = session.get(Handoff, handoff_id)
            self._set_owner(session, handoff, Owner.human)
            session.add(HandoffAssignment(handoff_id=handoff_id, volunteer_id=volunteer_id))
            event = self._event(session, "claimed", handoff)
        await self.bus.emit(event)

    async def release(self, handoff_id: int, volunteer_id: int) -> None:
        await self._back_to_queue(handoff_id, volunteer_id, "released")

    async def expire_stale_claims(self, now: dt.datetime | None = None) -> list[int]:
        """Claims with no volunteer reply within `claim_expiry_minutes` go back to the queue."""
        now = now or utcnow()
        cutoff = now - dt.timedelta(minutes=self.settings.claim_expiry_minutes)
        with session_scope() as session:
            stale = session.scalars(
                select(Handoff.id).where(
                    Handoff.status == "claimed",
                    Handoff.claimed_at < cutoff,
                    (Handoff.last_volunteer_reply_at.is_(None)) | (Handoff.last_volunteer_reply_at < cutoff),
                )
            ).all()
        expired = []
        for handoff_id in stale:
            try:
                await self._back_to_queue(handoff_id, None, "expired", cutoff)
                expired.append(handoff_id)
            except HandoffError:  # the volunteer acted meanwhile
                continue
        return expired

    async def transfer(self, handoff_id: int, volunteer_id: int, to_volunteer_id: int) -> None:
        with session_scope() as session:
            handoff = self._held(session, handoff_id, volunteer_id)
            target = session.get(Volunteer, to_volunteer_id)
            if target is None or not target.active or to_volunteer_id == volunteer_id:
                raise NotFound("Không tìm thấy tình nguyện viên để chuyển.")
            previous = handoff.volunteer_id
            handoff.volunteer_id = to_volunteer_id
            handoff.claimed_at, handoff.last_volunteer_reply_at = utcnow(), None  # the new holder's expiry clock
            self._end_assignment(session, handoff_id, previous, "transferred")
            session.add(HandoffAssignment(handoff_id=handoff_id, volunteer_id=to_volunteer_id))
            event = self._event(session, "transferred", handoff, previous_volunteer_id=previous)
        await self.bus.emit(event)

    async def hand_back(self, handoff_id: int, volunteer_id: int, step: int | None) -> None:
        await self._finish(handoff_id, volunteer_id, "handed_back", Owner.bot, step=step)

    async def close(self, handoff_id: int, volunteer_id: int, outcome: str) -> None:
        if outcome not in OUTCOMES:
            raise HandoffError(f"Kết quả không hợp lệ: {outcome}")
        await self._finish(handoff_id, volunteer_id, "closed", Owner.closed, outcome=outcome)

    async def cancel(self, conversation_id: int) -> bool:
        """The citizen stops waiting before anybody claimed the request."""
        with session_scope() as session:
            handoff = session.scalar(
                select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status == "queued")
            )
            if handoff is None:
                return False
            cancelled = session.execute(
                update(Handoff)
                .where(Handoff.id == handoff.id, Handoff.status == "queued")
                .values(status="cancelled", ended_at=utcnow())
            ).rowcount
            if not cancelled:
                return False
            session.refresh(handoff)
            self._set_owner(session, handoff, Owner.bot)
            event = self._event(session, "cancelled", handoff)
        await self.bus.emit(event)
        return True

    async def citizen_ended(self, conversation_id: int) -> None:
        """The citizen ended the conversation (a shared device such as a kiosk): a wait is cancelled,
        a volunteer holding it sees it closed, and the conversation closes so the next message
        starts afresh."""
        with session_scope() as session:
            handoff = self.open_handoff(session, conversation_id)
            holder = (handoff.id, handoff.volunteer_id) if handoff is not None and handoff.status == "claimed" else None
        await self.cancel(conversation_id)
        if holder is not None:
            try:
                await self.close(*holder, ENDED_BY_CITIZEN)
            except HandoffError:  # the volunteer handed it back or closed it meanwhile
                pass
        with session_scope() as session:
            repo.close_if_bot_holds(session, conversation_id)

    def record_reply(self, session: Session, handoff_id: int, volunteer_id: int) -> Handoff:
        """A volunteer's message: only the holder may write; it also stops the expiry clock."""
        handoff = self._held(session, handoff_id, volunteer_id)
        handoff.last_volunteer_reply_at = utcnow()
        return handoff

    def add_note(self, session: Session, handoff_id: int, volunteer_id: int, text: str) -> HandoffNote:
        if session.get(Handoff, handoff_id) is None:
            raise NotFound("Không tìm thấy yêu cầu hỗ trợ.")
        note = HandoffNote(handoff_id=handoff_id, volunteer_id=volunteer_id, text=text)
        session.add(note)
        session.flush()
        return note

    @staticmethod
    def rate(handoff_id: int, conversation_id: int, rating: int) -> bool:
        """The citizen's 1–5 rating of the help, once the volunteer has left."""
        if not 1 <= rating <= 5:
            return False
        with session_scope() as session:
            return bool(
                session.execute(
                    update(Handoff)
                    .where(
                        Handoff.id == handoff_id,
                        Handoff.conversation_id == conversation_id,
                        Handoff.status.in_(("handed_back", "closed")),
                    )
                    .values(rating=rating)
                ).rowcount
            )

    @staticmethod
    def open_handoff(session: Session, conversation_id: int) -> Handoff | None:
        return session.scalar(
            select(Handoff)
            .where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN))
            .order_by(Handoff.id.desc())
        )

    async def _back_to_queue(
        self, handoff_id: int, volunteer_id: int | None, kind: str, stale_before: dt.datetime | None = None
    ) -> None:
        with session_scope() as session:
            condition = [Handoff.id == handoff_id, Handoff.status == "claimed"]
            if volunteer_id is not None:
                condition.append(Handoff.volunteer_id == volunteer_id)
            if stale_before is not None:  # re-checked inside the update: a reply may have just landed
                condition += [
                    Handoff.claimed_at < stale_before,
                    (Handoff.last_volunteer_reply_at.is_(None)) | (Handoff.last_volunteer_reply_at < stale_before),
                ]
            previous = session.scalar(select(Handoff.volunteer_id).where(Handoff.id == handoff_id))
            moved = session.execute(
                update(Handoff).where(*condition).values(status="queued", volunteer_id=None, claimed_at=None)
            ).rowcount
            if not moved:
                raise NotAllowed("Dạ, anh/chị không còn giữ yêu cầu này.")
            handoff = session.get(Handoff, handoff_id)
            session.refresh(handoff)
            handoff.left_question |= not availability(session, self.settings, handoff, utcnow()).anybody
            self._set_owner(session, handoff, Owner.queued)
            self._end_assignment(session, handoff_id, previous, kind)
            event = self._event(session, kind, handoff, previous_volunteer_id=previous)
        await self.bus.emit(event)

    async def _finish(
        self,
        handoff_id: int,
        volunteer_id: int,
        status: str,
        owner: Owner,
        step: int | None = None,
        outcome: str | None = None,
    ) -> None:
        with session_scope() as session:
            handoff = self._held(session, handoff_id, volunteer_id)
            handoff.status, handoff.ended_at, handoff.outcome = status, utcnow(), outcome
            self._set_owner(session, handoff, owner)
            self._end_assignment(session, handoff_id, volunteer_id, status)
            event = self._event(session, status, handoff, previous_volunteer_id=volunteer_id, step=step)
        await self.bus.emit(event)

    @staticmethod
    def _held(session: Session, handoff_id: int, volunteer_id: int) -> Handoff:
        handoff = session.get(Handoff, handoff_id, with_for_update=True)
        if handoff is None:
            raise NotFound("Không tìm thấy yêu cầu hỗ trợ.")
        if handoff.status != "claimed" or handoff.volunteer_id != volunteer_id:
            raise NotAllowed("Dạ, anh/chị không còn giữ yêu cầu này.")
        return handoff

    @staticmethod
    def _set_owner(session: Session, handoff: Handoff, owner: Owner) -> None:
        session.execute(update(Conversation).where(Conversation.id == handoff.conversation_id).values(owner=owner))

    @staticmethod
    def _end_assignment(session: Session, handoff_id: int, volunteer_id: int | None, reason: str) -> None:
        if volunteer_id is None:
            return
        session.execute(
            update(HandoffAssignment)
            .where(
                HandoffAssignment.handoff_id == handoff_id,
                HandoffAssignment.volunteer_id == volunteer_id,
                HandoffAssignment.ended_at.is_(None),
            )
            .values(ended_at=utcnow(), end_reason=reason)
        )

    @staticmethod
    def _event(
        session: Session, kind: str, handoff: Handoff, previous_volunteer_id: int | None = None, step: int | None = None
    ) -> HandoffChanged:
        conversation = session.get(Conversation, handoff.conversation_id)
        citizen = session.get(Citizen, conversation.citizen_id)

        def name_of(volunteer_id: int | None) -> str | None:
            volunteer = session.get(Volunteer, volunteer_id) if volunteer_id else None
            return volunteer.display_name if volunteer else None

        return HandoffChanged(
            kind=kind,
            handoff_id=handoff.id,
            conversation_id=conversation.id,
            channel=citizen.channel,
            user_id=citizen.channel_user_id,
            rasa_sender_id=conversation.rasa_sender_id,
            reason=handoff.reason,
            volunteer_name=name_of(handoff.volunteer_id) if handoff.status == "claimed" else None,
            previous_volunteer_name=name_of(previous_volunteer_id),
            procedure_slug=handoff.procedure_slug,
            step=step,
        )
