import asyncio
import uuid
from collections import Counter

import httpx
import pytest

from bot.rasa_client import RasaClient, delete_tracker_events
from bot.settings import get_settings

PROCEDURE = "can-cuoc"


def test_a_conversation_always_goes_to_the_same_replica_and_load_spreads():
    client = RasaClient(["http://127.0.0.1:1", "http://127.0.0.1:2"], "token")
    assert all(client.replica_url(f"s{i}") == client.replica_url(f"s{i}") for i in range(50))
    spread = Counter(client.replica_url(f"sender-{i}") for i in range(1000))
    assert len(spread) == 2 and min(spread.values()) > 400


@pytest.fixture
def rasa(stack):
    """`rasa(lambda client: client.…(…))` runs one call of a RasaClient against the real Rasa."""
    settings = get_settings()

    def run(call):
        async def main():
            client = RasaClient(settings.rasa_urls, settings.ensure_rasa_token())
            try:
                return await call(client)
            finally:
                await client.close()

        return asyncio.run(main())

    return run


@pytest.fixture
def sender() -> str:
    return f"rasa-client-{uuid.uuid4().hex}"


def tracker(sender: str) -> dict:
    """The conversation as Rasa holds it (read over HTTP: the store may be any database)."""
    settings = get_settings()
    response = httpx.get(
        f"{RasaClient(settings.rasa_urls, '').replica_url(sender)}/conversations/{sender}/tracker",
        params={"token": settings.ensure_rasa_token(), "include_events": "ALL"},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()


def guide_slots(sender: str) -> dict:
    slots = tracker(sender)["slots"]
    return {name: slots.get(name) for name in ("procedure", "guide_slug", "guide_step", "guide_phase", "guide_stuck")}


def test_a_paused_conversation_gets_no_answer_until_it_is_resumed(rasa, sender):
    assert rasa(lambda client: client.send(sender, "xin chao", "m-0")).replies != []  # the session is open
    rasa(lambda client: client.pause(sender))
    assert tracker(sender)["paused"] is True
    assert rasa(lambda client: client.send(sender, "xin chao", "m-1")).replies == []
    rasa(lambda client: client.resume(sender))
    resumed = tracker(sender)
    assert resumed["paused"] is False and resumed["latest_action_name"] == "action_listen"
    assert rasa(lambda client: client.send(sender, "xin chao", "m-2")).replies != []


def test_hand_back_resumes_in_a_fresh_session_at_the_volunteers_step(rasa, sender):
    rasa(lambda client: client.pause(sender))
    rasa(lambda client: client.hand_back(sender, PROCEDURE, 3))
    handed_back = tracker(sender)
    assert handed_back["paused"] is False and handed_back["latest_action_name"] == "action_listen"
    kinds = [event["event"] for event in handed_back["events"]]
    assert kinds[kinds.index("pause") :].count("session_started") == 1
    assert guide_slots(sender) == {
        "procedure": PROCEDURE,
        "guide_slug": PROCEDURE,
        "guide_step": 3.0,
        "guide_phase": "paused",
        "guide_stuck": 0.0,
    }


def test_hand_back_without_a_step_keeps_only_the_procedure(rasa, sender):
    rasa(lambda client: client.pause(sender))
    rasa(lambda client: client.hand_back(sender, PROCEDURE, None))
    assert tracker(sender)["paused"] is False
    assert guide_slots(sender) == {
        "procedure": PROCEDURE,
        "guide_slug": None,
        "guide_step": None,
        "guide_phase": None,
        "guide_stuck": None,
    }


def test_deleting_a_conversations_events_leaves_the_others(rasa, sender):
    other = f"{sender}-other"
    for someone in (sender, other):
        rasa(lambda client, s=someone: client.pause(s))
    assert delete_tracker_events([sender]) >= 1
    forgotten = tracker(sender)
    assert forgotten["paused"] is False and "pause" not in [event["event"] for event in forgotten["events"]]
    assert tracker(other)["paused"] is True


def test_events_are_deleted_from_a_postgresql_tracker_named_with_rasas_driver(monkeypatch):
    """RASA_TRACKER_URL names psycopg2 (Rasa's environment); the app, with psycopg 3, deletes too."""
    from sqlalchemy import create_engine, text

    from bot.rasa_client import tracker as tracker_module
    from tests import postgres
    from tests.system import require

    require(postgres.available(), "postgresql")
    with postgres.postgres_server() as url:
        engine = create_engine(url)
        with engine.begin() as db:
            db.execute(text("CREATE TABLE events (id serial PRIMARY KEY, sender_id text, timestamp float)"))
            db.execute(text("INSERT INTO events (sender_id, timestamp) VALUES ('forget-me', 1), ('keep-me', 2)"))
        settings = get_settings().model_copy(update={"rasa_tracker_url": url.replace("+psycopg", "+psycopg2")})
        monkeypatch.setattr(tracker_module, "get_settings", lambda: settings)
        tracker_module._tracker_engine.cache_clear()
        try:
            assert delete_tracker_events(["forget-me"]) == 1
            with engine.connect() as db:
                assert db.scalars(text("SELECT sender_id FROM events")).all() == ["keep-me"]
        finally:
            tracker_module._tracker_engine().dispose()
            tracker_module._tracker_engine.cache_clear()
            engine.dispose()
