"""A citizen asks for a person, or complains: the app's volunteer desk takes over."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.answer import answer
from actions.common import evidence_of, report, request_handoff, send
from actions.guide import state_of
from bot.knowledge import answers
from bot.knowledge.decide import decide
from bot.knowledge.question import asks_for_a_person
from bot.knowledge.search import live_index
from bot.messages import About


class ActionRequestHuman(Action):
    def name(self) -> str:
        return "action_request_human"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        intent = tracker.latest_message.get("intent", {}).get("name")
        evidence = evidence_of(tracker)
        if intent == "request_human" and not evidence.button and not asks_for_a_person(evidence.text):
            # no person asked for in so many words: a question about a procedure is answered
            decision = decide(live_index.get(), evidence)
            if decision.about.outcome == "answer":
                return answer(dispatcher, tracker, decision)
        guide = state_of(tracker)
        procedure = guide.slug or tracker.get_slot("procedure")
        if intent == "complaint":
            send(dispatcher, [answers.COMPLAINT])
        request_handoff(
            dispatcher,
            "complaint" if intent == "complaint" else "citizen_request",
            procedure,
            guide.step if guide.active else None,
        )
        report(dispatcher, About(procedure, None, "handoff"))
        return []
