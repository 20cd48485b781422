"""In-process event bus: a state change emits an event; listeners do the side effects
(push to a channel, notify, count). Emitters never know who listens."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.messages import Outbound

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutboundReady:
    """A message to a citizen was stored and is waiting for its channel to deliver it."""

    message_id: int
    conversation_id: int
    channel: str
    user_id: str
    outbound: Outbound


@dataclass(frozen=True)
class InboundStored:
    """A citizen's message was stored for a conversation the bot does not hold (the console shows it)."""

    message_id: int
    conversation_id: int


@dataclass(frozen=True)
class HandoffChanged:
    """A handoff changed state. `kind`: queued (requested), claimed, released, expired,
    transferred, handed_back, closed, cancelled (the citizen stopped waiting)."""

    kind: str
    handoff_id: int
    conversation_id: int
    channel: str
    user_id: str
    rasa_sender_id: str
    reason: str
    volunteer_name: str | None = None  # who holds it after the change
    previous_volunteer_name: str | None = None
    procedure_slug: str | None = None
    step: int | None = None  # the guide step to continue at (handed_back)


@dataclass(frozen=True)
class CitizenDataDeleted:
    """A citizen had everything stored about them deleted (notices quoting them are to be neutralised)."""

    channel: str
    user_id: str


@dataclass(frozen=True)
class LiveEventsResumed:
    """Live events from the other gateway replicas flow again after a break (a Redis restart):
    what was published meanwhile never arrived, so live views catch up from the database."""


@dataclass(frozen=True)
class KnowledgeChanged:
    """A knowledge entry (a procedure, `_offices` or `_canned`) was published at `revision`."""

    slug: str
    revision: int


Listener = Callable[[object], Awaitable[None]]


class EventBus:
    """Listeners of live views (an open web chat, the consoles) also hear events that happened on
    another gateway replica (`emit_remote`, fed by bot.fanout); side effects happen once, where
    the event happened."""

    def __init__(self) -> None:
        self._listeners: dict[type, list[Listener]] = defaultdict(list)
        self._live_views: dict[type, list[Listener]] = defaultdict(list)

    def subscribe(self, event_type: type, listener: Listener, live_view: bool = False) -> None:
        self._listeners[event_type].append(listener)
        if live_view:
            self._live_views[event_type].append(listener)

    async def emit(self, event: object) -> None:
        await self._call(self._listeners[type(event)], event)

    async def emit_remote(self, event: object) -> None:
        await self._call(self._live_views[type(event)], event)

    @staticmethod
    async def _call(listeners: list[Listener], event: object) -> None:
        results = await asyncio.gather(*(listener(event) for listener in listeners), return_exceptions=True)
        for result in results:
            if isinstance(result, Exception):
                log.error("listener failed for %s: %r", type(event).__name__, result)
