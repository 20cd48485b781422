"""The outbox on the session's database: a gateway that died between storing messages and sending
them leaves them pending; the next message to that citizen sends them first, so the citizen reads
them in the order they were written. What a live process is still sending is left to it."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools

from sqlalchemy import update

from bot.delivery.outbox import LEFT_AFTER_S, Outbox
from bot.events import EventBus
from bot.messages import Outbound
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import Message, utcnow

_users = itertools.count(1)


def test_messages_a_dead_gateway_left_unsent_go_before_the_next_ones(loaded_db):
    user_id = f"outbox-test-{next(_users)}"
    sent = []

    async def send(to: str, outbound: Outbound) -> None:
        assert to == user_id
        sent.append(outbound.text)

    dead, other, live = Outbox(EventBus()), Outbox(EventBus()), Outbox(EventBus())
    for outbox in (dead, other, live):
        outbox.register("telegram", send)
    with session_scope() as session:
        conversation_id = repo.conversation_for(session, "telegram", user_id).id
        first, left = dead.store(session, conversation_id, "telegram", [Outbound("one"), Outbound("two")])
    asyncio.run(dead.deliver("telegram", user_id, [first]))  # then that gateway died before "two"
    assert sent == ["one"]
    with session_scope() as session:
        session.execute(
            update(Message)
            .where(Message.id == left.message_id)
            .values(created_at=utcnow() - dt.timedelta(seconds=LEFT_AFTER_S + 4))
        )
        # this process is sending a notice right now; another live gateway has just stored one
        live.store(session, conversation_id, "telegram", [Outbound("being sent here", author="system")])
        other.store(session, conversation_id, "telegram", [Outbound("being sent there", author="volunteer")])

    with session_scope() as session:
        later = live.store(session, conversation_id, "telegram", [Outbound("three"), Outbound("four")])
    asyncio.run(live.deliver("telegram", user_id, later))
    assert sent == ["one", "two", "three", "four"]
    with session_scope() as session:
        pending = {m.text for m in repo.pending_outbound(session, "telegram", user_id)}
    assert pending == {"being sent here", "being sent there"}
