"""SQLAlchemy models of the app database. Texts stored here are already masked; what citizens and
volunteers wrote is also encrypted at rest (EncryptedText, EncryptedJSON: bot/storage/crypto.py)."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from bot.storage.crypto import EncryptedJSON, EncryptedText


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime) -> dt.datetime:
    """SQLite hands datetimes back without their zone; every stored time is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


# SQLite hands a deleted row's id to the next row unless the table is AUTOINCREMENT; these ids reach
# links (console, media, rating buttons) or other rows, so an old one must never name someone else's.
NEVER_REUSED_IDS = {"sqlite_autoincrement": True}


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON, dt.datetime: DateTime(timezone=True)}


class Owner(str, enum.Enum):
    """Who holds a conversation; the router reads it for every inbound message."""

    bot = "bot"
    queued = "queued"
    human = "human"
    closed = "closed"


class Citizen(Base):
    __tablename__ = "citizens"
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    channel_user_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_inbound_at: Mapped[dt.datetime | None]


class Conversation(Base):
    __tablename__ = "conversations"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    rasa_sender_id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[Owner] = mapped_column(Enum(Owner, native_enum=False, length=10), default=Owner.bot)
    address_as: Mapped[str | None] = mapped_column(String(10))  # "cô", "chú", "bác", "cô/chú": replaces "anh/chị"
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    citizen: Mapped[Citizen] = relationship()


class Message(Base):
    """Every inbound message before it is processed, every outbound one before it is sent."""

    __tablename__ = "messages"
    __table_args__ = (
        # A channel's message id is the citizen's: another citizen reusing it writes a new message.
        UniqueConstraint("citizen_id", "direction", "channel_message_id", name="uq_message_citizen_id"),
        Index("ix_messages_conversation_created", "conversation_id", "id"),
        Index("ix_messages_status", "status"),  # the few deferred ones are looked up every few seconds
        NEVER_REUSED_IDS,
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", name="fk_messages_citizen_id"))  # inbound
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    channel: Mapped[str] = mapped_column(String(20))
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    author: Mapped[str] = mapped_column(String(20))  # citizen | bot | volunteer | system
    text: Mapped[str] = mapped_column(EncryptedText, default="")
    buttons: Mapped[list[Any]] = mapped_column(EncryptedJSON, default=list)
    masked: Mapped[list[Any]] = mapped_column(default=list)  # kinds of secrets masked out
    media: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)  # a photo, file, voice…: {"kind", "ref"}
    status: Mapped[str] = mapped_column(String(12))  # received/deferred/processed/failed | pending/sent/failed
    # While a message waits for Rasa (status deferred): what Rasa is to be asked, {"text", "written"}.
    rasa_request: Mapped[dict[str, Any] | None] = mapped_column(EncryptedJSON)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Turn(Base):
    """The decision on one processed message (procedure, aspect, outcome) and what Rasa made of it
    (its REST webhook does not return this); messages the bot left to a volunteer have no Rasa part."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None]
    entities: Mapped[list[Any]] = mapped_column(EncryptedJSON, default=list)  # their values are the citizen's words
    actions: Mapped[list[Any]] = mapped_column(default=list)
    procedure: Mapped[str | None] = mapped_column(String(80))
    aspect: Mapped[str | None] = mapped_column(String(16))
    outcome: Mapped[str | None] = mapped_column(String(16), index=True)
    latency_ms: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ButtonKey(Base):
    """An opaque button payload issued to one conversation, mapped to a Rasa intent server-side."""

    __tablename__ = "button_keys"

    key: Mapped[str] = mapped_column(String(24), primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    intent_payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KnowledgeEntry(Base):
    """The live copy of one knowledge entry; `revision` grows with every change."""

    __tablename__ = "knowledge_entries"

    slug: Mapped[str] = mapped_column(String(80), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), default="procedure")  # procedure | offices
    title: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict[str, Any]] = mapped_column()
    revision: Mapped[int] = mapped_column(Integer, default=1)
    origin: Mapped[str] = mapped_column(String(10))  # file | staff
    file_hash: Mapped[str | None] = mapped_column(String(64))  # hash of the file last loaded
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class KnowledgeRevision(Base):
    """History of every knowledge change, from files or from staff."""

    __tablename__ = "knowledge_revisions"
    __table_args__ = (UniqueConstraint("slug", "revision"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(80), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    data: Mapped[dict[str, Any]] = mapped_column()
    origin: Mapped[str] = mapped_column(String(10))
    author: Mapped[str | None] = mapped_column(String(80))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SearchVector(Base):
    """One indexed text of a knowledge entry and its embedding, for one embedding model.

    Rows follow the entry's revision: an edit re-embeds only that entry's texts."""

    __tablename__ = "search_vectors"
    __table_args__ = (UniqueConstraint("model", "slug", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(64))  # fingerprint of the embedding model
    slug: Mapped[str] = mapped_column(String(80), index=True)
    revision: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    vector: Mapped[bytes] = mapped_column(LargeBinary)  # float32, L2-normalised


class GuideEvent(Base):
    """Every step change of a guide, for analytics: where citizens get stuck, who submits."""

    __tablename__ = "guide_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    rasa_sender_id: Mapped[str] = mapped_column(String(64), index=True)
    slug: Mapped[str] = mapped_column(String(80), index=True)
    step: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(24))
    detail: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Volunteer(Base):
    """A console account: volunteers help citizens; staff also see reports; admins manage accounts."""

    __tablename__ = "volunteers"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))  # shown to citizens: "Tình nguyện viên Lan"
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(12), default="volunteer")  # volunteer | staff | admin
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    online: Mapped[bool] = mapped_column(Boolean, default=False)
    telegram_user_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)  # after an admin's reset
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[dt.datetime | None]


class ConsoleSession(Base):
    """A logged-in console browser. Only the token's hash is stored."""

    __tablename__ = "console_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[dt.datetime]


