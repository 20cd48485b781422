"""The webhook inbox on the session's database: an event whose processing meets a database outage
is tried again until it is done, and an event stored by a gateway that died before processing it is
processed when the channel delivers it again; a processed one is not."""

from __future__ import annotations

import asyncio
import itertools

from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from bot.delivery import inbox as inbox_module
from bot.delivery.inbox import EventInbox
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import ChannelEvent

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


async def received_and_drained(inbox: EventInbox, event_id: str, payload: dict) -> bool:
    accepted = await inbox.receive(event_id, payload)
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
        repo.accept_event(session, "test", event_id, {"text": "hello"})
    inbox, processed = inbox_recording()
    assert asyncio.run(received_and_drained(inbox, event_id, {"text": "hello"}))
    assert processed == [{"text": "hello"}]
    assert stored(event_id).processed_at is not None
    assert not asyncio.run(received_and_drained(inbox, event_id, {"text": "hello"})), "processed twice"
    assert processed == [{"text": "hello"}]
