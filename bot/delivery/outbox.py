"""The way out to citizens: every message is stored before it is sent, sent through its channel's
sender (Telegram, Zalo: registered at wiring time) or handed to the live views (the web stream),
and marked sent only once the channel took it (the web page acknowledges what it shows)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.orm import Session

from bot.events import EventBus, OutboundReady
from bot.messages import Outbound
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import utcnow

log = logging.getLogger(__name__)
Send = Callable[[str, Outbound], Awaitable[None]]  # (the citizen's id on the channel, the message)
STALE_AFTER_S = 86400  # an unsent reply older than this would arrive out of context: left unsent
# A message still pending this long after it was stored, and not being sent by this process, was
# left by a process that died (or a send that failed): the next message to that citizen sends it first.
LEFT_AFTER_S = 0.5


@dataclass(frozen=True)
class Delivery:
    """A stored outbound message and its database id."""

    message_id: int
    outbound: Outbound
    sent: bool = False  # already delivered (a channel retried a message handled before)


class PermanentFailure(Exception):
    """The channel refused the message for good (blocked by the user, window closed…)."""


class Outbox:
    def __init__(self, bus: EventBus):
        self.bus = bus
        self._senders: dict[str, Send] = {}
        self._sending: set[int] = set()  # stored by this process and not sent yet
        bus.subscribe(OutboundReady, self._pushed)

    def register(self, channel: str, send: Send) -> None:
        self._senders[channel] = send

    def store(
        self, session: Session, conversation_id: int, channel: str, replies: list[Outbound], status: str = "pending"
    ) -> list[Delivery]:
        """Store messages (their buttons get the conversation's opaque keys) before anything sends them."""
        keyed = repo.with_button_keys(session, conversation_id, replies)
        message_ids = repo.record_outbound(session, conversation_id, channel, keyed, status)
        if status == "pending" and channel in self._senders:
            self._sending.update(message_ids)
        return [Delivery(message_id, outbound, status == "sent") for message_id, outbound in zip(message_ids, keyed)]

    async def push(
        self, channel: str, user_id: str, outbound: Outbound, conversation_id: int | None = None
    ) -> Delivery:
        """Store and deliver a message that is not a reply to a request (a volunteer's answer, a notice)."""
        with session_scope() as session:
            if conversation_id is None:
                conversation_id = repo.conversation_for(session, channel, user_id, inbound=False).id
            [delivery] = self.store(session, conversation_id, channel, [outbound])
        await self.publish(channel, user_id, conversation_id, [delivery])
        return delivery

    async def publish(self, channel: str, user_id: str, conversation_id: int, deliveries: list[Delivery]) -> None:
        """Announce stored messages, in order: the channel's sender sends them, live views (the
        web stream, the consoles, on every replica) show them."""
        for delivery in deliveries:
            await self.bus.emit(
                OutboundReady(delivery.message_id, conversation_id, channel, user_id, delivery.outbound)
            )

    async def deliver(self, channel: str, user_id: str, deliveries: list[Delivery]) -> None:
        """Send replies that are not sent yet through the channel's sender (a channel without one,
        the web, shows them on its stream). Earlier messages a dead gateway left unsent go first,
        or the citizen would read them after the answers to later questions."""
        if channel not in self._senders or not deliveries:
            return
        now = utcnow()
        with session_scope() as session:
            earlier = [
                Delivery(m.id, repo.as_outbound(m))
                for m in repo.earlier_unsent(
                    session,
                    channel,
                    user_id,
                    min(d.message_id for d in deliveries),
                    written_after=now - dt.timedelta(seconds=STALE_AFTER_S),
                    written_before=now - dt.timedelta(seconds=LEFT_AFTER_S),
                )
                if m.id not in self._sending
            ]
        for delivery in [*earlier, *deliveries]:
            if not delivery.sent:
                await self._one(channel, user_id, delivery.message_id, delivery.outbound)

    async def resend_pending(self, older_than_s: float = 60, within_s: float = STALE_AFTER_S) -> int:
        """Send again what transient failures left pending on the channels with a sender (not the
        messages being sent right now, nor day-old ones that would arrive out of context). A
        channel stops at its first failure."""
        now = utcnow()
        resent = 0
        for channel in self._senders:
            with session_scope() as session:
                pending = [
                    (m.id, user_id, repo.as_outbound(m))
                    for m, user_id in repo.undelivered(
                        session, channel, now - dt.timedelta(seconds=older_than_s), now - dt.timedelta(seconds=within_s)
                    )
                ]
            for message_id, user_id, outbound in pending:
                await self._one(channel, user_id, message_id, outbound)
            resent += len(pending)
        return resent

    @staticmethod
    def unacknowledged(channel: str, user_id: str) -> list[tuple[int, Outbound]]:
        """What a citizen's page has not acknowledged yet, oldest first (sent again on every connect)."""
        with session_scope() as session:
            return [(m.id, repo.as_outbound(m)) for m in repo.pending_outbound(session, channel, user_id)]

    @staticmethod
    def acknowledge(channel: str, user_id: str, message_ids: list[int]) -> int:
        """The citizen's page has these messages: sent. Another citizen's ids change nothing."""
        if not message_ids:
            return 0
        with session_scope() as session:
            return repo.acknowledge_outbound(session, channel, user_id, message_ids)

    async def _pushed(self, event: OutboundReady) -> None:
        if event.channel in self._senders:
            await self._one(event.channel, event.user_id, event.message_id, event.outbound)

    async def _one(self, channel: str, user_id: str, message_id: int, outbound: Outbound) -> None:
        try:
            await self._senders[channel](user_id, outbound)
            status = "sent"
        except PermanentFailure as exc:
            log.warning("%s message %d not delivered: %s", channel, message_id, exc)
            status = "failed"
        finally:
            self._sending.discard(message_id)
        with session_scope() as session:
            repo.set_status(session, [message_id], status)
