"""The per-conversation lock: shared through a real Redis between two "replicas" (two lock
objects with their own connections), and the process's own lock when Redis does not answer."""

from __future__ import annotations

import asyncio
import logging

from bot.delivery.ordering import ConversationLocks
from tests import redis_server
from tests.ports import free_port
from tests.system import require


async def overlaps(first: ConversationLocks, second: ConversationLocks) -> list[str]:
    """Four turns of one conversation, alternately on each side; what each saw when it ran."""
    running, seen = [], []

    async def turn(locks: ConversationLocks, number: int) -> None:
        async with locks.hold("web", "citizen-1"):
            seen.append(f"{number} with {running[:]}")
            running.append(number)
            await asyncio.sleep(0.05)  # a turn that takes time (a Rasa call)
            running.remove(number)

    await asyncio.gather(*(turn(first if n % 2 else second, n) for n in range(4)))
    await first.close()
    await second.close()
    return [entry for entry in seen if not entry.endswith("with []")]


def test_two_replicas_never_hold_one_conversation_at_once():
    require(redis_server.available(), "redis-server")
    with redis_server.redis_server() as url:
        assert asyncio.run(overlaps(ConversationLocks(url, 10), ConversationLocks(url, 10))) == []


def test_without_the_shared_lock_they_would_overlap():
    assert asyncio.run(overlaps(ConversationLocks(None, 10), ConversationLocks(None, 10))) != []


def test_redis_not_answering_falls_back_to_the_process_lock(caplog):
    locks = ConversationLocks(f"redis://127.0.0.1:{free_port()}/0", 10)  # nothing listens there

    async def two_turns() -> list[str]:
        order = []

        async def turn(name: str) -> None:
            async with locks.hold("zalo", "citizen-2"):
                order.append(f"{name} in")
                await asyncio.sleep(0.01)
                order.append(f"{name} out")

        await asyncio.gather(turn("first"), turn("second"))
        await locks.close()
        return order

    with caplog.at_level(logging.WARNING, logger="bot.delivery.ordering"):
        assert asyncio.run(two_turns()) == ["first in", "first out", "second in", "second out"]
    assert "Redis unavailable" in caplog.text


def test_a_dead_holders_lock_expires():
    """A replica killed while holding the lock: the next one goes on once the lock expires."""
    require(redis_server.available(), "redis-server")
    with redis_server.redis_server() as url:

        async def main() -> float:
            dead, alive = ConversationLocks(url, 0.3), ConversationLocks(url, 0.3)
            assert await dead._acquire_shared("web", "citizen-3") is not None  # never released
            started = asyncio.get_running_loop().time()
            async with alive.hold("web", "citizen-3"):
                waited = asyncio.get_running_loop().time() - started
            await dead.close()
            await alive.close()
            return waited

        assert 0.1 < asyncio.run(main()) < 3
