"""Deleting a conversation's events from Rasa's SQL tracker store (its `events` table), for the
citizen's right to be forgotten and the retention limit: Rasa's HTTP API cannot remove events.
Also their re-encryption with a new data key (`python -m bot keys rotate`)."""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import Engine, make_url, text

from bot.settings import get_settings
from bot.storage import crypto
from bot.storage.db import make_engine


@lru_cache
def _tracker_engine() -> Engine:
    url = make_url(get_settings().tracker_url)
    if url.get_backend_name() == "postgresql":  # Rasa's environment names psycopg2; the app has psycopg 3
        url = url.set(drivername="postgresql+psycopg")
    return make_engine(url.render_as_string(hide_password=False))


def delete_tracker_events(sender_ids: list[str], before: float | None = None) -> int:
    """Delete the events of these conversations, or, with `before` (a Unix time), every event older
    than that; returns how many went."""
    engine = _tracker_engine()
    try:
        with engine.begin() as connection:
            if not engine.dialect.has_table(connection, "events"):
                return 0
            if before is not None:
                return connection.execute(text("DELETE FROM events WHERE timestamp < :t"), {"t": before}).rowcount
            total = 0
            for sender in sender_ids:
                total += connection.execute(text("DELETE FROM events WHERE sender_id = :s"), {"s": sender}).rowcount
            return total
    finally:
        # Rasa's database belongs to another process: keep no idle connection to it between purges
        # (one kept open here was seen to hide a later change of a SQLite file from Rasa).
        engine.dispose()


def reencrypt_tracker_events(ring: crypto.KeyRing) -> int:
    """Encrypt with the ring's current key the events' data not encrypted with it yet; returns how
    many changed (none before Rasa made its table)."""
    engine = _tracker_engine()
    try:
        with engine.connect() as connection:
            if not engine.dialect.has_table(connection, "events"):
                return 0
        return crypto.reencrypt_column(engine.begin, "events", "data", ring, crypto.not_current(ring))
    finally:
        engine.dispose()
