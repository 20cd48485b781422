"""A new Rasa session (after an hour without messages): carry the state over and, when a guide
was left half-way, offer to continue where the citizen stopped."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import send
from actions.guide import state_of
from bot import guide
from bot.knowledge.search import live_index


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        carried = [
            SlotSet(name, value)
            for name, value in tracker.slots.items()
            if value is not None and name != "session_started_metadata"
        ]
        state = state_of(tracker)
        index = live_index.get()
        if state.active and state.phase != "outcome" and state.slug in index.by_slug:
            send(dispatcher, [guide.resume_offer(index.by_slug[state.slug], state)])
        return [SessionStarted(), *carried, ActionExecuted("action_listen")]
