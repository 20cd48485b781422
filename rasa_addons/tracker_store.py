"""Rasa's SQL tracker store, plus what the gateway channel needs.

- It remembers, in memory, the latest turn of each conversation when Rasa saves the tracker at
  the end of a message, so the gateway channel returns intent, entities and actions without reading
  the events back from the database.
- On SQLite (the embedded default) it runs in WAL mode with `synchronous=NORMAL`: a power cut may
  lose the last moments of conversation but never corrupts the file, and commits stop waiting for
  the disk on every event. Its connections are pooled (SQLAlchemy 1.4 opens a new SQLite
  connection per session otherwise). PostgreSQL is left as configured.
- The latest session is read with plain SQL instead of Rasa's ORM query: the same rows, without
  the ORM's per-call cost (about a quarter of Rasa's CPU under load).
- A long session is read bounded: its last `KEEP_TURNS` turns, preceded by what still shapes them
  from before (the session start or restart, each slot's latest value, the active loop, paused or
  not). Rasa replays and featurises every event it is given for every prediction, so reading the
  whole session made message 1,000 of a conversation about 20 times slower than message 10.
  Predictions stay the same: rules look at the last turns, and memoization matches whole training
  stories, none of them KEEP_TURNS turns long. A save stores only the events added since the
  tracker was read.
- Each event's `data` (what the citizen wrote, slots, entities) is stored encrypted with the app's
  data key (bot/storage/crypto.py: DATA_KEY from the supervisor, or var/data_key); events stored in
  clear before are encrypted when the store starts.
"""

from __future__ import annotations

import itertools
import json
import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Dict, List, Optional, Text

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event
from sqlalchemy.orm import sessionmaker
from sqlalchemy.pool import QueuePool

from bot.storage import crypto
from rasa_addons import outages

KEEP_LATEST = 10_000  # conversations whose latest turn is kept in memory
KEEP_TURNS = 10  # turns of a long session read back into the tracker (memoization looks at 5)
STORED = "_gateway_stored_events"  # on a tracker: how many of its events are in the database
DEFAULT_VAR_DIR = Path(__file__).resolve().parent.parent / "var"

log = logging.getLogger(__name__)

# Rasa's "latest session": the events from the newest `session_started` on, or all of them if the
# conversation never had one.
_LATEST_SESSION = """
    FROM events e,
         (SELECT max(timestamp) AS started FROM events WHERE sender_id = :sender AND type_name = :start) s
    WHERE e.sender_id = :sender AND (s.started IS NULL OR e.timestamp >= s.started)
"""
LATEST_SESSION_EVENTS = sa.text("SELECT e.data" + _LATEST_SESSION + "ORDER BY e.id")
LATEST_SESSION_SIZE = sa.text("SELECT count(*)" + _LATEST_SESSION)
# The newest session start or restart: nothing before it shapes the tracker.
LATEST_RESET = sa.text(
    "SELECT coalesce(max(id), 0) FROM events WHERE sender_id = :sender AND type_name IN ('session_started', 'restart')"
)
# Where the last KEEP_TURNS turns begin (each turn begins when the bot starts listening); none when
# the session is shorter.
TAIL_START = sa.text(
    "SELECT id FROM events WHERE sender_id = :sender AND id > :reset AND type_name = 'action'"
    " AND action_name = 'action_listen' ORDER BY id DESC LIMIT 1 OFFSET :turns"
)
TAIL_EVENTS = sa.text("SELECT data FROM events WHERE sender_id = :sender AND id >= :tail ORDER BY id")
ALL_EVENTS = sa.text("SELECT data FROM events WHERE sender_id = :sender ORDER BY id")
_BEFORE_TAIL = "FROM events WHERE sender_id = :sender AND id > :reset AND id < :tail AND type_name"
# The state the tail starts from: the reset itself, the latest value of each slot (since the last
# reset of all slots), the latest active loop and pause or resume. Slot events keep their slot's
# name in `action_name`, as Rasa stores them.
STATE_BEFORE_TAIL = sa.text(f"""
    SELECT data FROM events WHERE id = :reset OR id IN (
        SELECT max(id) {_BEFORE_TAIL} = 'slot' AND id > (
            SELECT coalesce(max(id), :reset) {_BEFORE_TAIL} = 'reset_slots')
        GROUP BY action_name
        UNION SELECT max(id) {_BEFORE_TAIL} = 'active_loop'
        UNION SELECT max(id) {_BEFORE_TAIL} IN ('pause', 'resume'))
    ORDER BY id
""")


# Every bounded read asks for one sender's events of one kind (and action or slot name) by id; Rasa
# indexes only sender_id, so each read scanned the whole conversation. (The ids read are the
# sender's own, so the outer query of STATE_BEFORE_TAIL needs no sender filter.)
EVENTS_BY_KIND_INDEXES = [
    sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON events ({columns})")
    for name, columns in (
        ("ix_events_sender_kind", "sender_id, type_name, id"),
        ("ix_events_sender_kind_name", "sender_id, type_name, action_name, id"),
    )
]


def _latest_session_of(sender_id: Text) -> Dict[Text, Any]:
    return {"sender": sender_id, "start": SessionStarted.type_name}


