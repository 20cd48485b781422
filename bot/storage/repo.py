"""Database access for the router and channels: small functions over one session."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.messages import Button, Inbound, Outbound
from bot.storage.models import (
    ButtonKey,
    ChannelEvent,
    Citizen,
    Conversation,
    GuideEvent,
    Message,
    Owner,
    Turn,
    as_utc,
    utcnow,
)

BUTTON_KEY_PREFIX = "b_"
# Zalo's answer windows are counted in hours: a last-message time up to a minute old is exact
# enough, and spares a write per message in a lively chat (it can only close a window earlier).
INBOUND_STAMP_STEP = dt.timedelta(minutes=1)


def conversation_for(session: Session, channel: str, user_id: str, inbound: bool = True) -> Conversation:
    """The citizen's conversation on this channel, created on first contact."""
    found = session.execute(  # the citizen and their latest conversation, in one query
        select(Citizen, Conversation)
        .outerjoin(Conversation, Conversation.citizen_id == Citizen.id)
        .where(Citizen.channel == channel, Citizen.channel_user_id == user_id)
        .order_by(Conversation.id.desc())
        .limit(1)
    ).first()
    citizen, conversation = found if found is not None else (None, None)
    if citizen is None:
        citizen = Citizen(channel=channel, channel_user_id=user_id)
        session.add(citizen)
        session.flush()
    if inbound:
        now = utcnow()
        if citizen.last_inbound_at is None or now - as_utc(citizen.last_inbound_at) >= INBOUND_STAMP_STEP:
            citizen.last_inbound_at = now
    return conversation or new_conversation(session, citizen.id)


def new_conversation(session: Session, citizen_id: int) -> Conversation:
    """A fresh conversation (and Rasa tracker) for a citizen: first contact, or after a close."""
    conversation = Conversation(citizen_id=citizen_id, rasa_sender_id=uuid.uuid4().hex)
    session.add(conversation)
    session.flush()
    return conversation


def close_if_bot_holds(session: Session, conversation_id: int) -> None:
    """Close a conversation the bot holds (one a volunteer claimed meanwhile stays theirs)."""
    session.execute(
        update(Conversation)
        .where(Conversation.id == conversation_id, Conversation.owner == Owner.bot)
        .values(owner=Owner.closed)
    )


def record_inbound(
    session: Session, conversation: Conversation, inbound: Inbound, text: str, masked: Iterable[str]
) -> int | None:
    """Store an inbound message and return its id; None when the channel already delivered this
    message id from this citizen (in any of their conversations)."""
    store = (
        insert(Message)
        .values(
            conversation_id=conversation.id,
            citizen_id=conversation.citizen_id,
            direction="in",
            channel=inbound.channel,
            channel_message_id=inbound.message_id,
            author="citizen",
            text=text,
            masked=sorted(masked),
            status="received",
            media={"kind": inbound.media, "ref": inbound.media_ref} if inbound.media else None,
        )
        .returning(Message.id)
    )
    if inbound.message_id is None:  # nothing to be a duplicate of
        return session.scalar(store)
    try:
        with session.begin_nested():
            return session.scalar(store)
    except IntegrityError:
        return None


def find_inbound(session: Session, citizen_id: int, channel_message_id: str) -> Message | None:
    """The citizen's own earlier message with this channel id: another citizen's is never theirs."""
    return session.scalar(
        select(Message).where(
            Message.citizen_id == citizen_id,
            Message.direction == "in",
            Message.channel_message_id == channel_message_id,
        )
    )


def replies_to(session: Session, inbound: Message) -> list[Message]:
    """The bot's replies stored after an inbound message, up to the citizen's next message (read
    alone: a retry of an early message must not read the rest of a long conversation)."""
    same_conversation = (Message.conversation_id == inbound.conversation_id, Message.id > inbound.id)
    next_inbound = select(func.min(Message.id)).where(*same_conversation, Message.direction == "in").scalar_subquery()
    return list(
        session.scalars(
            select(Message)
            .where(*same_conversation, or_(next_inbound.is_(None), Message.id < next_inbound))
            .order_by(Message.id)
        )
    )


def pending_outbound(session: Session, channel: str, user_id: str, *narrower) -> list[Message]:
    """Messages to a citizen not delivered yet (their chat was closed when they were written), oldest
    first; `narrower` adds conditions."""
    return list(
        session.scalars(
            select(Message)
            .join(Conversation)
            .join(Citizen)
            .where(
                Citizen.channel == channel,
                Citizen.channel_user_id == user_id,
                Message.direction == "out",
                Message.status == "pending",
                *narrower,
            )
            .order_by(Message.id)
        )
    )


