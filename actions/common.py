"""What every action needs: the evidence of a turn, sending replies, reporting the decision."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.knowledge.answers import Reply
from bot.knowledge.decide import Evidence
from bot.messages import About

UNANSWERED = "unanswered"  # marks (in the tracker) a turn the bot could not help with at all


def send(dispatcher: CollectingDispatcher, replies: list[Reply]) -> None:
    for reply in replies:
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons or None)


def report(dispatcher: CollectingDispatcher, about: About) -> None:
    """Tell the app what this turn decided; the app stores it and returns it as `about`."""
    dispatcher.utter_message(json_message={"about": about.as_dict()})


def request_handoff(
    dispatcher: CollectingDispatcher, reason: str, procedure: str | None = None, step: int | None = None
) -> None:
    """Ask the app for a volunteer. The app moves the conversation to its queue and tells the
    citizen who is available; the marker itself is never shown."""
    dispatcher.utter_message(json_message={"handoff": {"reason": reason, "procedure": procedure, "step": step}})


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
        elif (
            users == 1
            and event.get("event") == "bot"
            and ((event.get("data") or {}).get("custom") or {}).get(UNANSWERED)
        ):
            return True
    return False


def evidence_of(tracker: Tracker) -> Evidence:
    """Everything the decision may weigh: the citizen's words as written (the app passes them,
    masked, in the message's metadata; Rasa itself sees them normalised), Rasa's reading, a
    button's procedure, and the conversation's procedure."""
    message = tracker.latest_message or {}
    typed = message.get("text") or ""
    button = typed.startswith("/")
    entity = next(tracker.get_latest_entity_values("procedure"), None)
    intent = message.get("intent") or {}
    written = (message.get("metadata") or {}).get("text")
    return Evidence(
        text=typed if button else (written or typed),
        intent=intent.get("name"),
        confidence=float(intent.get("confidence") or 0.0),
        button=entity if button else None,
        entity=None if button else entity,
        context=tracker.get_slot("procedure"),
    )
