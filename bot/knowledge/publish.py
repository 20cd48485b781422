"""Publishing knowledge from the staff's editor: validate, check the revision the editor started
from, write the live entry and its revision, and log who did it — in the caller's transaction.

Search picks a published procedure up by itself (bot.knowledge.search.LiveIndex), so an edit is live
in seconds with no Rasa retraining: once the caller's transaction commits, the Redis knowledge counter
(REDIS_URL) is incremented so every process rebuilds at its next check.

Also what the editor shows around a publish: the list of entries, revisions with a diff of their
YAML, and review dates."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import event, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from bot.knowledge.files import yaml_diff
from bot.knowledge.schema import CannedReplies, OfficeBook, Procedure
from bot.knowledge.store import CANNED_SLUG, OFFICES_SLUG, announce_change, due_since, today
from bot.storage import audit
from bot.storage.models import KnowledgeEntry, KnowledgeRevision, as_utc, utcnow

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


def publish(
    session: Session,
    slug: str,
    data: Any,
    *,
    actor_id: int | None,
    author: str | None,
    expected_revision: int | None,
    origin: str = "staff",
    action: str = "knowledge.publish",
) -> int:
    """Publish `data` as the next revision of `slug`; returns that revision number."""
    entry = validate(slug, data)
    row = session.scalar(select(KnowledgeEntry).where(KnowledgeEntry.slug == slug).with_for_update())
    if row is None:
        raise PublishError(404, "Không có mục kiến thức này.")
    if expected_revision is not None and expected_revision != row.revision:
        raise PublishError(
            409, "Mục này vừa được người khác cập nhật; anh/chị tải lại bản mới rồi sửa tiếp.", revision=row.revision
        )
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
    if row.kind == "procedure":  # the search indexes procedures only; offices and canned replies are read as needed
        announce_after_commit(session)
    return row.revision


def announce_after_commit(session: Session) -> None:
    """Tell the other processes once the caller's transaction is committed: before it, they would
    rebuild from the old content and not look again."""
    if not session.info.get("announce_knowledge"):
        session.info["announce_knowledge"] = True
        event.listen(session, "after_commit", lambda _: announce_change(), once=True)


def restore(session: Session, slug: str, revision: int, *, actor_id: int | None, author: str | None) -> int:
    """Publish an old revision's content as a new revision."""
    old = _revision_row(session, slug, revision)
    if old is None:
        raise PublishError(404, "Không có phiên bản này.")
    return publish(
        session, slug, old.data, actor_id=actor_id, author=author, expected_revision=None, action="knowledge.restore"
    )


def mark_reviewed(
    session: Session, slug: str, *, actor_id: int | None, author: str | None, expected_revision: int | None
) -> int:
    """Publish the entry as reviewed today (the offices' date): it leaves the review list and its
    answers stop asking to confirm with the office for being old."""
    row = session.get(KnowledgeEntry, slug)
    if row is None:
        raise PublishError(404, "Không có mục kiến thức này.")
    if row.kind != "procedure":
        raise PublishError(422, "Mục này không có ngày rà soát.", field="reviewed_at")
    return publish(
        session,
        slug,
        {**row.data, "reviewed_at": today().isoformat()},
        actor_id=actor_id,
        author=author,
        expected_revision=expected_revision,
        action="knowledge.reviewed",
    )


def entry(session: Session, slug: str) -> KnowledgeEntry:
    row = session.get(KnowledgeEntry, slug)
    if row is None:
        raise PublishError(404, "Không có mục kiến thức này.")
    return row


def entries(session: Session) -> list[dict[str, Any]]:
    """Every entry for the editor's list and its search (FAQ questions included)."""
    listed = []
    for row in session.scalars(select(KnowledgeEntry).order_by(KnowledgeEntry.kind.desc(), KnowledgeEntry.title)):
        reviewed_at = row.data.get("reviewed_at") if row.kind == "procedure" else None
        listed.append(
            {
                "slug": row.slug,
                "kind": row.kind,
                "title": row.title,
                "revision": row.revision,
                "reviewed_at": reviewed_at,
                "due_for_review": due_since(reviewed_at) is not None,
                "faq": [{"id": f["id"], "questions": f["questions"]} for f in row.data.get("faq", [])]
                if row.kind == "procedure"
                else [],
            }
        )
    return listed


def due_for_review(session: Session) -> list[dict[str, Any]]:
    """Procedures past their review date, longest overdue first."""
    due = []
    for row in session.scalars(select(KnowledgeEntry).where(KnowledgeEntry.kind == "procedure")):
        since = due_since(row.data.get("reviewed_at"))
        if since is not None:
            due.append(
                {
                    "slug": row.slug,
                    "title": row.title,
                    "reviewed_at": row.data["reviewed_at"],
                    "due_since": since.isoformat(),
                }
            )
    return sorted(due, key=lambda d: (d["due_since"], d["slug"]))


def revisions(session: Session, slug: str) -> list[dict[str, Any]]:
    entry(session, slug)
    rows = session.scalars(
        select(KnowledgeRevision).where(KnowledgeRevision.slug == slug).order_by(KnowledgeRevision.revision.desc())
    )
    return [_revision_head(r) for r in rows]


def revision(session: Session, slug: str, number: int) -> dict[str, Any]:
    """One revision: its content and a unified diff of its YAML against the revision before it."""
    row = _revision_row(session, slug, number)
    if row is None:
        raise PublishError(404, "Không có phiên bản này.")
    before = _revision_row(session, slug, number - 1)
    diff = (
        ""
        if before is None
        else yaml_diff(before.data, row.data, f"{slug} @{before.revision}", f"{slug} @{row.revision}")
    )
    return {**_revision_head(row), "entry": row.data, "diff": diff}


def _revision_row(session: Session, slug: str, number: int) -> KnowledgeRevision | None:
    return session.scalar(
        select(KnowledgeRevision).where(KnowledgeRevision.slug == slug, KnowledgeRevision.revision == number)
    )


def _revision_head(row: KnowledgeRevision) -> dict[str, Any]:
    return {
        "revision": row.revision,
        "author": row.author,
        "origin": row.origin,
        "at": as_utc(row.created_at).isoformat(),
    }