def earlier_unsent(
    session: Session,
    channel: str,
    user_id: str,
    before_id: int,
    *,
    written_after: dt.datetime,
    written_before: dt.datetime,
) -> list[Message]:
    """Messages to a citizen written before `before_id`, between the two times, and still pending
    (a gateway died between storing and sending them, or a send failed). Oldest first."""
    return pending_outbound(
        session,
        channel,
        user_id,
        Message.id < before_id,
        Message.created_at > written_after,
        Message.created_at < written_before,
    )


def undelivered(
    session: Session, channel: str, written_before: dt.datetime, written_after: dt.datetime
) -> list[tuple[Message, str]]:
    """Messages a push channel has not delivered yet (a transient failure outlasted the retries),
    with the citizen's id on that channel."""
    return [
        tuple(row)
        for row in session.execute(
            select(Message, Citizen.channel_user_id)
            .select_from(Message)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .join(Citizen, Conversation.citizen_id == Citizen.id)
            .where(
                Message.channel == channel,
                Message.direction == "out",
                Message.status == "pending",
                Message.created_at < written_before,
                Message.created_at > written_after,
            )
            .order_by(Message.id)
        )
    ]


def acknowledge_outbound(session: Session, channel: str, user_id: str, message_ids: list[int]) -> int:
    """Mark sent those of `message_ids` that are pending messages to this citizen; another
    citizen's ids change nothing. Returns how many changed."""
    theirs = (
        select(Conversation.id)
        .join(Citizen, Conversation.citizen_id == Citizen.id)
        .where(Citizen.channel == channel, Citizen.channel_user_id == user_id)
    )
    return session.execute(
        update(Message)
        .where(
            Message.id.in_(message_ids),
            Message.conversation_id.in_(theirs),
            Message.direction == "out",
            Message.status == "pending",
        )
        .values(status="sent")
        .execution_options(synchronize_session=False)
    ).rowcount


def defer(session: Session, message_id: int, rasa_request: dict) -> None:
    """Keep an inbound message for Rasa to answer later, with what Rasa is to be asked."""
    session.execute(
        update(Message).where(Message.id == message_id).values(status="deferred", rasa_request=rasa_request)
    )


def claim_deferred(session: Session, message_id: int) -> bool:
    """Take a deferred message as answered; False when another process answered it first."""
    return bool(
        session.execute(
            update(Message)
            .where(Message.id == message_id, Message.status == "deferred")
            .values(status="processed", rasa_request=None)
        ).rowcount
    )


def citizens_with_deferred(session: Session, channels: Iterable[str], limit: int) -> list[tuple[str, str]]:
    """(channel, user id) of citizens whose messages wait for Rasa, longest waiting first."""
    return [
        tuple(row)
        for row in session.execute(
            select(Citizen.channel, Citizen.channel_user_id)
            .join(Message, Message.citizen_id == Citizen.id)
            .where(Message.direction == "in", Message.status == "deferred", Citizen.channel.in_(list(channels)))
            .group_by(Citizen.id, Citizen.channel, Citizen.channel_user_id)
            .order_by(func.min(Message.id))
            .limit(limit)
        )
    ]


def deferred_of(session: Session, channel: str, user_id: str) -> list:
    """A citizen's messages waiting for Rasa, oldest first: (message id, Rasa request, conversation
    id, Rasa sender id, owner, form of address)."""
    return list(
        session.execute(
            select(
                Message.id,
                Message.rasa_request,
                Conversation.id,
                Conversation.rasa_sender_id,
                Conversation.owner,
                Conversation.address_as,
            )
            .join(Conversation, Message.conversation_id == Conversation.id)
            .join(Citizen, Message.citizen_id == Citizen.id)
            .where(
                Citizen.channel == channel,
                Citizen.channel_user_id == user_id,
                Message.direction == "in",
                Message.status == "deferred",
            )
            .order_by(Message.id)
        )
    )


def set_status(session: Session, message_ids: Iterable[int], status: str) -> None:
    ids = list(message_ids)
    if ids:
        session.execute(update(Message).where(Message.id.in_(ids)).values(status=status))


def button_for(session: Session, conversation_id: int, key: str) -> ButtonKey | None:
    """The button a pressed key stands for; typed text (anything not shaped like a key) is not looked up."""
    row = session.get(ButtonKey, key) if key.startswith(BUTTON_KEY_PREFIX) and len(key) <= 24 else None
    return row if row is not None and row.conversation_id == conversation_id else None


