"""Fit the search's confidence (`make model`): a logistic model over the search features, on
training-side questions only — templated questions about every entry in every register, and
questions about things the catalogue does not cover (knowledge/training/, NLU out_of_scope)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import yaml

from bot.knowledge.embedding import SEED, nlu_examples
from bot.knowledge.search import Calibration, KnowledgeIndex, content_key
from bot.text import abbreviate, fold, normalize

# Different from the training templates, so the fit sees question shapes the model did not learn.
TEMPLATES = [
    "cho hỏi {} với",
    "{} thì sao ạ",
    "tư vấn giúp em {}",
    "làm {} mất bao nhiêu tiền",
    "{} cần chuẩn bị gì",
    "nộp {} ở chỗ nào",
    "em đang cần {}",
    "hướng dẫn {} giúp mình",
]
IN_CATALOGUE_ABSTAIN = 0.02  # at most this share of in-catalogue questions may be declined


def out_of_catalogue(root: Path, nlu_dir: Path) -> list[str]:
    lines = (root / "training" / "out_of_catalogue.txt").read_text(encoding="utf-8").splitlines()
    texts = [line for line in lines if line.strip() and not line.startswith("#")]
    for path in sorted(nlu_dir.glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            if item.get("intent") == "out_of_scope":
                texts += [line.strip()[2:] for line in item["examples"].splitlines() if line.strip().startswith("- ")]
    return texts


def samples(
    index: KnowledgeIndex, ooc: list[str], held_out: dict[str, list[str]], rng: random.Random
) -> list[tuple[str, int]]:
    found = [(text, 1) for texts in held_out.values() for text in texts]
    for entry in index.entries:
        for name in [entry.title, *entry.aliases]:
            text = rng.choice(TEMPLATES).format(name)
            found.append((rng.choice([text, fold(normalize(text)), abbreviate(normalize(text))]), 1))
    for text in ooc:
        found.append((text, 0))
        found.append((rng.choice(TEMPLATES).format(text), 0))
    return found


def fit(index: KnowledgeIndex, data: list[tuple[str, int]]) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    rows, labels = [], []
    for text, label in data:
        if index.names.get(content_key(text)):
            continue  # exact names are never declined; they teach the model nothing
        bm25, dense, _ = index.scores(text)
        rows.append(index.features(text, bm25, dense, False))
        labels.append(label)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(np.array(rows), np.array(labels))
    calibration = Calibration(tuple(float(c) for c in model.coef_[0]), float(model.intercept_[0]), 0.5)
    inside = sorted(calibration.confidence(r) for r, label in zip(rows, labels) if label == 1)
    threshold = inside[int(len(inside) * IN_CATALOGUE_ABSTAIN)]
    return Calibration(calibration.coef, calibration.intercept, float(min(0.5, threshold)))


def calibrate(index: KnowledgeIndex, root: Path, nlu_dir: Path, out: Path) -> Calibration:
    held_out = nlu_examples(nlu_dir, calibration=True)
    result = fit(index, samples(index, out_of_catalogue(root, nlu_dir), held_out, random.Random(SEED)))
    out.write_text(
        json.dumps({"coef": result.coef, "intercept": result.intercept, "threshold": result.threshold}, indent=2)
    )
    return result
