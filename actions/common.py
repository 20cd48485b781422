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


def procedure_hint(tracker: Tracker) -> str | None:
    return next(tracker.get_latest_entity_values("procedure"), None)


def titles(index: KnowledgeIndex, slugs: list[str]) -> list[tuple[str, str]]:
    return [(slug, index.by_slug[slug].title) for slug in slugs]


def office_book():
    with session_scope() as session:
        return offices(session)
