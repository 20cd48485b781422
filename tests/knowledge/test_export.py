"""`kb export` writes the database back as knowledge files: loading them into a fresh database
gives equal entries, and loading them back reports nothing to change. `kb load` never overwrites
a staff edit made after the last load, and says so."""

import logging
import os
import shutil
import subprocess
import sys

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.knowledge import publish
from bot.knowledge.loader import export, load, load_command
from bot.storage.db import make_engine, session_scope
from bot.storage.models import KnowledgeEntry
from tests.conftest import ROOT


def entries_of(session) -> dict[str, tuple]:
    return {row.slug: (row.kind, row.title, row.data) for row in session.scalars(select(KnowledgeEntry))}


def cli(*args: str, **env: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr


def test_export_then_load_into_a_fresh_database_gives_equal_entries(loaded_db, tmp_path):
    cli("kb", "export", str(tmp_path / "exported"))
    written = (tmp_path / "exported" / "procedures" / "khai-sinh.yaml").read_text(encoding="utf-8")
    assert written.startswith("slug: khai-sinh\ntitle: ")  # the schema's field order
    fresh = tmp_path / "fresh"
    cli("db", "upgrade", VAR_DIR=str(fresh))
    cli("kb", "load", str(tmp_path / "exported"), VAR_DIR=str(fresh))
    with Session(make_engine(f"sqlite:///{fresh / 'app.db'}")) as other, session_scope() as ours:
        assert entries_of(other) == entries_of(ours)
        assert {kind for kind, _, _ in entries_of(ours).values()} == {"procedure", "offices", "canned"}


def test_loading_an_export_back_changes_nothing(loaded_db, tmp_path):
    export(tmp_path)
    report = load(tmp_path)
    assert not report.added and not report.updated and not report.conflicts
    with session_scope() as session:
        assert len(report.unchanged) == len(entries_of(session))


@pytest.fixture
def staff_edit(loaded_db):
    with session_scope() as session:
        before = session.get(KnowledgeEntry, "khai-tu").data
        edited = {**before, "summary": "Bản sửa của cán bộ."}
        revision = publish.publish(session, "khai-tu", edited, actor_id=None, author="Hoa", expected_revision=None)
    yield revision
    with session_scope() as session:  # the file's content again: the next load hands it back to the files
        publish.publish(session, "khai-tu", before, actor_id=None, author="Hoa", expected_revision=None)
    load(ROOT / "knowledge")


def test_load_keeps_a_newer_staff_edit_and_says_so(staff_edit, tmp_path, caplog):
    knowledge = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", knowledge)
    path = knowledge / "procedures" / "khai-tu.yaml"
    changed = path.read_text(encoding="utf-8").replace("confidence: high", "confidence: medium")
    path.write_text(changed, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="bot.knowledge.loader"):
        assert load_command(knowledge) == 0
    assert any("knowledge conflict: khai-tu" in r.message for r in caplog.records)
    with session_scope() as session:
        row = session.get(KnowledgeEntry, "khai-tu")
        assert (row.revision, row.origin, row.data["summary"]) == (staff_edit, "staff", "Bản sửa của cán bộ.")
