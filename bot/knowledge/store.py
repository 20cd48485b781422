"""Reading the live knowledge from the database."""
from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.knowledge.schema import CannedReplies, OfficeBook, Procedure
from bot.storage.models import KnowledgeEntry

OFFICES_SLUG = "_offices"
CANNED_SLUG = "_canned"


def procedures(session: Session) -> list[Procedure]:
    rows = session.scalars(select(KnowledgeEntry).where(KnowledgeEntry.kind == "procedure")).all()
    return [Procedure.model_validate(row.data) for row in rows]


def offices(session: Session) -> OfficeBook:
    row = session.get(KnowledgeEntry, OFFICES_SLUG)
    return OfficeBook.model_validate(row.data)


def canned_replies(session: Session) -> CannedReplies:
    row = session.get(KnowledgeEntry, CANNED_SLUG)
    return CannedReplies.model_validate(row.data) if row else CannedReplies()
