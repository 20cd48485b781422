"""The webhook inbox on the session's database: an event whose processing meets a database outage
is tried again until it is done, and an event stored by a gateway that died before processing it is
processed when the channel delivers it again; a processed one is not. One sender's events are
processed in the order they were stored, whichever replica took each."""

from __future__ import annotations

import asyncio
import itertools
import logging

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.delivery import inbox as inbox_module
from bot.delivery.inbox import EventInbox
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import ChannelEvent
from tests.waiting import wait_until_async

_ids = itertools.count(1)


def new_event_id() -> str:
    return f"inbox-test-{next(_ids)}"


def stored(event_id: str) -> ChannelEvent:
    with session_scope() as session:
        event = session.scalar(
            select(ChannelEvent).where(ChannelEvent.channel == "test", ChannelEvent.event_id == event_id)
        )
        session.expunge(event)
        return event


def inbox_recording(outage_attempts: int = 0) -> tuple[EventInbox, list[dict]]:
    """An inbox whose processing fails as a PostgreSQL restart does for its first attempts."""
    processed, attempts = [], itertools.count()

    async def process(payload: dict) -> None:
        if next(attempts) < outage_attempts:
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("server restarting"))
        processed.append(payload)

    return EventInbox("test", process, redact=dict), processed


async def received_and_drained(inbox: EventInbox, event_id: str, payload: dict, sender: str = "citizen-1") -> bool:
    accepted = await inbox.receive(event_id, payload, sender)
    await inbox.drain()
    return accepted


def test_an_event_met_by_a_database_outage_is_processed_once_it_is_back(loaded_db, monkeypatch):
    monkeypatch.setattr(inbox_module, "RETRY_FIRST_S", 0.01)
    inbox, processed = inbox_recording(outage_attempts=3)
    event_id = new_event_id()
    assert asyncio.run(received_and_drained(inbox, event_id, {"text": "hello"}))
    assert processed == [{"text": "hello"}]
    event = stored(event_id)
    assert event.processed_at is not None and event.error is None


def test_an_event_a_dead_gateway_left_unprocessed_is_processed_when_delivered_again(loaded_db):
    event_id = new_event_id()
    with session_scope() as session:  # stored and acknowledged, then the gateway died
        repo.accept_event(session, "test", event_id, {"text": "hello"}, "citizen-1")
    inbox, processed = inbox_recording()
    assert asyncio.run(received_and_drained(inbox, event_id, {"text": "hello"}))
    assert processed == [{"text": "hello"}]
    assert stored(event_id).processed_at is not None
    assert not asyncio.run(received_and_drained(inbox, event_id, {"text": "hello"})), "processed twice"
    assert processed == [{"text": "hello"}]


def test_a_senders_event_waits_for_the_one_stored_before_it_on_another_replica(loaded_db, monkeypatch):
    """Replica A holds the citizen's first message (Rasa is slow); the second, taken by replica B,
    is processed only after it, though B's conversation lock would have let it go first."""
    asks, ask = [], repo.earlier_event_unprocessed

    def counted(*args) -> bool:
        asks.append(args)
        return ask(*args)

    monkeypatch.setattr(repo, "earlier_event_unprocessed", counted)
    order: list[str] = []

    async def scenario() -> None:
        first_may_finish = asyncio.Event()

        async def slow(payload: dict) -> None:
            await first_may_finish.wait()
            order.append(payload["text"])

        async def fast(payload: dict) -> None:
            order.append(payload["text"])

        replica_a, replica_b = EventInbox("test", slow, redact=dict), EventInbox("test", fast, redact=dict)
        assert await replica_a.receive(new_event_id(), {"text": "first"}, "citizen-2")
        assert await replica_b.receive(new_event_id(), {"text": "second"}, "citizen-2")
        await wait_until_async(lambda: len(asks) > 5, "replica B asking again and again")
        assert order == [], "the second message went before the first"
        first_may_finish.set()
        await asyncio.wait_for(asyncio.gather(replica_a.drain(), replica_b.drain()), 5)

    asyncio.run(scenario())
    assert order == ["first", "second"]


def test_an_event_a_dead_gateway_left_holds_the_next_one_only_for_a_while(loaded_db, caplog):
    with session_scope() as session:  # the first message's gateway died and never came back
        repo.accept_event(session, "test", new_event_id(), {"text": "first"}, "citizen-3")
    processed: list[dict] = []

    async def process(payload: dict) -> None:
        processed.append(payload)

    inbox = EventInbox("test", process, redact=dict, earlier_wait_s=0.3)
    second = new_event_id()
    with caplog.at_level(logging.WARNING, logger="bot.delivery.inbox"):
        assert asyncio.run(received_and_drained(inbox, second, {"text": "second"}, "citizen-3"))
    assert processed == [{"text": "second"}]
    assert "an earlier event is still unprocessed" in caplog.text


def test_another_senders_unprocessed_event_holds_nobody(loaded_db):
    with session_scope() as session:
        repo.accept_event(session, "test", new_event_id(), {"text": "someone else"}, "citizen-4")
    inbox, processed = inbox_recording()  # waits a minute for an earlier event of the same sender

    async def received() -> None:
        assert await inbox.receive(new_event_id(), {"text": "mine"}, "citizen-5")
        await asyncio.wait_for(inbox.drain(), 5)

    asyncio.run(received())
    assert processed == [{"text": "mine"}]


def test_a_processed_event_keeps_neither_payload_nor_sender(loaded_db):
    event_id = new_event_id()
    inbox, _ = inbox_recording()
    assert asyncio.run(received_and_drained(inbox, event_id, {"text": "hello"}))
    event = stored(event_id)
    assert (event.payload, event.sender) == ({}, None)
