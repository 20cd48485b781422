"""Live console updates as server-sent events: a listener of handoff changes, of messages in
conversations people hold and of edits to the canned replies. Queue and canned-reply changes go to
every console; message texts only to the volunteer holding that conversation (and staff). A stream
lives only as long as the console session that opened it: it re-checks the session before each
event and at each heartbeat (logout or a disabled account, whichever replica or command did it) and
ends at the session's expiry."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from sqlalchemy import select

from bot.events import EventBus, HandoffChanged, InboundStored, KnowledgeChanged, OutboundReady
from bot.handoff.service import Handoffs
from bot.knowledge.store import CANNED_SLUG
from bot.sse import CONNECTED, KEEP_ALIVE
from bot.storage.db import session_scope
from bot.storage.models import ConsoleSession, Message, Volunteer, as_utc, utcnow


def message_view(message: Message) -> dict:
    view = {
        "id": message.id,
        "author": message.author,
        "text": message.text,
        "at": as_utc(message.created_at).isoformat(),
    }
    if message.media and message.media.get("ref") and message.media["kind"] != "location":
        view["media"] = {"kind": message.media["kind"], "url": f"/console/api/messages/{message.id}/media"}
    return view


def session_ends_at(volunteer_id: int, csrf: str) -> dt.datetime | None:
    """When the console session with this CSRF token expires, or None once it is closed (logout)
    or its account disabled. The CSRF token is unique per session; one indexed read."""
    with session_scope() as session:
        expires_at = session.scalar(
            select(ConsoleSession.expires_at)
            .join(Volunteer, Volunteer.id == ConsoleSession.volunteer_id)
            .where(ConsoleSession.volunteer_id == volunteer_id, ConsoleSession.csrf == csrf, Volunteer.active.is_(True))
        )
    return as_utc(expires_at) if expires_at else None


def _frame(name: str, data: dict) -> dict[str, str]:
    """A server-sent event, as sse_starlette's EventSourceResponse takes it."""
    return {"event": name, "data": json.dumps(data, ensure_ascii=False)}


@dataclass(eq=False)
class Subscriber:
    volunteer_id: int
    sees_all: bool  # staff and admins supervise every conversation
    csrf: str  # identifies the console session the stream belongs to
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)

    def seconds_left(self) -> float:
        """Until the session expires; 0 when it has ended."""
        ends_at = session_ends_at(self.volunteer_id, self.csrf)
        return (ends_at - utcnow()).total_seconds() if ends_at else 0.0


class ConsoleStream:
    def __init__(self, bus: EventBus, heartbeat_s: float = 5.0):
        self.heartbeat_s = heartbeat_s  # also how soon a logout elsewhere closes the stream
        self._subscribers: set[Subscriber] = set()
        bus.subscribe(HandoffChanged, self._on_handoff, live_view=True)
        bus.subscribe(InboundStored, self._on_message, live_view=True)
        bus.subscribe(OutboundReady, self._on_message, live_view=True)
        bus.subscribe(KnowledgeChanged, self._on_knowledge, live_view=True)

    async def events(self, volunteer_id: int, sees_all: bool, csrf: str) -> AsyncIterator[dict[str, str]]:
        """Ends (the response completes) once the session has ended; nothing is sent after."""
        subscriber = Subscriber(volunteer_id, sees_all, csrf)
        self._subscribers.add(subscriber)
        try:
            yield CONNECTED
            seconds_left = subscriber.seconds_left()
            while seconds_left > 0:
                try:
                    event = await asyncio.wait_for(subscriber.queue.get(), min(self.heartbeat_s, seconds_left))
                except asyncio.TimeoutError:
                    event = None
                seconds_left = subscriber.seconds_left()  # checked before anything is sent
                if seconds_left > 0:
                    yield KEEP_ALIVE if event is None else _frame(*event)
        finally:
            self._subscribers.discard(subscriber)

    async def _on_handoff(self, event: HandoffChanged) -> None:
        for subscriber in self._subscribers:
            subscriber.queue.put_nowait(("handoff", {"handoff_id": event.handoff_id, "kind": event.kind}))

    async def _on_knowledge(self, event: KnowledgeChanged) -> None:
        """Canned replies edited by staff: every open console refetches them."""
        if event.slug == CANNED_SLUG:
            for subscriber in self._subscribers:
                subscriber.queue.put_nowait(("canned", {"revision": event.revision}))

    async def _on_message(self, event: InboundStored | OutboundReady) -> None:
        if not self._subscribers:
            return
        with session_scope() as session:
            handoff = Handoffs.open_handoff(session, event.conversation_id)
            if handoff is None:
                return
            message = session.get(Message, event.message_id)
            payload = {"handoff_id": handoff.id, "message": message_view(message)}
            holder, queued = handoff.volunteer_id, handoff.status == "queued"
        for subscriber in self._subscribers:
            if queued:
                subscriber.queue.put_nowait(("queue", {}))  # the masked preview changed
            if subscriber.volunteer_id == holder or subscriber.sees_all:
                subscriber.queue.put_nowait(("message", payload))
