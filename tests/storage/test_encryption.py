"""Citizens' texts are encrypted at rest: the raw database files never hold them in clear; rows
written before encryption are encrypted by `db upgrade`; `keys rotate` moves every row to a new key."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot import keys
from bot.rasa_client import tracker
from bot.settings import get_settings
from bot.storage import crypto, db
from bot.storage.models import ChannelEvent, FaqDraft, Handoff, HandoffNote, Message, Turn, Volunteer

SECRET = "Quyzxw Nguyễn Thị Xyễnq, hồ sơ khai sinh cho bé Pqvwz"
SECRET_WORDS = ("Quyzxw", "Xyễnq", "Pqvwz")  # words no reply or knowledge entry holds


def raw_bytes(database: Path) -> bytes:
    """The database file and its write-ahead log, as on the disk."""
    return b"".join(path.read_bytes() for path in (database, Path(f"{database}-wal")) if path.exists())


def assert_nothing_in_clear(database: Path) -> None:
    content = raw_bytes(database)
    for word in SECRET_WORDS:
        assert word.encode() not in content, f"{word!r} in clear in {database.name}"


def test_what_a_citizen_writes_is_in_no_database_file_in_clear(chat, loaded_db):
    chat(SECRET)
    with db.session_scope() as session:
        message = session.query(Message).filter(Message.author == "citizen").order_by(Message.id.desc()).first()
        assert message.text == SECRET  # read back through the model
        volunteer = session.query(Volunteer).first() or Volunteer(username="enc-v", display_name="V", password_hash="x")
        session.add(volunteer)
        session.flush()
        handoff = Handoff(
            conversation_id=message.conversation_id,
            reason="citizen_request",
            channel="web",
            packet={"transcript": [SECRET]},
        )
        session.add(handoff)
        session.flush()
        session.add_all(
            [
                HandoffNote(handoff_id=handoff.id, volunteer_id=volunteer.id, text=SECRET),
                FaqDraft(conversation_id=message.conversation_id, question=SECRET, answer=SECRET),
                ChannelEvent(channel="telegram", event_id="enc-1", payload={"message": {"text": SECRET}}),
            ]
        )
    settings = get_settings()
    assert_nothing_in_clear(settings.var_dir / "app.db")
    assert_nothing_in_clear(settings.var_dir / "rasa_tracker.db")
    with sqlite3.connect(settings.var_dir / "rasa_tracker.db") as tracker_db:
        stored = [data for (data,) in tracker_db.execute("SELECT data FROM events")]
    assert all(data.startswith(crypto.PREFIX) for data in stored)
    assert any("Quyzxw" in crypto.current_ring().decrypt(data) for data in stored)  # Rasa had the message


def upgrade_to(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, revision)


def test_upgrade_encrypts_rows_stored_in_clear(tmp_path, loaded_db, capsys):
    path = tmp_path / "before.db"
    url = f"sqlite:///{path}"
    upgrade_to(url, "0010")
    with sqlite3.connect(path) as clear:
        clear.execute(
            "INSERT INTO citizens (id, channel, channel_user_id, created_at) VALUES (1, 'web', 'u', '2026-01-01')"
        )
        clear.execute(
            "INSERT INTO conversations (id, citizen_id, rasa_sender_id, owner, created_at, updated_at) "
            "VALUES (1, 1, 's', 'bot', '2026-01-01', '2026-01-01')"
        )
        clear.execute(
            "INSERT INTO messages (id, conversation_id, direction, channel, author, text, buttons, masked, "
            "status, created_at) VALUES (1, 1, 'in', 'web', 'citizen', ?, ?, '[]', 'processed', "
            "'2026-01-01')",
            (SECRET, json.dumps([{"title": SECRET, "payload": "b_1"}])),
        )
        clear.execute(
            "INSERT INTO turns (id, conversation_id, message_id, entities, actions, created_at) "
            "VALUES (1, 1, 1, ?, '[]', '2026-01-01')",
            (json.dumps([{"value": SECRET}]),),
        )
        clear.execute(
            "INSERT INTO channel_events (id, channel, event_id, payload, received_at) "
            "VALUES (1, 'zalo', 'e1', ?, '2026-01-01')",
            (json.dumps({"text": SECRET}),),
        )
    capsys.readouterr()
    upgrade_to(url, "head")
    assert "encrypted 4 stored values" in capsys.readouterr().out
    assert_nothing_in_clear(path)
    engine = db.make_engine(url)
    try:
        with Session(engine) as session:
            message = session.get(Message, 1)
            assert (message.text, message.buttons[0]["title"]) == (SECRET, SECRET)
            assert session.get(Turn, 1).entities == [{"value": SECRET}]
            assert session.get(ChannelEvent, 1).payload == {"text": SECRET}
    finally:
        engine.dispose()
    upgrade_to(url, "head")  # nothing left in clear: nothing done again
    assert "encrypted" not in capsys.readouterr().out


@pytest.fixture
def own_databases(tmp_path, monkeypatch):
    """The app's settings pointed at a fresh app database and tracker database, with the key the
    test sets through DATA_KEY (as an operator sets it)."""
    old, new = crypto.new_key(), crypto.new_key()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'app.db'}")
    monkeypatch.setenv("RASA_TRACKER_URL", f"sqlite:///{tmp_path / 'tracker.db'}")

    def use_keys(value: str) -> None:
        monkeypatch.setenv("DATA_KEY", value)
        for cached in (get_settings, db.engine, db._factory, tracker._tracker_engine):
            cached.cache_clear()

    use_keys(old)
    db.upgrade()
    yield old, new, use_keys, tmp_path
    db.engine().dispose()
    monkeypatch.undo()
    for cached in (get_settings, db.engine, db._factory, tracker._tracker_engine):
        cached.cache_clear()


def test_rotation_moves_every_row_to_the_new_key_and_old_rows_still_read(own_databases, capsys):
    old, new, use_keys, folder = own_databases
    with db.session_scope() as session:
        session.add_all(
            [
                ChannelEvent(channel="web", event_id=str(n), payload={"text": f"{SECRET} {n}"})
                for n in range(crypto.BATCH_ROWS + 3)
            ]
        )  # more than one batch
    with sqlite3.connect(folder / "tracker.db") as events:
        events.execute("CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id TEXT, data TEXT)")
        events.execute(
            "INSERT INTO events (sender_id, data) VALUES ('s', ?)",
            (crypto.KeyRing([old]).encrypt(json.dumps({"text": SECRET})),),
        )

    use_keys(f"{new},{old}")  # the new key in front: new rows use it, old rows still read
    with db.session_scope() as session:
        session.add(ChannelEvent(channel="web", event_id="after", payload={"text": SECRET}))
    with db.session_scope() as session:
        assert session.query(ChannelEvent).filter_by(event_id="0").one().payload == {"text": f"{SECRET} 0"}
    capsys.readouterr()
    assert keys.rotate_command() == 0
    printed = capsys.readouterr().out
    assert f"channel_events.payload: {crypto.BATCH_ROWS + 3} re-encrypted" in printed  # not the row already new
    assert "rasa tracker events: 1 re-encrypted" in printed

    only_new = crypto.KeyRing([new])
    with sqlite3.connect(folder / "app.db") as app_db, sqlite3.connect(folder / "tracker.db") as events:
        stored = [*app_db.execute("SELECT payload FROM channel_events"), *events.execute("SELECT data FROM events")]
    assert len(stored) == crypto.BATCH_ROWS + 5
    assert all(json.loads(only_new.decrypt(value))["text"].startswith(SECRET) for (value,) in stored)
    use_keys(new)  # the old key dropped
    with db.session_scope() as session:
        assert session.query(ChannelEvent).filter_by(event_id="after").one().payload == {"text": SECRET}
    assert keys.rotate_command() == 0
    assert "channel_events.payload: 0 re-encrypted" in capsys.readouterr().out


def test_a_key_file_is_made_once_for_its_owner_only(tmp_path, caplog):
    first = crypto.key_file_of(tmp_path)
    assert oct(first.stat().st_mode & 0o777) == "0o600"
    assert str(first) in caplog.text and first.read_text().strip() not in caplog.text  # where, never the key
    key = first.read_text()
    caplog.clear()
    assert crypto.key_file_of(tmp_path).read_text() == key and not caplog.text
    assert os.listdir(tmp_path) == [crypto.KEY_FILE]  # no draft left behind


def test_a_value_of_a_key_not_in_the_ring_is_refused():
    stored = crypto.KeyRing([crypto.new_key()]).encrypt(SECRET)
    with pytest.raises(crypto.InvalidToken):
        crypto.KeyRing([crypto.new_key()]).decrypt(stored)


def test_a_query_cannot_search_an_encrypted_column_but_may_test_it_for_empty():
    select(Message.id).where(Message.text != "", Message.media.is_(None))
    searches = (
        lambda: Message.text == SECRET,
        lambda: Message.text.like("%Quyzxw%"),
        lambda: HandoffNote.text.in_([SECRET]),
        lambda: ChannelEvent.payload != {},
    )
    for search in searches:
        with pytest.raises(TypeError, match="encrypted column"):
            search()
