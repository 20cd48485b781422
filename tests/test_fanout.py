"""Live events between replicas through a real Redis: after a Redis restart, each replica listens
again by itself and says so (its live views catch up from the database), and events flow again."""

from __future__ import annotations

import asyncio
from contextlib import ExitStack

from bot.events import EventBus, LiveEventsResumed, OutboundReady
from bot.fanout import RedisFanout
from bot.messages import Outbound
from tests import redis_server
from tests.ports import free_port
from tests.system import require

EVENT = OutboundReady(7, 3, "web", "citizen-7", Outbound("Dạ, hồ sơ gồm…"))


async def heard_after_a_restart(url: str, restart) -> tuple[list, bool]:
    sender, receiver = EventBus(), EventBus()
    heard: list = []
    resumed = asyncio.Event()

    async def live_view(event: OutboundReady) -> None:
        heard.append(event)

    async def catch_up(_: LiveEventsResumed) -> None:
        resumed.set()

    receiver.subscribe(OutboundReady, live_view, live_view=True)
    receiver.subscribe(LiveEventsResumed, catch_up)
    replicas = [RedisFanout(url, sender), RedisFanout(url, receiver)]
    for replica in replicas:
        await replica.start()
    try:
        await asyncio.to_thread(restart)
        await asyncio.wait_for(resumed.wait(), timeout=30)
        await sender.emit(EVENT)
        for _ in range(100):  # the event crosses Redis: wait for it, bounded
            if heard:
                break
            await asyncio.sleep(0.05)
        return heard, resumed.is_set()
    finally:
        for replica in replicas:
            await replica.stop()


def test_live_events_flow_again_after_a_redis_restart():
    require(redis_server.available(), "redis-server")
    port = free_port()
    with ExitStack() as servers:
        url = servers.enter_context(redis_server.redis_server(port))

        def restart() -> None:
            servers.close()  # the first server stops…
            servers.enter_context(redis_server.redis_server(port))  # …and a new one starts on its port

        heard, resumed = asyncio.run(heard_after_a_restart(url, restart))
    assert resumed, "the replica did not say it listens again"
    assert heard == [EVENT]
