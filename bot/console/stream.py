"""Live console updates as server-sent events: a listener of handoff changes and of messages in
conversations people hold. Queue changes go to every console; message texts only to the
volunteer holding that conversation (and staff)."""
from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from bot.events import EventBus, HandoffChanged, InboundStored, OutboundReady
from bot.handoff.service import Handoffs
from bot.storage.db import session_scope
from bot.storage.models import Message, as_utc


def message_view(message: Message) -> dict:
    view = {"id": message.id, "author": message.author, "text": message.text, "at": as_utc(message.created_at).isoformat()}
    if message.media and message.media.get("ref") and message.media["kind"] != "location":
        view["media"] = {"kind": message.media["kind"], "url": f"/console/api/messages/{message.id}/media"}
    return view


@dataclass(eq=False)
class Subscriber:
    volunteer_id: int
    sees_all: bool  # staff and admins supervise every conversation
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


class ConsoleStream:
    def __init__(self, bus: EventBus, heartbeat_s: float = 15.0):
        self.heartbeat_s = heartbeat_s
        self._subscribers: set[Subscriber] = set()
        bus.subscribe(HandoffChanged, self._on_handoff, live_view=True)
        bus.subscribe(InboundStored, self._on_message, live_view=True)
        bus.subscribe(OutboundReady, self._on_message, live_view=True)

    async def events(self, volunteer_id: int, sees_all: bool) -> AsyncIterator[str]:
        subscriber = Subscriber(volunteer_id, sees_all)
        self._subscribers.add(subscriber)
        try:
            yield ": connected\n\n"
            while True:
                try:
                    name, data = await asyncio.wait_for(subscriber.queue.get(), self.heartbeat_s)
                except asyncio.TimeoutError:
                    yield ": keep-alive\n\n"
                    continue
                yield f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"
        finally:
            self._subscribers.discard(subscriber)

    async def _on_handoff(self, event: HandoffChanged) -> None:
        for subscriber in self._subscribers:
            subscriber.queue.put_nowait(("handoff", {"handoff_id": event.handoff_id, "kind": event.kind}))

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