def with_button_keys(session: Session, conversation_id: int, replies: list[Outbound]) -> list[Outbound]:
    """Replace Rasa's intent payloads by opaque keys issued to this conversation."""
    keyed, rows = [], []
    for outbound in replies:
        buttons = []
        for button in outbound.buttons:
            key = BUTTON_KEY_PREFIX + secrets.token_urlsafe(9)
            rows.append(
                {
                    "key": key,
                    "conversation_id": conversation_id,
                    "title": button.title,
                    "intent_payload": button.payload,
                }
            )
            buttons.append(Button(button.title, key))
        keyed.append(Outbound(outbound.text, tuple(buttons), outbound.author))
    if rows:
        session.execute(insert(ButtonKey), rows)
    return keyed


def record_outbound(
    session: Session, conversation_id: int, channel: str, replies: list[Outbound], status: str = "pending"
) -> list[int]:
    """Store outgoing messages with one statement; returns their ids, in order."""
    if not replies:
        return []
    rows = [
        {
            "conversation_id": conversation_id,
            "direction": "out",
            "channel": channel,
            "author": outbound.author,
            "text": outbound.text,
            "buttons": [b.as_dict() for b in outbound.buttons],
            "status": status,
        }
        for outbound in replies
    ]
    return list(session.scalars(insert(Message).returning(Message.id, sort_by_parameter_order=True), rows))


def record_turn(
    session: Session, conversation_id: int, message_id: int, about: dict, turn=None, latency_ms: int | None = None
) -> None:
    """The turn's decision, and what Rasa made of the message when Rasa was asked."""
    rasa = (
        {"intent": turn.intent, "confidence": turn.confidence, "entities": turn.entities, "actions": turn.actions}
        if turn is not None
        else {}
    )
    session.execute(
        insert(Turn).values(
            conversation_id=conversation_id,
            message_id=message_id,
            procedure=about["procedure"],
            aspect=about["aspect"],
            outcome=about["outcome"],
            latency_ms=latency_ms,
            **rasa,
        )
    )


def about_of(session: Session, message_id: int) -> dict | None:
    """The stored decision on an inbound message (for a channel's retry), if one was made."""
    turn = session.scalar(select(Turn).where(Turn.message_id == message_id))
    if turn is None or turn.outcome is None:
        return None
    return {"procedure": turn.procedure, "aspect": turn.aspect, "outcome": turn.outcome}


def as_outbound(message: Message) -> Outbound:
    return Outbound(message.text, tuple(Button(b["title"], b["payload"]) for b in message.buttons), message.author)


def record_guide_event(session: Session, rasa_sender_id: str, slug: str, event) -> None:
    session.add(
        GuideEvent(
            rasa_sender_id=rasa_sender_id,
            slug=slug,
            step=event.step,
            event=event.name,
            detail=(event.detail or None) and event.detail[:200],
        )
    )


def accept_event(session: Session, channel: str, event_id: str, payload: dict, sender: str | None) -> int | None:
    """Store a webhook event before it is processed; the stored row to process, or None when the
    channel delivered it before and it was processed (a row stored but never processed is
    returned again: the process that took it may have died)."""
    try:
        with session.begin_nested():
            event = ChannelEvent(channel=channel, event_id=event_id, payload=payload, sender=sender)
            session.add(event)
    except IntegrityError:
        return session.scalar(
            select(ChannelEvent.id).where(
                ChannelEvent.channel == channel, ChannelEvent.event_id == event_id, ChannelEvent.processed_at.is_(None)
            )
        )
    return event.id


def unprocessed_events(session: Session, channel: str) -> list[ChannelEvent]:
    """Events stored but never processed (the process stopped in between)."""
    return list(
        session.scalars(
            select(ChannelEvent)
            .where(ChannelEvent.channel == channel, ChannelEvent.processed_at.is_(None))
            .order_by(ChannelEvent.id)
        )
    )


def earlier_event_unprocessed(session: Session, channel: str, sender: str, row_id: int) -> bool:
    """An event of this sender stored before this one is not processed yet (it is in progress on
    some replica, or its gateway died)."""
    earlier = select(ChannelEvent.id).where(
        ChannelEvent.channel == channel,
        ChannelEvent.sender == sender,
        ChannelEvent.id < row_id,
        ChannelEvent.processed_at.is_(None),
    )
    return session.scalar(earlier.limit(1)) is not None


def finish_event(session: Session, event_id: int, error: str | None = None) -> None:
    """Processed: only the id is kept (for idempotency); what the citizen wrote lives in `messages`."""
    session.execute(
        update(ChannelEvent)
        .where(ChannelEvent.id == event_id)
        .values(processed_at=utcnow(), payload={}, sender=None, error=error and error[:2000])
    )
