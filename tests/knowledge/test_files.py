import csv
from pathlib import Path

import pytest

from bot.knowledge.files import KnowledgeError, read_all, read_procedure
from tests.conftest import ROOT, SHARED

KNOWLEDGE = ROOT / "knowledge"


def catalogue_slugs() -> set[str]:
    path = SHARED / "catalogue.tsv"
    if not path.exists():
        pytest.skip("shared/catalogue.tsv is not beside the repository")
    return {row["slug"] for row in csv.DictReader(path.open(encoding="utf-8"), delimiter="\t")}


def test_every_file_is_valid():
    procedures, offices = read_all(KNOWLEDGE)
    assert procedures and offices.offices


def test_one_entry_per_catalogue_slug():
    procedures, _ = read_all(KNOWLEDGE)
    assert {p.slug for p in procedures} == catalogue_slugs()


def test_entries_without_sources_say_so():
    procedures, _ = read_all(KNOWLEDGE)
    for entry in procedures:
        if entry.fee.text is None or entry.processing_time.text is None:
            assert entry.uncertain, f"{entry.slug}: a missing fact must be listed under `uncertain`"


def test_online_procedures_have_guide_steps():
    procedures, _ = read_all(KNOWLEDGE)
    for entry in procedures:
        if entry.online.level in ("full", "partial"):
            assert len(entry.steps) >= 3, entry.slug


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_error_names_file_field_and_line(tmp_path):
    source = (KNOWLEDGE / "procedures" / "khai-sinh.yaml").read_text(encoding="utf-8")
    broken = source.replace("confidence: high", "confidence: very-high")
    path = write(tmp_path, "khai-sinh.yaml", broken)
    with pytest.raises(KnowledgeError) as caught:
        read_procedure(path)
    line = next(i for i, text in enumerate(broken.splitlines(), 1) if text.startswith("confidence:"))
    assert caught.value.field == "confidence"
    assert caught.value.line == line
    assert str(path) in str(caught.value)


def test_error_in_nested_field_points_at_its_line(tmp_path):
    source = (KNOWLEDGE / "procedures" / "khai-sinh.yaml").read_text(encoding="utf-8")
    broken = source.replace("source: DVC:1.001193\n    problems:", "source: NOT-LISTED\n    problems:", 1)
    with pytest.raises(KnowledgeError) as caught:
        read_procedure(write(tmp_path, "khai-sinh.yaml", broken))
    assert "NOT-LISTED" in caught.value.message


def test_yaml_syntax_error_has_a_line(tmp_path):
    with pytest.raises(KnowledgeError) as caught:
        read_procedure(write(tmp_path, "x.yaml", "slug: x\ntitle: [unclosed\n"))
    assert caught.value.line is not None


def test_slug_must_match_file_name(tmp_path):
    source = (KNOWLEDGE / "procedures" / "khai-sinh.yaml").read_text(encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        read_procedure(write(tmp_path, "ket-hon.yaml", source))
    assert caught.value.field == "slug"
