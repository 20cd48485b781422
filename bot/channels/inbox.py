"""What the webhook channels (Telegram, Zalo) share: an event is stored before it is acknowledged,
processed in the background in arrival order, never twice, and picked up again after a restart;
replies and later messages (a volunteer's) are sent through the channel and marked sent or failed."""
from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable

from bot.events import EventBus, OutboundReady
from bot.messages import Outbound
from bot.router import Delivery
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import utcnow
from bot.text.masking import mask

log = logging.getLogger(__name__)


def mask_fields(payload: dict, paths: list[tuple[str, str]]) -> dict:
    """The payload with the text at each (object, field) path masked, e.g. ("message", "text")."""
    for container, field in paths:
        value = (payload.get(container) or {}).get(field)
        if isinstance(value, str):
            payload[container][field] = mask(value).text
    return payload


class PermanentFailure(Exception):
    """The channel refused the message for good (blocked by the user, window closed…)."""


class EventInbox:
    """`redact` masks the citizen's text in a payload before it is stored (ID numbers, OTPs and
    passwords are never written down); once processed, only the event's id is kept."""

    def __init__(self, channel: str, process: Callable[[dict], Awaitable[None]], redact: Callable[[dict], dict]):
        self.channel = channel
        self.process = process
        self.redact = redact
        self._tasks: set[asyncio.Task] = set()

    async def receive(self, event_id: str, payload: dict) -> bool:
        """Store and schedule one event; False when it was delivered before."""
        payload = self.redact(payload)
        with session_scope() as session:
            row_id = repo.accept_event(session, self.channel, event_id, payload)
        if row_id is None:
            return False
        self._spawn(row_id, payload)
        return True

    async def recover(self) -> int:
        """Process the events a stopped process had stored but not processed."""
        with session_scope() as session:
            pending = [(event.id, event.payload) for event in repo.unprocessed_events(session, self.channel)]
        for row_id, payload in pending:
            self._spawn(row_id, payload)
        return len(pending)

    async def drain(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def _spawn(self, row_id: int, payload: dict) -> None:
        task = asyncio.create_task(self._run(row_id, payload))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, row_id: int, payload: dict) -> None:
        error = None
        try:
            await self.process(payload)
        except Exception as exc:  # recorded on the event for the operator; the next event goes on
            log.exception("%s event %d failed", self.channel, row_id)
            error = repr(exc)
        with session_scope() as session:
            repo.finish_event(session, row_id, error)


Send = Callable[[str, Outbound], Awaitable[None]]


class Outbox:
    """Sends stored messages through a channel and records the result."""

    def __init__(self, channel: str, send: Send, bus: EventBus):
        self.channel = channel
        self.send = send
        bus.subscribe(OutboundReady, self._pushed)

    async def deliver(self, user_id: str, deliveries: list[Delivery]) -> None:
        for delivery in deliveries:
            if not delivery.sent:
                await self._one(user_id, delivery.message_id, delivery.outbound)

    async def resend_pending(self, older_than_s: float = 60, within_s: float = 86400) -> int:
        """Send again what transient failures left pending (not the messages being sent right
        now, nor day-old ones that would arrive out of context). Stops at the first failure."""
        now = utcnow()
        with session_scope() as session:
            pending = [(m.id, user_id, repo.as_outbound(m)) for m, user_id in repo.undelivered(
                session, self.channel, now - dt.timedelta(seconds=older_than_s), now - dt.timedelta(seconds=within_s))]
        for message_id, user_id, outbound in pending:
            await self._one(user_id, message_id, outbound)
        return len(pending)

    async def _pushed(self, event: OutboundReady) -> None:
        if event.channel == self.channel:
            await self._one(event.user_id, event.message_id, event.outbound)

    async def _one(self, user_id: str, message_id: int, outbound: Outbound) -> None:
        try:
            await self.send(user_id, outbound)
            status = "sent"
        except PermanentFailure as exc:
            log.warning("%s message %d not delivered: %s", self.channel, message_id, exc)
            status = "failed"
        with session_scope() as session:
            repo.set_status(session, [message_id], status)
