"""Rasa actions that answer from the knowledge base. Thin: the content comes from bot.knowledge."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.common import not_understood, office_book, procedure_hint, send, titles
from bot.knowledge import answers
from bot.knowledge.resolve import resolve
from bot.knowledge.search import live_index

ASPECT_BY_INTENT = {intent: aspect for aspect, (intent, _) in answers.ASPECTS.items()}
TRACKING = "tra-cuu-ho-so"  # "where is my dossier" is answered by the tracking guide's entry

class ActionAnswer(Action):
    """Answer the asked aspect (documents, fee, …) of the procedure the citizen means."""

    def name(self) -> str:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        intent = tracker.latest_message.get("intent", {}).get("name", "")
        aspect = ASPECT_BY_INTENT.get(intent, "overview")
        index = live_index.get()
        if intent == "ask_status" and TRACKING in index.by_slug:
            found_slug = TRACKING
        else:
            found = resolve(index, tracker.latest_message.get("text") or "", procedure_hint(tracker),
                            tracker.get_slot("procedure"))
            if found.slug is None:
                send(dispatcher, [answers.choose_procedure(titles(index, found.candidates), intent or "ask_procedure", found.guessed)])
                if found.guessed:
                    not_understood(dispatcher, tracker)
                return []
            found_slug = found.slug
        entry = index.by_slug[found_slug]
        send(dispatcher, answers.answer(entry, aspect, office_book() if aspect == "where" else None))
        return [SlotSet("procedure", entry.slug)]


class ActionFallback(Action):
    """Rasa was unsure what was asked: let the knowledge search find the procedure."""

    def name(self) -> str:
        return "action_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        index = live_index.get()
        result = index.search(tracker.latest_message.get("text") or "", k=3)
        if result.ambiguous:
            send(dispatcher, [answers.choose_procedure(titles(index, [h.slug for h in result.hits]), "ask_procedure")])
            return []
        if result.best is None:  # honest: not understood, and a person can help
            send(dispatcher, [answers.FALLBACK])
            not_understood(dispatcher, tracker)
            return []
        entry = index.by_slug[result.best.slug]
        send(dispatcher, answers.answer(entry, "overview"))
        return [SlotSet("procedure", entry.slug)]
