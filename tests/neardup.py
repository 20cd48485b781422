"""Near-duplicate detection between evaluation and training text (word-trigram Jaccard)."""

from __future__ import annotations

import re

from bot.text import fold, normalize

ENTITY_RE = re.compile(r"\[([^\]]+)\]\{[^}]*\}")


def trigrams(text: str) -> frozenset[tuple[str, ...]]:
    words = fold(normalize(ENTITY_RE.sub(r"\1", text))).split()
    if len(words) < 3:
        return frozenset([tuple(words)])
    return frozenset(zip(words, words[1:], words[2:]))


def near_duplicates(evaluation: list[str], training: list[str], limit: float = 0.8) -> list[tuple[str, str, float]]:
    index: dict[tuple[str, ...], list[int]] = {}
    train_grams = [trigrams(t) for t in training]
    for i, grams in enumerate(train_grams):
        for gram in grams:
            index.setdefault(gram, []).append(i)
    found = []
    for text in evaluation:
        grams = trigrams(text)
        for i in {i for gram in grams for i in index.get(gram, [])}:
            score = len(grams & train_grams[i]) / len(grams | train_grams[i])
            if score >= limit:
                found.append((text, training[i], round(score, 2)))
    return found


def nlu_examples(paths) -> list[str]:
    import yaml

    texts = []
    for path in paths:
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu", []):
            texts += [
                line.strip()[2:] for line in (item.get("examples") or "").splitlines() if line.strip().startswith("- ")
            ]
    return texts
