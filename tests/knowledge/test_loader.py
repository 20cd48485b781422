import shutil

import pytest
from sqlalchemy import func, select

from bot.knowledge.files import KnowledgeError
from bot.knowledge.loader import load
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry, KnowledgeRevision
from tests.conftest import ROOT


@pytest.fixture
def knowledge_copy(tmp_path, loaded_db):
    target = tmp_path / "knowledge"
    shutil.copytree(ROOT / "knowledge", target)
    yield target
    load(ROOT / "knowledge")  # leave the session's database as the repository has it


def entry(slug):
    with session_scope() as session:
        return session.get(KnowledgeEntry, slug)


def test_reload_of_unchanged_files_changes_nothing(loaded_db):
    report = load(ROOT / "knowledge")
    assert not report.added and not report.updated and report.unchanged


def test_changed_file_becomes_a_new_revision(knowledge_copy):
    before = entry("khai-sinh").revision
    path = knowledge_copy / "procedures" / "khai-sinh.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("gks\n", "gks\n  - khai sinh cho bé mới sinh\n"), encoding="utf-8"
    )
    report = load(knowledge_copy)
    assert report.updated == ["khai-sinh"]
    assert entry("khai-sinh").revision == before + 1
    assert "khai sinh cho bé mới sinh" in entry("khai-sinh").data["aliases"]


def test_bad_file_leaves_the_database_untouched(knowledge_copy):
    good = knowledge_copy / "procedures" / "khai-sinh.yaml"
    good.write_text(good.read_text(encoding="utf-8").replace("gks\n", "gks\n  - đổi tên mới\n"), encoding="utf-8")
    bad = knowledge_copy / "procedures" / "ket-hon.yaml"
    bad.write_text(bad.read_text(encoding="utf-8").replace("confidence: high", "confidence: sure"), encoding="utf-8")
    with session_scope() as session:
        revisions = session.scalar(select(func.count()).select_from(KnowledgeRevision))
    with pytest.raises(KnowledgeError):
        load(knowledge_copy)
    assert "đổi tên mới" not in entry("khai-sinh").data["aliases"]
    with session_scope() as session:
        assert session.scalar(select(func.count()).select_from(KnowledgeRevision)) == revisions


def test_staff_edit_is_never_overwritten(knowledge_copy):
    with session_scope() as session:
        row = session.get(KnowledgeEntry, "khai-tu")
        row.data = {**row.data, "summary": "Bản sửa của cán bộ."}
        row.origin, row.revision = "staff", row.revision + 1
    path = knowledge_copy / "procedures" / "khai-tu.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("confidence: high", "confidence: medium"), encoding="utf-8"
    )
    report = load(knowledge_copy)
    assert report.conflicts == ["khai-tu"]
    assert entry("khai-tu").data["summary"] == "Bản sửa của cán bộ."
    with session_scope() as session:  # hand the entry back to the files for the other tests
        row = session.get(KnowledgeEntry, "khai-tu")
        row.origin, row.file_hash = "file", None
