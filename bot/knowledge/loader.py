"""`python -m bot kb load [DIR]`: validate every knowledge file, then upsert them in one transaction;
`python -m bot kb export DIR`: write the database back in the same format.

A staff edit made in the database after the last load is never overwritten: the load reports the
conflict and keeps the staff revision. A file whose content is the database's (an export) hands the
entry back to the files: later file edits apply again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.knowledge.files import KnowledgeError, dump_yaml, read_all, read_canned, read_offices, read_outside
from bot.knowledge.publish import MODELS, TITLES, announce_after_commit
from bot.knowledge.search import build_live_index
from bot.knowledge.store import CANNED_SLUG, OFFICES_SLUG
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry, KnowledgeRevision, utcnow

log = logging.getLogger(__name__)


@dataclass
class LoadReport:
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def _content_hash(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _upsert(session: Session, slug: str, kind: str, title: str, data: dict, report: LoadReport) -> None:
    digest = _content_hash(data)
    row = session.get(KnowledgeEntry, slug)
    if row is None:
        session.add(
            KnowledgeEntry(slug=slug, kind=kind, title=title, data=data, revision=1, origin="file", file_hash=digest)
        )
        session.add(KnowledgeRevision(slug=slug, revision=1, data=data, origin="file"))
        report.added.append(slug)
        return
    if _content_hash(row.data) == digest:  # the file says what the database says (e.g. after `kb export`)
        row.origin, row.file_hash = "file", digest
        report.unchanged.append(slug)
        return
    if row.origin == "staff":
        # the file changed since the last load, and so did the database: staff's edit wins
        report.conflicts.append(slug) if row.file_hash != digest else report.unchanged.append(slug)
        return
    if row.file_hash == digest:
        report.unchanged.append(slug)
        return
    row.revision += 1
    row.title, row.data, row.file_hash, row.updated_at = title, data, digest, utcnow()
    session.add(KnowledgeRevision(slug=slug, revision=row.revision, data=data, origin="file"))
    report.updated.append(slug)


def load(root: Path, offices_path: Path | None = None, canned_path: Path | None = None) -> LoadReport:
    """Validate everything first (raises KnowledgeError), then write in one transaction.
    Offices and canned replies are read from `root` unless their own files are given."""
    procedures, offices = read_all(root)
    read_outside(root / "outside" / "topics.yaml")  # read at answer time from the files: checked here too
    if offices_path is not None:
        offices = read_offices(offices_path)
    canned_path = canned_path or root / "canned_replies.yaml"
    canned = read_canned(canned_path) if canned_path.exists() else None
    report = LoadReport()
    with session_scope() as session:
        for entry in procedures:
            _upsert(session, entry.slug, "procedure", entry.title, entry.model_dump(mode="json"), report)
        _upsert(session, OFFICES_SLUG, "offices", TITLES[OFFICES_SLUG], offices.model_dump(mode="json"), report)
        if canned is not None:
            _upsert(session, CANNED_SLUG, "canned", TITLES[CANNED_SLUG], canned.model_dump(mode="json"), report)
        if report.added or report.updated:
            announce_after_commit(session)
    return report


def _readable(model: type[BaseModel], data: dict) -> dict:
    """An entry as people write it: the schema's field order, without fields left at their default."""
    return model.model_validate(data).model_dump(mode="json", exclude_defaults=True)


def export(root: Path) -> list[Path]:
    """Write every entry of the database under `root` in the knowledge files' format; the files
    only kept as files (outside/) are copied, so `root` loads as a whole. Returns the files written."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "procedures").mkdir(exist_ok=True)
    written = []
    with session_scope() as session:
        for row in session.scalars(select(KnowledgeEntry)):
            content = _readable(MODELS[row.kind], row.data)
            if row.kind == "procedure":
                path = root / "procedures" / f"{row.slug}.yaml"
            elif row.kind == "offices":
                path = root / "offices.yaml"
            else:
                path, content = root / "canned_replies.yaml", content.get("replies", [])
            path.write_text(dump_yaml(content), encoding="utf-8")
            written.append(path)
    outside = get_settings().knowledge_dir / "outside"
    if outside.resolve() != (root / "outside").resolve():
        shutil.copytree(outside, root / "outside", dirs_exist_ok=True)
    return written


def load_command(root: Path | None = None) -> int:
    """Load `root` (default: KNOWLEDGE_DIR with OFFICES_FILE and CANNED_REPLIES_FILE)."""
    settings = get_settings()
    try:
        if root is None:
            report = load(settings.knowledge_dir, settings.offices_path, settings.canned_replies_path)
        else:
            report = load(root)
    except KnowledgeError as err:
        log.error("knowledge not loaded, database untouched: %s", err)
        return 1
    log.info(
        "knowledge: %d added, %d updated, %d unchanged", len(report.added), len(report.updated), len(report.unchanged)
    )
    build_live_index()  # embeds what changed now, so the first citizen does not wait for it
    for slug in report.conflicts:
        log.warning(
            "knowledge conflict: %s was edited in the database after the last load; the file was not applied", slug
        )
    return 0


def export_command(root: Path) -> int:
    written = export(root)
    log.info("knowledge: %d files written under %s", len(written), root)
    return 0
