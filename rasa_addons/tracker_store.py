"""Rasa's SQL tracker store, plus what the gateway channel needs.

- It remembers, in memory, the latest turn of each conversation when Rasa saves the tracker at
  the end of a message, so the gateway channel returns intent, entities and actions without reading
  the events back from the database.
- On SQLite (the embedded default) it runs in WAL mode with `synchronous=NORMAL`: a power cut may
  lose the last moments of conversation but never corrupts the file, and commits stop waiting for
  the disk on every event. PostgreSQL is left as configured.
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, List, Optional, Text

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sqlalchemy import event

KEEP_TURNS = 10_000  # conversations whose latest turn is kept in memory


def latest_turn_of(tracker: DialogueStateTracker) -> Optional[Dict[Text, Any]]:
    """Intent, entities and the actions run after the tracker's latest user message."""
    actions: List[Text] = []
    for item in reversed(tracker.events):
        if isinstance(item, ActionExecuted):
            if item.action_name != "action_listen":
                actions.insert(0, item.action_name)
        elif isinstance(item, UserUttered):
            return {"message_id": item.message_id, "intent": item.intent.get("name"),
                    "confidence": item.intent.get("confidence"),
                    "entities": [{"entity": e.get("entity"), "value": e.get("value")} for e in item.entities or []],
                    "actions": actions}
    return None


class GatewaySQLTrackerStore(SQLTrackerStore):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._latest: "OrderedDict[Text, Dict[Text, Any]]" = OrderedDict()
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", self._sqlite_pragmas)

    @staticmethod
    def _sqlite_pragmas(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    async def save(self, tracker: DialogueStateTracker) -> None:
        await super().save(tracker)
        turn = latest_turn_of(tracker)
        if turn is not None:
            self._latest[tracker.sender_id] = turn
            self._latest.move_to_end(tracker.sender_id)
            while len(self._latest) > KEEP_TURNS:
                self._latest.popitem(last=False)

    def latest_turn(self, sender_id: Text, message_id: Text) -> Optional[Dict[Text, Any]]:
        """The turn of `message_id`, if it is the latest one saved for this conversation."""
        turn = self._latest.get(sender_id)
        if turn is None or turn["message_id"] != message_id:
            return None
        return {key: value for key, value in turn.items() if key != "message_id"}
