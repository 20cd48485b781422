"""One conversation's messages are handled one at a time on every gateway replica.

Within a process an asyncio lock per conversation keeps arrival order (it wakes waiters first come,
first served); across replicas the Redis lock lets whichever asks first go first, so webhook events
keep their arrival order in the inbox (bot/delivery/inbox.py). With Redis (`REDIS_URL`) a Redis lock per conversation is taken too, so two replicas
never handle one conversation at the same time; it expires after `hold_s` should its holder die. If
Redis does not answer, the process goes on with its own lock alone: a Redis restart must not stop
or lose messages.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)
KEY = "bot:conversation-lock:{channel}:{user_id}"
POLL_S = 0.02  # how often a waiting replica asks Redis again


class ConversationLocks:
    def __init__(self, redis_url: str | None, hold_s: float):
        self.hold_s = hold_s
        self._redis = redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=2) if redis_url else None
        self._local: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()

    @asynccontextmanager
    async def hold(self, channel: str, user_id: str) -> AsyncIterator[None]:
        local = self._local.get((channel, user_id))
        if local is None:
            local = self._local[(channel, user_id)] = asyncio.Lock()
        async with local:
            shared = await self._acquire_shared(channel, user_id)
            try:
                yield
            finally:
                if shared is not None:
                    await self._release_shared(shared)

    async def _acquire_shared(self, channel: str, user_id: str):
        if self._redis is None:
            return None
        lock = self._redis.lock(
            KEY.format(channel=channel, user_id=user_id),
            timeout=self.hold_s,
            sleep=POLL_S,
            blocking_timeout=self.hold_s,
        )  # a dead holder's lock expires within hold_s
        try:
            if await lock.acquire():
                return lock
            log.warning("conversation lock still held after %.0f s: going on with this process's lock", self.hold_s)
        except RedisError as exc:
            log.warning(
                "conversation lock: Redis unavailable (%s), going on with this process's lock", type(exc).__name__
            )
        return None

    @staticmethod
    async def _release_shared(lock) -> None:
        try:
            await lock.release()
        except RedisError as exc:  # expired meanwhile, or Redis went away: nothing left to free
            log.warning("conversation lock not released: %s", type(exc).__name__)

    async def close(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
