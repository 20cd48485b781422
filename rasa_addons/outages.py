"""Outages met while Rasa handles one message of the gateway channel: an action server it cannot
reach, a tracker store (database) that fails. Rasa logs them and carries on, so they are noted
here, per request: such a turn is not an answer, is not saved to the tracker (the message is asked
again later, from the same state), and the channel answers 503."""

from __future__ import annotations

import contextvars
from typing import List, Text

_noted: contextvars.ContextVar[List[Text]] = contextvars.ContextVar("outages")


def watch() -> List[Text]:
    """Start noting for the current request (its task); returns what gets noted."""
    noted: List[Text] = []
    _noted.set(noted)
    return noted


def note(what: Text) -> None:
    noted = _noted.get(None)
    if noted is not None:  # a message of the gateway channel, handled in this request's task
        noted.append(what)


def met() -> bool:
    return bool(_noted.get(None))
