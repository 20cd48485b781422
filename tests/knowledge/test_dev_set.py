"""The search dev set: written apart from what the model and the index are built from, and the
search meets its quality targets on it."""

import csv

import pytest
import yaml

from bot.knowledge.embedding import ASPECT_TEMPLATES, procedure_texts
from bot.knowledge.files import read_all
from bot.knowledge.search import KnowledgeIndex, default_calibration, default_encoder
from bot.text import fold
from tests.conftest import ROOT
from tests.neardup import near_duplicates, nlu_examples

DEV = ROOT / "tests" / "data" / "search_dev.tsv"
ANSWERS_DEV = ROOT / "tests" / "data" / "answers_dev.tsv"
FACTS = ROOT.parent / "shared" / "sources" / "procedure_facts.yaml"


@pytest.fixture(scope="module")
def rows():
    with DEV.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def training_texts() -> list[str]:
    entries, _ = read_all(ROOT / "knowledge")
    texts = [t for e in entries for t in procedure_texts(e)]
    texts += [tpl.format(a) for e in entries for a in [e.title, *e.aliases] for tpl in ASPECT_TEMPLATES]
    texts += nlu_examples(sorted((ROOT / "nlu_data").glob("*.yml")))
    texts += (ROOT / "knowledge" / "training" / "out_of_catalogue.txt").read_text(encoding="utf-8").splitlines()
    outside = yaml.safe_load((ROOT / "knowledge" / "outside" / "topics.yaml").read_text(encoding="utf-8"))
    texts += [term for topic in outside["topics"] for term in topic.get("terms", [])]
    texts += [term for topic in outside["topics"] for group in topic.get("together", []) for term in group]
    texts += [phrase for e in entries for phrase in e.not_covered]
    return texts


@pytest.fixture(scope="module")
def answer_rows():
    with ANSWERS_DEV.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_answers_dev_set_shape(answer_rows):
    inside = [r for r in answer_rows if r["slug"] != "NONE"]
    entries, _ = read_all(ROOT / "knowledge")
    assert len(inside) >= 150 and {r["slug"] for r in inside} == {e.slug for e in entries}
    assert sum(r["slug"] == "NONE" for r in answer_rows) >= 100
    assert sum(bool(r["fact"]) for r in inside) >= 60


def test_answers_dev_facts_come_from_the_sourced_facts(answer_rows):
    facts = FACTS.read_text(encoding="utf-8")
    assert [r["fact"] for r in answer_rows if r["fact"] and r["fact"] not in facts] == []


def test_no_answers_dev_question_nearly_duplicates_training_text(answer_rows):
    assert near_duplicates([r["question"] for r in answer_rows], training_texts()) == []


def test_dev_set_shape(rows):
    assert sum(r["slug"] != "-" for r in rows) >= 300 and sum(r["slug"] == "-" for r in rows) >= 60
    assert {r["register"] for r in rows} == {"formal", "informal", "unaccented", "abbreviated"}


def test_no_dev_question_nearly_duplicates_training_text(rows):
    assert near_duplicates([r["query"] for r in rows], training_texts()) == []


def test_near_duplicate_check_can_fail():
    assert near_duplicates(["đăng ký khai sinh cần giấy tờ gì ạ"], ["đăng ký khai sinh cần giấy tờ gì"])


def test_hybrid_search_meets_its_targets(rows):
    entries, _ = read_all(ROOT / "knowledge")
    index = KnowledgeIndex(entries, default_encoder(), calibration=default_calibration())
    inside = [r for r in rows if r["slug"] != "-"]
    outside = [r for r in rows if r["slug"] == "-"]
    results = {r["query"]: index.search(r["query"], k=3) for r in rows}
    hit1 = sum(results[r["query"]].hits[0].slug == r["slug"] for r in inside) / len(inside)
    hit3 = sum(r["slug"] in [h.slug for h in results[r["query"]].hits] for r in inside) / len(inside)
    assert hit1 >= 0.90 and hit3 >= 0.97
    accented = [r for r in inside if r["register"] in ("formal", "informal")]
    stripped = sum(index.search(fold(r["query"])).hits[0].slug == r["slug"] for r in accented) / len(accented)
    as_typed = sum(results[r["query"]].hits[0].slug == r["slug"] for r in accented) / len(accented)
    assert as_typed - stripped <= 0.03
    assert sum(results[r["query"]].abstain for r in outside) / len(outside) >= 0.80
    assert sum(results[r["query"]].abstain for r in inside) / len(inside) <= 0.05
