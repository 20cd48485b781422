"""What the webhook channels (Telegram, Zalo) share on the way in: an event is stored before it is
acknowledged, processed in the background in arrival order, never twice, and picked up again after
a restart. One sender's events wait for the ones stored before them, whichever replica took
those, so a citizen who writes twice quickly is answered in order. While the database is unreachable (a PostgreSQL restart) an event waits and is tried
again, with a growing pause, instead of being dropped or left half done."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from bot.storage import repo
from bot.storage.db import DATABASE_DOWN, session_scope
from bot.text.masking import mask

log = logging.getLogger(__name__)
RETRY_FIRST_S, RETRY_MAX_S = 0.5, 10.0
EARLIER_POLL_S = 0.05
# Longer than a turn can take (Rasa's timeout and the replies' sending); an earlier event still
# unprocessed after this was left by a gateway that died and has not come back: go on without it.
EARLIER_WAIT_S = 60.0
T = TypeVar("T")


def mask_fields(payload: dict, paths: list[tuple[str, str]]) -> dict:
    """The payload with the text at each (object, field) path masked, e.g. ("message", "text")."""
    for container, field in paths:
        value = (payload.get(container) or {}).get(field)
        if isinstance(value, str):
            payload[container][field] = mask(value).text
    return payload


class EventInbox:
    """`redact` masks the citizen's text in a payload before it is stored (ID numbers, OTPs and
    passwords are never written down); once processed, only the event's id is kept."""

    def __init__(
        self,
        channel: str,
        process: Callable[[dict], Awaitable[None]],
        redact: Callable[[dict], dict],
        earlier_wait_s: float = EARLIER_WAIT_S,
    ):
        self.channel = channel
        self.process = process
        self.redact = redact
        self.earlier_wait_s = earlier_wait_s
        self._running: dict[int, asyncio.Task] = {}

    async def receive(self, event_id: str, payload: dict, sender: str | None) -> bool:
        """Store and schedule one event of `sender` (None: an event of nobody's conversation);
        False when it was processed before. An event stored but never processed (the gateway that
        took it died) is processed now: the router handles a message once, whichever replica gets it."""
        payload = self.redact(payload)
        with session_scope() as session:
            row_id = repo.accept_event(session, self.channel, event_id, payload, sender)
        if row_id is None:
            return False
        self._spawn(row_id, payload, sender)
        return True

    async def recover(self) -> int:
        """Process the events a stopped process had stored but not processed."""
        with session_scope() as session:
            pending = [(e.id, e.payload, e.sender) for e in repo.unprocessed_events(session, self.channel)]
        for row_id, payload, sender in pending:
            self._spawn(row_id, payload, sender)
        return len(pending)

    async def drain(self) -> None:
        if self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    def _spawn(self, row_id: int, payload: dict, sender: str | None) -> None:
        if row_id in self._running:  # a retry of an event this process is still working on
            return
        task = asyncio.create_task(self._run(row_id, payload, sender))
        self._running[row_id] = task
        task.add_done_callback(lambda _: self._running.pop(row_id, None))

    async def _run(self, row_id: int, payload: dict, sender: str | None) -> None:
        if sender is not None:
            await self._after_earlier(row_id, sender)
        error = await self._retrying(row_id, lambda: self._processed(payload))
        await self._retrying(row_id, lambda: self._finish(row_id, error))

    async def _after_earlier(self, row_id: int, sender: str) -> None:
        """Returns once the sender's events stored before this one are processed, on any replica
        (the conversation lock alone lets whichever replica asks first go first)."""
        deadline = asyncio.get_running_loop().time() + self.earlier_wait_s
        while await self._retrying(row_id, lambda: self._earlier_unprocessed(row_id, sender)):
            if asyncio.get_running_loop().time() >= deadline:
                log.warning("%s event %d: an earlier event is still unprocessed, going on", self.channel, row_id)
                return
            await asyncio.sleep(EARLIER_POLL_S)

    async def _earlier_unprocessed(self, row_id: int, sender: str) -> bool:
        with session_scope() as session:
            return repo.earlier_event_unprocessed(session, self.channel, sender, row_id)

    async def _processed(self, payload: dict) -> str | None:
        """What went wrong, recorded on the event for the operator (the next event goes on)."""
        try:
            await self.process(payload)
        except DATABASE_DOWN:
            raise
        except Exception as exc:
            log.exception("%s event failed", self.channel)
            return repr(exc)
        return None

    @staticmethod
    async def _finish(row_id: int, error: str | None) -> None:
        with session_scope() as session:
            repo.finish_event(session, row_id, error)

    async def _retrying(self, row_id: int, attempt: Callable[[], Awaitable[T]]) -> T:
        pause = RETRY_FIRST_S
        while True:
            try:
                return await attempt()
            except DATABASE_DOWN as exc:
                log.warning(
                    "%s event %d waits for the database (%s): again in %.1f s",
                    self.channel,
                    row_id,
                    type(exc).__name__,
                    pause,
                )
                await asyncio.sleep(pause)
                pause = min(pause * 2, RETRY_MAX_S)
