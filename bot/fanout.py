"""Live events between gateway replicas, through Redis pub/sub (`REDIS_URL`).

A citizen's web chat may be open on one replica while the volunteer answers on another: the
events live views need (a message stored or ready, a handoff change) are published to Redis, and
every other replica hands them to its live-view listeners only. Sending on a channel, notifying
volunteers and counting stay with the replica where the event happened, so they happen once.
When Redis goes away (a restart), the replica listens again as soon as it is back and announces
`LiveEventsResumed`, since whatever was published in between is lost to it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from contextlib import suppress

import redis.asyncio as redis
from redis.exceptions import RedisError

from bot.events import EventBus, HandoffChanged, InboundStored, KnowledgeChanged, LiveEventsResumed, OutboundReady
from bot.messages import Button, Outbound
from bot.text.masking import mask_contacts

log = logging.getLogger(__name__)
TOPIC = "bot:live-events"
RESUBSCRIBE_FIRST_S, RESUBSCRIBE_MAX_S = 0.5, 10.0
FANNED_OUT = {cls.__name__: cls for cls in (OutboundReady, InboundStored, HandoffChanged, KnowledgeChanged)}


def encode(origin: str, event: object) -> str:
    return json.dumps(
        {"origin": origin, "type": type(event).__name__, "data": dataclasses.asdict(event)}, ensure_ascii=False
    )


def decode(raw: str | bytes) -> tuple[str, object]:
    message = json.loads(raw)
    data = message["data"]
    if message["type"] == "OutboundReady":
        outbound = data["outbound"]
        data["outbound"] = Outbound(
            outbound["text"], tuple(Button(**b) for b in outbound["buttons"]), outbound["author"]
        )
    return message["origin"], FANNED_OUT[message["type"]](**data)


class RedisFanout:
    def __init__(self, url: str, bus: EventBus):
        self.bus = bus
        self.origin = uuid.uuid4().hex  # this replica; its own events come back from Redis and are skipped
        self.redis = redis.from_url(url)
        self._listening: asyncio.Task | None = None
        for event_type in FANNED_OUT.values():
            bus.subscribe(event_type, self._publish)

    async def start(self) -> None:
        pubsub = await self._subscribed()  # before start() returns: no event is missed after it
        self._listening = asyncio.create_task(self._listen(pubsub))

    async def _subscribed(self):
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(TOPIC)
        return pubsub

    async def stop(self) -> None:
        if self._listening:
            self._listening.cancel()
            with suppress(asyncio.CancelledError):
                await self._listening
        await self.redis.aclose()

    async def _publish(self, event: object) -> None:
        await self.redis.publish(TOPIC, encode(self.origin, event))

    async def _listen(self, pubsub) -> None:
        pause = RESUBSCRIBE_FIRST_S
        while True:
            try:
                async with pubsub:
                    async for message in pubsub.listen():
                        pause = RESUBSCRIBE_FIRST_S
                        if message["type"] == "message":
                            await self._heard(message["data"])
            except RedisError as exc:
                log.warning("fan-out: Redis unavailable (%s); listening again in %.1f s", type(exc).__name__, pause)
            while True:
                await asyncio.sleep(pause)
                pause = min(pause * 2, RESUBSCRIBE_MAX_S)
                try:
                    pubsub = await self._subscribed()
                    break
                except RedisError:
                    continue
            log.info("fan-out: listening again")
            await self.bus.emit(LiveEventsResumed())

    async def _heard(self, data: bytes) -> None:
        try:
            origin, event = decode(data)
        except (ValueError, KeyError, TypeError) as exc:
            log.error("fan-out: unreadable event %r: %s", mask_contacts(str(data[:200])), exc)
            return
        if origin != self.origin:
            await self.bus.emit_remote(event)
