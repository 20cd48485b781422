"""The Rasa training data and its held-out test set."""

import re
from collections import Counter
from pathlib import Path

import yaml

from tests.conftest import ROOT
from tests.neardup import near_duplicates, nlu_examples

TRAINING = sorted((ROOT / "nlu_data").glob("*.yml"))
HELD_OUT = ROOT / "tests" / "rasa" / "nlu_test.yml"
REQUIRED = {
    "greet",
    "goodbye",
    "thank",
    "affirm",
    "deny",
    "ask_documents",
    "ask_fee",
    "ask_processing_time",
    "ask_where",
    "ask_online",
    "ask_procedure",
    "guide_me",
    "guide_next",
    "guide_back",
    "guide_stuck",
    "request_human",
    "ask_status",
    "bot_challenge",
    "out_of_scope",
    "complaint",
}
ENTITY = re.compile(r"\[[^\]]+\]\{\"entity\": \"(procedure|problem)\", \"value\": \"([a-z0-9_-]+)\"\}")


def examples_by_intent(paths: list[Path]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for path in paths:
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if "intent" in item:
                found.setdefault(item["intent"], []).extend(
                    line.strip()[2:] for line in item["examples"].splitlines() if line.strip().startswith("- ")
                )
    return found


def test_every_required_intent_has_examples_in_every_register():
    for intent, examples in examples_by_intent(TRAINING).items():
        unaccented = [e for e in examples if ENTITY.sub("", e).isascii()]
        assert len(examples) >= 60 and len(unaccented) >= 20, intent
    assert REQUIRED <= set(examples_by_intent(TRAINING))


def test_procedure_mentions_cover_the_whole_catalogue():
    slugs = Counter(
        m.group(2)
        for path in TRAINING
        for m in ENTITY.finditer(path.read_text(encoding="utf-8"))
        if m.group(1) == "procedure"
    )
    catalogue = {p.stem for p in (ROOT / "knowledge" / "procedures").glob("*.yaml")}
    assert set(slugs) == catalogue and min(slugs.values()) >= 5


def test_held_out_set_is_not_a_copy_of_the_training_data():
    assert near_duplicates(nlu_examples([HELD_OUT]), nlu_examples(TRAINING)) == []


def test_held_out_set_covers_every_intent():
    assert REQUIRED <= set(examples_by_intent([HELD_OUT]))
