"""A citizen asks for a person, or complains: the app's volunteer desk takes over."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.common import report, request_handoff, send
from actions.guide import state_of
from bot.knowledge import answers
from bot.knowledge.decide import About


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        guide = state_of(tracker)
        procedure = guide.slug or tracker.get_slot("procedure")
        if intent == "complaint":
            send(dispatcher, [answers.COMPLAINT])
        request_handoff(dispatcher, "complaint" if intent == "complaint" else "citizen_request",
                        procedure, guide.step if guide.active else None)
        report(dispatcher, About(procedure, None, "handoff"))
        return []
