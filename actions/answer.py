"""The action behind every question and small talk: it hands the evidence to bot.knowledge's
decision and sends what it decided. Thin: the content and the choice come from bot.knowledge."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import evidence_of, not_understood, report, send
from actions.privacy import privacy_notice
from bot.knowledge import answers
from bot.knowledge.decide import Decision, decide
from bot.knowledge.search import live_index


class ActionAnswer(Action):
    """Answer the fact asked about the procedure meant, decline what is not covered, or ask."""

    def name(self) -> str:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        return answer(dispatcher, tracker, decide(live_index.get(), evidence_of(tracker)))


def answer(dispatcher: CollectingDispatcher, tracker: Tracker, decision: Decision) -> list[dict]:
    """Send a decision's replies and report it; the procedure answered becomes the context."""
    if decision.about.outcome == "chitchat":
        intent = (tracker.latest_message.get("intent") or {}).get("name") or ""
        send(dispatcher, answers.small_talk(intent, privacy_notice()))
    send(dispatcher, decision.replies)
    report(dispatcher, decision.about)
    if decision.about.outcome == "clarify" and not (tracker.latest_message.get("text") or "").startswith("/"):
        not_understood(dispatcher, tracker)
    if decision.about.outcome == "answer":
        return [SlotSet("procedure", decision.about.procedure)]
    return []
