"""Which procedure a message is about: a button's entity, the search, or the conversation's context.

Rasa's `procedure` entity is only a hint; the knowledge search knows the live aliases, so a staff
edit works before any retraining.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from bot.knowledge.search import KnowledgeIndex

POPULAR = ["khai-sinh", "can-cuoc", "thuong-tru", "ket-hon"]


@dataclass(frozen=True)
class Resolution:
    slug: str | None
    candidates: list[str] = field(default_factory=list)  # to ask the citizen to choose from
    switched: bool = False  # a new procedure replaced the one in context
    guessed: bool = False  # nothing pointed to any procedure: the candidates are just common ones


def resolve(index: KnowledgeIndex, text: str, hint: str | None, context: str | None) -> Resolution:
    if hint in index.by_slug:
        return Resolution(hint, switched=hint != context)
    result = index.search(text, k=3)
    if result.ambiguous:
        if context in [h.slug for h in result.hits]:
            return Resolution(context)
        return Resolution(None, [h.slug for h in result.hits])
    if result.best is not None:
        return Resolution(result.best.slug, switched=result.best.slug != context)
    if context in index.by_slug:
        return Resolution(context)
    return Resolution(None, [slug for slug in POPULAR if slug in index.by_slug], guessed=True)
