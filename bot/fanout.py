"""Live events between gateway replicas, through Redis pub/sub (`REDIS_URL`).

A citizen's web chat may be open on one replica while the volunteer answers on another: the
events live views need (a message stored or ready, a handoff change) are published to Redis, and
every other replica hands them to its live-view listeners only. Sending on a channel, notifying
volunteers and counting stay with the replica where the event happened, so they happen once.
"""
from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import uuid
from contextlib import suppress

import redis.asyncio as redis

from bot.events import EventBus, HandoffChanged, InboundStored, KnowledgeChanged, OutboundReady
from bot.messages import Button, Outbound
from bot.text.masking import mask_contacts

log = logging.getLogger(__name__)
TOPIC = "bot:live-events"
FANNED_OUT = {cls.__name__: cls for cls in (OutboundReady, InboundStored, HandoffChanged, KnowledgeChanged)}


def encode(origin: str, event: object) -> str:
    return json.dumps({"origin": origin, "type": type(event).__name__, "data": dataclasses.asdict(event)},
                      ensure_ascii=False)


def decode(raw: str | bytes) -> tuple[str, object]:
    message = json.loads(raw)
    data = message["data"]
    if message["type"] == "OutboundReady":
        outbound = data["outbound"]
        data["outbound"] = Outbound(outbound["text"], tuple(Button(**b) for b in outbound["buttons"]), outbound["author"])
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
        pubsub = self.redis.pubsub()
        await pubsub.subscribe(TOPIC)  # subscribed before start() returns: no event is missed after it
        self._listening = asyncio.create_task(self._listen(pubsub))

    async def stop(self) -> None:
        if self._listening:
            self._listening.cancel()
            with suppress(asyncio.CancelledError):
                await self._listening
        await self.redis.aclose()

    async def _publish(self, event: object) -> None:
        await self.redis.publish(TOPIC, encode(self.origin, event))

    async def _listen(self, pubsub) -> None:
        async with pubsub:
            async for message in pubsub.listen():
                if message["type"] != "message":
                    continue
                try:
                    origin, event = decode(message["data"])
                except (ValueError, KeyError, TypeError) as exc:
                    log.error("fan-out: unreadable event %r: %s", mask_contacts(str(message["data"][:200])), exc)
                    continue
                if origin != self.origin:
                    await self.bus.emit_remote(event)
