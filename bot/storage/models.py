"""SQLAlchemy models of the app database. Texts stored here are already masked."""
from __future__ import annotations

import datetime as dt
import enum
from typing import Any

from sqlalchemy import JSON, DateTime, Enum, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


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
    __table_args__ = (UniqueConstraint("channel", "channel_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    channel_user_id: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    last_inbound_at: Mapped[dt.datetime | None]


class Conversation(Base):
    __tablename__ = "conversations"

    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    rasa_sender_id: Mapped[str] = mapped_column(String(64), unique=True)
    owner: Mapped[Owner] = mapped_column(Enum(Owner, native_enum=False, length=10), default=Owner.bot)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    citizen: Mapped[Citizen] = relationship()


class Message(Base):
    """Every inbound message before it is processed, every outbound one before it is sent."""

    __tablename__ = "messages"
    __table_args__ = (
        UniqueConstraint("channel", "direction", "channel_message_id", name="uq_message_channel_id"),
        Index("ix_messages_conversation_created", "conversation_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"))
    direction: Mapped[str] = mapped_column(String(3))  # "in" | "out"
    channel: Mapped[str] = mapped_column(String(20))
    channel_message_id: Mapped[str | None] = mapped_column(String(128))
    author: Mapped[str] = mapped_column(String(20))  # citizen | bot | volunteer | system
    text: Mapped[str] = mapped_column(Text, default="")
    buttons: Mapped[list[Any]] = mapped_column(default=list)
    masked: Mapped[list[Any]] = mapped_column(default=list)  # kinds of secrets masked out
    status: Mapped[str] = mapped_column(String(12))  # received/processed/failed | pending/sent/failed
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class Turn(Base):
    """What Rasa made of one processed message (its REST webhook does not return this)."""

    __tablename__ = "turns"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversations.id"), index=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), unique=True)
    intent: Mapped[str | None] = mapped_column(String(64))
    confidence: Mapped[float | None]
    entities: Mapped[list[Any]] = mapped_column(default=list)
    actions: Mapped[list[Any]] = mapped_column(default=list)
    latency_ms: Mapped[int] = mapped_column(Integer)
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
