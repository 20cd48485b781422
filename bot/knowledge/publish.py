"""Publishing knowledge from the staff's editor: validate, check the revision the editor started
from, write the live entry and its revision, and log who did it — in the caller's transaction.

Search picks a published entry up by itself (bot.knowledge.search.LiveIndex), so an edit is live in
seconds with no Rasa retraining."""
from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.knowledge.schema import CannedReplies, OfficeBook, Procedure
from bot.knowledge.store import CANNED_SLUG, OFFICES_SLUG
from bot.storage import audit
from bot.storage.models import KnowledgeEntry, KnowledgeRevision, utcnow

MODELS: dict[str, type[BaseModel]] = {"procedure": Procedure, "offices": OfficeBook, "canned": CannedReplies}
TITLES = {OFFICES_SLUG: "Cơ quan tiếp nhận", CANNED_SLUG: "Mẫu trả lời của tình nguyện viên"}


class PublishError(Exception):
    """Why an entry was not published: 404 (no such entry), 422 (invalid `field`), 409 (the
    editor started from `revision`'s predecessor: someone published in between)."""

    def __init__(self, status: int, message: str, field: str | None = None, revision: int | None = None):
        super().__init__(message)
        self.status, self.message, self.field, self.revision = status, message, field, revision


def kind_of(slug: str) -> str:
    return {OFFICES_SLUG: "offices", CANNED_SLUG: "canned"}.get(slug, "procedure")


def problems(slug: str, data: Any) -> list[dict[str, str]]:
    """Every schema problem of a draft, each with its field's path ("fee.text", "documents.2.name")."""
    try:
        entry = MODELS[kind_of(slug)].model_validate(data)
    except ValidationError as exc:
        return [{"field": ".".join(str(p) for p in e["loc"]), "error": e["msg"]} for e in exc.errors()]
    if isinstance(entry, Procedure) and entry.slug != slug:
        return [{"field": "slug", "error": f"the slug is fixed: {slug}"}]
    return []


def validate(slug: str, data: Any) -> BaseModel:
    found = problems(slug, data)
    if found:
        raise PublishError(422, found[0]["error"], field=found[0]["field"] or None)
    return MODELS[kind_of(slug)].model_validate(data)


def publish(session: Session, slug: str, data: Any, *, actor_id: int | None, author: str | None,
            expected_revision: int | None, origin: str = "staff", action: str = "knowledge.publish") -> int:
    """Publish `data` as the next revision of `slug`; returns that revision number."""
    entry = validate(slug, data)
    row = session.scalar(select(KnowledgeEntry).where(KnowledgeEntry.slug == slug).with_for_update())
    if row is None:
        raise PublishError(404, "Không có mục kiến thức này.")
    if expected_revision is not None and expected_revision != row.revision:
        raise PublishError(409, "Mục này vừa được người khác cập nhật; anh/chị tải lại bản mới rồi sửa tiếp.",
                           revision=row.revision)
    content = entry.model_dump(mode="json")
    row.revision += 1
    row.data, row.origin, row.updated_at = content, origin, utcnow()
    row.title = getattr(entry, "title", None) or TITLES.get(slug, row.title)
    session.add(KnowledgeRevision(slug=slug, revision=row.revision, data=content, origin=origin, author=author))
    audit.record(session, actor_id, action, slug, revision=row.revision)
    try:
        session.flush()
    except IntegrityError as exc:  # another publish of the same revision won the race
        raise PublishError(409, "Mục này vừa được người khác cập nhật.", revision=row.revision) from exc
    return row.revision


def restore(session: Session, slug: str, revision: int, *, actor_id: int | None, author: str | None) -> int:
    """Publish an old revision's content as a new revision."""
    old = session.scalar(select(KnowledgeRevision).where(KnowledgeRevision.slug == slug,
                                                         KnowledgeRevision.revision == revision))
    if old is None:
        raise PublishError(404, "Không có phiên bản này.")
    return publish(session, slug, old.data, actor_id=actor_id, author=author, expected_revision=None,
                   action="knowledge.restore")
