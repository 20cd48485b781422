"""Database access details the router relies on."""

import datetime as dt

from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import Citizen, as_utc


def test_last_inbound_time_is_refreshed_once_a_minute_at_most(loaded_db, monkeypatch):
    start = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.timezone.utc)

    def message_at(seconds: int) -> dt.datetime:
        monkeypatch.setattr(repo, "utcnow", lambda: start + dt.timedelta(seconds=seconds))
        with session_scope() as session:
            conversation = repo.conversation_for(session, "zalo", "stamp-citizen")
            citizen_id = conversation.citizen_id
        with session_scope() as session:
            return as_utc(session.get(Citizen, citizen_id).last_inbound_at)

    assert message_at(0) == start
    assert message_at(30) == start  # within the minute: no write
    assert message_at(61) == start + dt.timedelta(seconds=61)


def test_outbound_messages_keep_their_order_and_buttons_get_keys(loaded_db):
    from bot.messages import Button, Outbound

    with session_scope() as session:
        conversation_id = repo.conversation_for(session, "web", "order-citizen").id
        keyed = repo.with_button_keys(
            session,
            conversation_id,
            [
                Outbound("một", (Button("Lệ phí", "/ask_fee"),)),
                Outbound("hai"),
                Outbound("ba", (Button("Xong", "/guide_next"),)),
            ],
        )
        ids = repo.record_outbound(session, conversation_id, "web", keyed)
    assert ids == sorted(ids) and len(set(ids)) == 3
    with session_scope() as session:
        texts = [session.get(repo.Message, i).text for i in ids]
        key = keyed[0].buttons[0].payload
        pressed = repo.button_for(session, conversation_id, key)
        assert repo.button_for(session, conversation_id + 1, key) is None  # another conversation's key
    assert texts == ["một", "hai", "ba"]
    assert key.startswith(repo.BUTTON_KEY_PREFIX) and pressed.intent_payload == "/ask_fee"
