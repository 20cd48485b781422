"""`python -m bot keys rotate`: re-encrypt every stored record with the current data key (the first
of DATA_KEY or of var/data_key), in batches committed one by one, while the bot keeps serving.

Rotation: put a new key in front of the old one (`python -m bot keys new` prints one), restart the
services so they write with it and still read the old one, run `keys rotate`, then drop the old key.
"""

from __future__ import annotations

from bot.rasa_client.tracker import reencrypt_tracker_events
from bot.storage import crypto
from bot.storage.db import engine
from bot.storage.models import Base


def rotate_command() -> int:
    ring = crypto.current_ring()
    for table, column in crypto.encrypted_columns(Base.metadata):
        changed = crypto.reencrypt_column(engine().begin, table, column, ring, crypto.not_current(ring))
        print(f"{table}.{column}: {changed} re-encrypted")
    print(f"rasa tracker events: {reencrypt_tracker_events(ring)} re-encrypted")
    return 0


def new_command() -> int:
    print(crypto.new_key())
    return 0
