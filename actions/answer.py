"""Rasa actions that answer from the knowledge base. Thin: the content comes from bot.knowledge."""
from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot.knowledge import answers
from bot.knowledge.store import offices
from bot.knowledge.resolve import resolve
from bot.knowledge.search import live_index
from bot.storage.db import session_scope

ASPECT_BY_INTENT = {intent: aspect for aspect, (intent, _) in answers.ASPECTS.items()}


def _send(dispatcher: CollectingDispatcher, replies: list[answers.Reply]) -> None:
    for reply in replies:
        dispatcher.utter_message(text=reply.text, buttons=reply.buttons or None)


def _hint(tracker: Tracker) -> str | None:
    return next(tracker.get_latest_entity_values("procedure"), None)


def _titles(index, slugs: list[str]) -> list[tuple[str, str]]:
    return [(slug, index.by_slug[slug].title) for slug in slugs]


class ActionAnswer(Action):
    """Answer the asked aspect (documents, fee, …) of the procedure the citizen means."""

    def name(self) -> str:
        return "action_answer"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        intent = tracker.latest_message.get("intent", {}).get("name", "")
        aspect = ASPECT_BY_INTENT.get(intent, "overview")
        index = live_index.get()
        found = resolve(index, tracker.latest_message.get("text") or "", _hint(tracker), tracker.get_slot("procedure"))
        if found.slug is None:
            _send(dispatcher, [answers.choose_procedure(_titles(index, found.candidates), intent or "ask_procedure")])
            return []
        entry = index.by_slug[found.slug]
        book = None
        if aspect == "where":
            with session_scope() as session:
                book = offices(session)
        _send(dispatcher, answers.answer(entry, aspect, book))
        return [SlotSet("procedure", found.slug)]


class ActionFallback(Action):
    """Rasa was unsure what was asked: let the knowledge search find the procedure."""

    def name(self) -> str:
        return "action_fallback"

    def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]) -> list[dict]:
        index = live_index.get()
        result = index.search(tracker.latest_message.get("text") or "", k=3)
        if result.ambiguous:
            _send(dispatcher, [answers.choose_procedure(_titles(index, [h.slug for h in result.hits]), "ask_procedure")])
            return []
        if result.best is None:
            _send(dispatcher, [answers.FALLBACK])
            return []
        entry = index.by_slug[result.best.slug]
        _send(dispatcher, answers.answer(entry, "overview"))
        return [SlotSet("procedure", entry.slug)]
