"""What the knowledge editor does, in one transaction each: publish a draft, restore a revision,
mark an entry reviewed; and the preview of what the assistant would answer from a draft."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sqlalchemy.orm import Session

from bot.console.auth import Principal
from bot.knowledge import publish
from bot.knowledge.decide import Decision, Evidence, decide
from bot.knowledge.schema import Procedure
from bot.knowledge.search import live_index
from bot.rasa_client import RasaClient, RasaUnavailable
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry
from bot.text import normalize
from bot.text.masking import mask

log = logging.getLogger(__name__)


def _live(session: Session, slug: str, kind: str | None) -> KnowledgeEntry:
    """The live entry; PublishError 404 if it is not there, or not of `kind` (the procedures' routes)."""
    row = publish.entry(session, slug)
    if kind is not None and row.kind != kind:
        raise publish.PublishError(404, "Không có mục kiến thức này.")
    return row


def entry(slug: str, kind: str | None = None) -> dict[str, Any]:
    with session_scope() as session:
        row = _live(session, slug, kind)
        return {"revision": row.revision, "entry": row.data}


def save(slug: str, revision: int, data: dict[str, Any], who: Principal, kind: str | None = None) -> int:
    with session_scope() as session:
        _live(session, slug, kind)
        return publish.publish(
            session, slug, data, actor_id=who.volunteer_id, author=who.name, expected_revision=revision
        )


def restore(slug: str, revision: int, who: Principal, kind: str | None = None) -> int:
    with session_scope() as session:
        _live(session, slug, kind)
        return publish.restore(session, slug, revision, actor_id=who.volunteer_id, author=who.name)


def revisions(slug: str, kind: str | None = None) -> list[dict[str, Any]]:
    with session_scope() as session:
        _live(session, slug, kind)
        return publish.revisions(session, slug)


def revision(slug: str, number: int) -> dict[str, Any]:
    with session_scope() as session:
        return publish.revision(session, slug, number)


def reviewed(slug: str, revision: int, who: Principal) -> int:
    with session_scope() as session:
        return publish.mark_reviewed(
            session, slug, actor_id=who.volunteer_id, author=who.name, expected_revision=revision
        )


def problems(slug: str, data: Any) -> list[dict[str, str]]:
    entry(slug)
    return publish.problems(slug, data)


def entries() -> list[dict[str, Any]]:
    with session_scope() as session:
        return publish.entries(session)


def due_for_review() -> list[dict[str, Any]]:
    with session_scope() as session:
        return publish.due_for_review(session)


async def preview(rasa: RasaClient, slug: str, data: dict[str, Any], question: str) -> Decision:
    """What the assistant would answer to `question` if the draft were published: Rasa's NLU reads
    the question as it would in a conversation (no tracker is touched), and the decision runs over
    the live index with the draft in place of the live entry."""
    await asyncio.to_thread(entry, slug)  # 404 for an unknown slug
    draft = publish.validate(slug, data)
    evidence = await _evidence(rasa, mask(question).text)
    return await asyncio.to_thread(_decide, draft, evidence)


async def _evidence(rasa: RasaClient, masked: str) -> Evidence:
    try:
        reading = await rasa.parse(normalize(masked))
    except RasaUnavailable as exc:
        log.warning("preview: Rasa unavailable (%s); deciding without its intent", exc)
        return Evidence(text=masked)
    entity = next((e.get("value") for e in reading.entities if e.get("entity") == "procedure"), None)
    return Evidence(text=masked, intent=reading.intent, confidence=float(reading.confidence or 0.0), entity=entity)


def _decide(draft: Any, evidence: Evidence) -> Decision:
    index = live_index.get()
    if isinstance(draft, Procedure):  # offices and canned replies do not change what search finds
        index = index.with_draft(draft)
    return decide(index, evidence)