def latest_turn_of(tracker: DialogueStateTracker) -> Optional[Dict[Text, Any]]:
    """Intent, entities and the actions run after the tracker's latest user message."""
    actions: List[Text] = []
    for item in reversed(tracker.events):
        if isinstance(item, ActionExecuted):
            if item.action_name != "action_listen":
                actions.insert(0, item.action_name)
        elif isinstance(item, UserUttered):
            return {
                "message_id": item.message_id,
                "intent": item.intent.get("name"),
                "confidence": item.intent.get("confidence"),
                "entities": [{"entity": e.get("entity"), "value": e.get("value")} for e in item.entities or []],
                "actions": actions,
            }
    return None


class GatewaySQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._latest: "OrderedDict[Text, Dict[Text, Any]]" = OrderedDict()
        if self.engine.dialect.name == "sqlite":
            url = self.engine.url
            self.engine.dispose()
            self.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=2, max_overflow=8)
            event.listen(self.engine, "connect", self._sqlite_pragmas)
            self.sessionmaker = sessionmaker(bind=self.engine)
        self._insert_event = self.SQLEvent.__table__.insert()
        self._ring = crypto.ring_from_environment(DEFAULT_VAR_DIR)
        for index in EVENTS_BY_KIND_INDEXES:
            try:
                with self.engine.begin() as connection:
                    connection.execute(index)
            except sa.exc.IntegrityError:  # PostgreSQL: another replica created it at the same moment
                pass
        encrypted = crypto.reencrypt_column(self.engine.begin, "events", "data", self._ring, crypto.clear_values)
        if encrypted:
            log.info("encrypted %d tracker events stored in clear", encrypted)

    @staticmethod
    def _sqlite_pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    async def retrieve(self, sender_id: Text) -> Optional[DialogueStateTracker]:
        """The tracker of the latest session, as Rasa's `retrieve` returns it, but of a long session
        only its last KEEP_TURNS turns and the state they start from."""
        with self.engine.connect() as connection:
            rows = self._latest_session_rows(connection, sender_id)
        if not self.domain or not rows:
            return None
        events = [item for item in (Event.from_parameters(self._loaded(row)) for row in rows) if item]
        tracker = DialogueStateTracker.from_events(sender_id, events, self.domain.slots)
        setattr(tracker, STORED, len(tracker.events))
        return tracker

    async def retrieve_full_tracker(self, conversation_id: Text) -> Optional[DialogueStateTracker]:
        """Every session's events (Rasa's own query cannot read encrypted data)."""
        with self.engine.connect() as connection:
            rows = connection.execute(ALL_EVENTS, {"sender": conversation_id}).scalars().all()
        if not self.domain or not rows:
            return None
        return DialogueStateTracker.from_dict(conversation_id, [self._loaded(row) for row in rows], self.domain.slots)

    def _loaded(self, data: Text) -> Dict[Text, Any]:
        return json.loads(self._ring.decrypt(data))

    @staticmethod
    def _latest_session_rows(connection: Any, sender_id: Text) -> List[Text]:
        reset = connection.execute(LATEST_RESET, {"sender": sender_id}).scalar_one()
        tail = connection.execute(TAIL_START, {"sender": sender_id, "reset": reset, "turns": KEEP_TURNS - 1}).scalar()
        if tail is None:
            return connection.execute(LATEST_SESSION_EVENTS, _latest_session_of(sender_id)).scalars().all()
        where = {"sender": sender_id, "reset": reset, "tail": tail}
        return [
            *connection.execute(STATE_BEFORE_TAIL, where).scalars(),
            *connection.execute(TAIL_EVENTS, where).scalars(),
        ]

    async def save(self, tracker: DialogueStateTracker) -> None:
        """Store the tracker's events the database does not have yet: those added since it was read,
        or, for a tracker not read from here, those beyond the stored latest session (as Rasa does).
        A turn that met an outage is not saved: the message is asked again from the same state."""
        if outages.met():
            return
        await self.stream_events(tracker)
        with self.engine.begin() as connection:
            stored = getattr(tracker, STORED, None)
            if stored is None:
                stored = connection.execute(LATEST_SESSION_SIZE, _latest_session_of(tracker.sender_id)).scalar_one()
            rows = [self._event_row(tracker.sender_id, item) for item in itertools.islice(tracker.events, stored, None)]
            if rows:
                connection.execute(self._insert_event, rows)
        setattr(tracker, STORED, len(tracker.events))
        turn = latest_turn_of(tracker)
        if turn is not None:
            self._latest[tracker.sender_id] = turn
            self._latest.move_to_end(tracker.sender_id)
            while len(self._latest) > KEEP_LATEST:
                self._latest.popitem(last=False)

    def _event_row(self, sender_id: Text, item: Event) -> Dict[Text, Any]:
        data = item.as_dict()
        return {
            "sender_id": sender_id,
            "type_name": item.type_name,
            "timestamp": data.get("timestamp"),
            "intent_name": data.get("parse_data", {}).get("intent", {}).get("name"),
            "action_name": data.get("name"),
            "data": self._ring.encrypt(json.dumps(data)),
        }

    def latest_turn(self, sender_id: Text, message_id: Text) -> Optional[Dict[Text, Any]]:
        """The turn of `message_id`, if it is the latest one saved for this conversation."""
        turn = self._latest.get(sender_id)
        if turn is None or turn["message_id"] != message_id:
            return None
        return {key: value for key, value in turn.items() if key != "message_id"}
