"""What every action needs: sending replies, the procedure hint, candidate titles."""
from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.knowledge.answers import Reply
from bot.knowledge.search import KnowledgeIndex
from bot.knowledge.store import offices
from bot.storage.db import session_scope


def send(dispatcher: CollectingDispatcher, replies: list[Reply]) -> None:
    for reply in replies:
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons or None)


def request_handoff(dispatcher: CollectingDispatcher, reason: str, procedure: str | None = None,
                    step: int | None = None) -> None:
    """Ask the app for a volunteer. The app moves the conversation to its queue and tells the
    citizen who is available; the marker itself is never shown."""
    dispatcher.utter_message(json_message={"handoff": {"reason": reason, "procedure": procedure, "step": step}})


UNANSWERED = "unanswered"  # marks (in the tracker) a turn the bot could not help with at all


def not_understood(dispatcher: CollectingDispatcher, tracker: Tracker) -> None:
    """Record a turn the bot could not help with; the second in a row calls a volunteer."""
    dispatcher.utter_message(json_message={UNANSWERED: True})
    if previous_turn_unanswered(tracker):
        request_handoff(dispatcher, "repeated_fallback", tracker.get_slot("procedure"))


def previous_turn_unanswered(tracker: Tracker) -> bool:
    users = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            users += 1
            if users == 2:
                return False
        elif users == 1 and event.get("event") == "bot" and ((event.get("data") or {}).get("custom") or {}).get(UNANSWERED):
            return True
    return False


def procedure_hint(tracker: Tracker) -> str | None:
    return next(tracker.get_latest_entity_values("procedure"), None)


def titles(index: KnowledgeIndex, slugs: list[str]) -> list[tuple[str, str]]:
    return [(slug, index.by_slug[slug].title) for slug in slugs]


def office_book():
    with session_scope() as session:
        return offices(session)
