"""`python -m bot kb load`: validate every knowledge file, then upsert them in one transaction.

A staff edit made in the database after the last load is never overwritten: the load reports the
conflict and keeps the staff revision.
"""
from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy.orm import Session

from bot.knowledge.files import KnowledgeError, read_all, read_offices, read_outside
from bot.knowledge.search import build_live_index
from bot.knowledge.store import OFFICES_SLUG
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry, KnowledgeRevision

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
        session.add(KnowledgeEntry(slug=slug, kind=kind, title=title, data=data, revision=1, origin="file", file_hash=digest))
        session.add(KnowledgeRevision(slug=slug, revision=1, data=data, origin="file"))
        report.added.append(slug)
        return
    if row.origin == "staff":
        if row.file_hash != digest:
            report.conflicts.append(slug)
        else:
            report.unchanged.append(slug)
        return
    if row.file_hash == digest:
        report.unchanged.append(slug)
        return
    row.revision += 1
    row.title, row.data, row.file_hash = title, data, digest
    session.add(KnowledgeRevision(slug=slug, revision=row.revision, data=data, origin="file"))
    report.updated.append(slug)


def load(root: Path, offices_path: Path | None = None) -> LoadReport:
    """Validate everything first (raises KnowledgeError), then write in one transaction."""
    procedures, offices = read_all(root)
    read_outside(root / "outside" / "topics.yaml")  # read at answer time from the files: checked here too
    if offices_path is not None:
        offices = read_offices(offices_path)
    report = LoadReport()
    with session_scope() as session:
        for entry in procedures:
            _upsert(session, entry.slug, "procedure", entry.title, entry.model_dump(mode="json"), report)
        _upsert(session, OFFICES_SLUG, "offices", "Offices", offices.model_dump(mode="json"), report)
    return report


def load_command() -> int:
    settings = get_settings()
    try:
        report = load(settings.knowledge_dir, settings.offices_path)
    except KnowledgeError as err:
        log.error("knowledge not loaded, database untouched: %s", err)
        return 1
    log.info("knowledge: %d added, %d updated, %d unchanged", len(report.added), len(report.updated), len(report.unchanged))
    build_live_index()  # embeds what changed now, so the first citizen does not wait for it
    for slug in report.conflicts:
        log.warning("knowledge conflict: %s was edited in the database after the last load; the file was not applied", slug)
    return 0
