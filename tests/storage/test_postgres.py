"""The city-sized database: the same migrations and the same concurrency guarantees on a real
PostgreSQL server (started by the tests) — one claim wins, one Zalo token refresh at a time."""

from __future__ import annotations

import asyncio
import threading

import pytest
from sqlalchemy import inspect, select

from bot.console import auth
from bot.events import EventBus
from bot.handoff.service import Conflict, Handoffs
from bot.storage import db
from bot.storage.db import session_scope
from bot.storage.models import Base, Citizen, Conversation, Handoff, HandoffAssignment, Owner
from tests import postgres
from tests.channels import test_zalo_client as zalo_cases
from tests.fakes.zalo_api import FakeZaloAPI
from tests.system import require


@pytest.fixture(scope="module")
def on_postgres(loaded_db):
    """Points the app's database layer at a fresh PostgreSQL server for this module."""
    require(postgres.available(), "postgresql")
    with postgres.postgres_server() as url, pytest.MonkeyPatch.context() as patch:
        settings = loaded_db.model_copy(update={"database_url": url})
        db.upgrade(url)
        patch.setattr(db, "get_settings", lambda: settings)
        db.engine.cache_clear()
        db._factory.cache_clear()
        try:
            yield settings
        finally:
            db.engine().dispose()
            db.engine.cache_clear()
            db._factory.cache_clear()


def test_migrations_build_every_table(on_postgres):
    assert db.engine().dialect.name == "postgresql"
    assert set(Base.metadata.tables) <= set(inspect(db.engine()).get_table_names())


def test_of_concurrent_claims_exactly_one_wins(on_postgres):
    with session_scope() as session:
        citizen = Citizen(channel="web", channel_user_id="pg-citizen")
        session.add(citizen)
        session.flush()
        conversation = Conversation(citizen_id=citizen.id, rasa_sender_id="pg-sender", owner=Owner.queued)
        session.add(conversation)
        session.flush()
        handoff = Handoff(conversation_id=conversation.id, reason="citizen_request", channel="web")
        session.add(handoff)
        volunteers = [auth.create_account(session, f"pg{n}", f"Người {n}", "mật-khẩu-postgres").id for n in range(6)]
    handoffs = Handoffs(EventBus(), on_postgres)
    barrier, outcomes = threading.Barrier(len(volunteers)), {}

    def claim(volunteer_id: int) -> None:
        barrier.wait()
        try:
            asyncio.run(handoffs.claim(handoff.id, volunteer_id))
            outcomes[volunteer_id] = "won"
        except Conflict:
            outcomes[volunteer_id] = "taken"

    threads = [threading.Thread(target=claim, args=(v,)) for v in volunteers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes.values()) == ["taken"] * 5 + ["won"]
    winner = next(v for v, outcome in outcomes.items() if outcome == "won")
    with session_scope() as session:
        assert session.get(Handoff, handoff.id).volunteer_id == winner
        assert session.get(Conversation, conversation.id).owner == Owner.human
        assert session.scalars(
            select(HandoffAssignment.volunteer_id).where(HandoffAssignment.handoff_id == handoff.id)
        ).all() == [winner]


def test_zalo_refreshes_are_serialised_by_a_row_lock(on_postgres, monkeypatch):
    with FakeZaloAPI() as fake:
        fake.add_user(zalo_cases.USER)
        settings = on_postgres.model_copy(
            update={
                "zalo_app_id": fake.app_id,
                "zalo_app_secret": fake.app_secret,
                "zalo_api_url": fake.base_url,
                "zalo_oauth_url": fake.base_url,
            }
        )
        zalo_cases.test_concurrent_refreshes_in_tasks_and_in_two_threads_make_one_oauth_call(
            fake, settings, monkeypatch
        )