class Handoff(Base):
    """One request for a volunteer, from the trigger to hand-back or close.

    `status` follows the conversation's owner: queued ↔ claimed (owner human), then handed_back
    (owner bot), closed, or cancelled by the citizen while waiting."""

    __tablename__ = "handoffs"
    __table_args__ = (Index("ix_handoffs_status_requested", "status", "requested_at"), NEVER_REUSED_IDS)

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    status: Mapped[str] = mapped_column(String(12), default="queued")
    reason: Mapped[str] = mapped_column(String(24))  # citizen_request | stuck | repeated_fallback | complaint
    channel: Mapped[str] = mapped_column(String(20))
    procedure_slug: Mapped[str | None] = mapped_column(String(80))
    guide_step: Mapped[int | None] = mapped_column(Integer)
    packet: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON, default=dict)  # masked transcript at request time
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)
    left_question: Mapped[bool] = mapped_column(Boolean, default=False)  # asked while nobody was available
    citizen_told_waiting_at: Mapped[dt.datetime | None]  # a waiting citizen is told at most once a minute
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    claimed_at: Mapped[dt.datetime | None]
    last_volunteer_reply_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(24))
    rating: Mapped[int | None] = mapped_column(Integer)


class HandoffAssignment(Base):
    """One volunteer holding one handoff, claim to release: the basis of the activity report."""

    __tablename__ = "handoff_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"), index=True)
    started_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[dt.datetime | None]
    end_reason: Mapped[str | None] = mapped_column(
        String(16)
    )  # released | transferred | expired | handed_back | closed


class HandoffNote(Base):
    """A volunteer's private note on a handoff; never shown to the citizen."""

    __tablename__ = "handoff_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id"), index=True)
    volunteer_id: Mapped[int] = mapped_column(ForeignKey("volunteers.id"))
    text: Mapped[str] = mapped_column(EncryptedText)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class TelegramNotice(Base):
    """A volunteer notification sent on Telegram (it quotes the citizen), kept until it is edited
    to a neutral text: when its handoff ends, or once marked `neutralise` (the citizen's data
    deleted, which detaches it from the handoff, or retention)."""

    __tablename__ = "telegram_notices"

    id: Mapped[int] = mapped_column(primary_key=True)
    handoff_id: Mapped[int | None] = mapped_column(ForeignKey("handoffs.id"), index=True)
    handoff_number: Mapped[int] = mapped_column(Integer)  # the "#N" the notice shows, kept when detached
    chat_id: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[int] = mapped_column(Integer)
    neutralise: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class ChannelEvent(Base):
    """A webhook event as received, stored before it is processed (answered fast, processed in
    the background, never processed twice: unique on the channel's own event id)."""

    __tablename__ = "channel_events"
    __table_args__ = (UniqueConstraint("channel", "event_id"), Index("ix_channel_events_sender", "channel", "sender"))

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    event_id: Mapped[str] = mapped_column(String(128))  # Telegram update_id, Zalo msg_id (or a digest)
    # the chat or user it came from (as `citizens.channel_user_id`): its events go in arrival order
    sender: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(EncryptedJSON)
    received_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[dt.datetime | None]
    error: Mapped[str | None] = mapped_column(Text)


class ZaloToken(Base):
    """The Official Account's OAuth pair. The refresh token is single-use: a refresh locks this
    row, stores the new pair, and only then uses it."""

    __tablename__ = "zalo_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)  # always 1
    access_token: Mapped[str] = mapped_column(Text)
    refresh_token: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    """Who changed what and when: every knowledge publish and every account change."""

    __tablename__ = "audit_log"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"), index=True)  # None: a command
    action: Mapped[str] = mapped_column(String(40))  # knowledge.publish, knowledge.restore, account.create, …
    target: Mapped[str] = mapped_column(String(120))  # a slug, a username
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)  # never a password or a citizen's text
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow, index=True)


class InboxDecision(Base):
    """What staff did with one citizen message of the unanswered-question inbox; decided messages
    leave the inbox (a later similar question comes back as new)."""

    __tablename__ = "inbox_decisions"

    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True)
    action: Mapped[str] = mapped_column(String(16))  # alias | faq_variant | faq_created | out_of_scope | ignored
    slug: Mapped[str | None] = mapped_column(String(80))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class FaqDraft(Base):
    """A volunteer's reply proposed from the console as a FAQ entry, with its conversation; staff
    turn it into an entry or dismiss it in the inbox."""

    __tablename__ = "faq_drafts"
    __table_args__ = NEVER_REUSED_IDS

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int | None] = mapped_column(ForeignKey("conversations.id", ondelete="SET NULL"), index=True)
    slug: Mapped[str | None] = mapped_column(String(80))
    question: Mapped[str] = mapped_column(EncryptedText)  # masked
    answer: Mapped[str] = mapped_column(EncryptedText)  # masked
    volunteer_id: Mapped[int | None] = mapped_column(ForeignKey("volunteers.id"))
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | published | dismissed
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
