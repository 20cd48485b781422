"""What the catalogue does not cover: the national catalogue's other procedures and topics that
are not procedures at all (lawsuits, taxes, banks…), so that such a question is declined by name
instead of being answered with the nearest catalogue entry.

Two kinds of evidence:
- a topic's phrase in the question ("kiện ra tòa", "lấy chồng nước ngoài"): it is that topic;
- the national names: a question whose weighty words a national procedure's name explains and
  the best catalogue entry does not ("đăng ký sáng chế" → "Thủ tục đăng ký sáng chế").
Words weigh by their rarity across the national names and the catalogue (IDF), so "đăng ký" or
"cấp" decide nothing while "sáng chế" or "nước ngoài" do.
"""

from __future__ import annotations

import csv
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from bot.knowledge.embedding import procedure_texts
from bot.knowledge.files import read_outside
from bot.knowledge.question import padded
from bot.knowledge.schema import Outside, Procedure
from bot.text import fold, normalize

# Words of the national names that say nothing about which procedure it is.
_NAME_NOISE = frozenset(
    fold(normalize(w))
    for w in (
        "thủ tục của đối với cho và các trong tại theo việc về trường hợp thực hiện cấp đăng ký giấy "
        "hoặc được có là do một khi người thuộc"
    ).split()
)
# How much more of the question a national name must explain than the best catalogue entry.
MARGIN = 0.3
MIN_EXPLAINED = 0.55
NAMES_IT = 0.8  # a national name that explains this much of a declined question is offered by name


def terms(text: str) -> list[str]:
    """Folded words and word pairs of a text, noise words left out of the single words."""
    words = fold(normalize(text)).split()
    pairs = [f"{a}_{b}" for a, b in zip(words, words[1:])]
    return [w for w in words if w not in _NAME_NOISE] + pairs


@dataclass(frozen=True)
class Match:
    name: str | None  # in the citizen's terms, ready to say; None: we cannot name it
    code: str | None = None


def _spoken(name: str) -> str:
    """A national name as said in a sentence: no leading "Thủ tục", lower-case first letter."""
    for prefix in ("Thủ tục ", "Thủ tuc "):
        if name.startswith(prefix):
            name = name[len(prefix) :]
    return name[:1].lower() + name[1:]


class OutsideIndex:
    def __init__(self, national: list[tuple[str, str]], outside: Outside, entries: list[Procedure]):
        self._names = [(code, _spoken(name)) for code, name in national]
        # every topic as groups of folded phrases, one of each group to be said: a term is a group of one
        self._topics = [([[padded(t)] for t in [term]], topic) for topic in outside.topics for term in topic.terms]
        self._topics += [
            ([[padded(t) for t in group] for group in topic.together], topic)
            for topic in outside.topics
            if topic.together
        ]
        documents = [set(terms(name)) for _, name in self._names]
        self._entry_terms = {e.slug: set(terms(" . ".join(procedure_texts(e)))) for e in entries}
        frequency = Counter(t for doc in [*documents, *self._entry_terms.values()] for t in doc)
        total = len(documents) + len(self._entry_terms)
        self._idf = {t: math.log(1 + total / n) for t, n in frequency.items()}
        self._rare = math.log(1 + total)  # a word nothing is known by weighs the most
        self._postings: dict[str, list[int]] = defaultdict(list)
        for i, doc in enumerate(documents):
            for t in doc:
                self._postings[t].append(i)
        self._documents = documents

    def topic(self, text: str) -> tuple[Match, list[tuple[int, int]]] | None:
        """The topic the text speaks of, and where every topic found is said (spans in the
        folded text), if any. Of several, the one said last: a question ends with what it asks."""
        spaced = padded(text)
        best, everywhere = None, []
        for groups, topic in self._topics:
            spans = []
            for group in groups:
                found = [(at + 1, at + len(p) - 1) for p in group if (at := spaced.find(p)) >= 0]
                if not found:
                    break
                spans += found
            else:
                everywhere += spans
                key = (max(end for _, end in spans), sum(end - start for start, end in spans))
                if best is None or key > best[0]:
                    best = (key, Match(topic.name, topic.code))
        return (best[1], everywhere) if best else None

    def known_share(self, text: str) -> float:
        """Share of a text's words that some procedure name uses: gibberish knows none."""
        words = [t for t in terms(text) if "_" not in t]
        return sum(t in self._idf for t in words) / len(words) if words else 0.0

    def coverage(self, text: str, slug: str) -> float:
        """Share of the question's weight that catalogue entry `slug` is known by."""
        asked = set(terms(text))
        weight = sum(self._idf.get(t, self._rare) for t in asked)
        if not weight:
            return 1.0
        return sum(self._idf.get(t, self._rare) for t in asked & self._entry_terms[slug]) / weight

    def explains_better(self, text: str, slug: str | None, relaxed: bool = False) -> Match | None:
        """The national procedure that explains this question clearly better than catalogue entry
        `slug` does (None: no entry fits at all), if any. `relaxed`: the question is already known
        to be outside the catalogue; only a name for it is wanted."""
        asked = {t for t in terms(text) if t in self._idf}
        weight = sum(self._idf[t] for t in asked)
        if not weight:
            return None
        covered = self._entry_terms.get(slug, set()) if slug else set()
        inside = sum(self._idf[t] for t in asked & covered) / weight
        scores: Counter = Counter()
        for t in asked:
            for i in self._postings.get(t, ()):
                scores[i] += self._idf[t]
        if not scores:
            return None
        best, score = max(scores.items(), key=lambda pair: (pair[1], -len(self._documents[pair[0]])))
        explained = score / weight
        extra = sum(self._idf[t] for t in (asked & self._documents[best]) - covered) / weight
        if (relaxed and explained >= NAMES_IT) or (
            explained >= MIN_EXPLAINED and explained - inside >= MARGIN and extra >= MARGIN
        ):
            code, name = self._names[best]
            return Match(name, code)
        return None


def read_national(path: Path) -> list[tuple[str, str]]:
    """National procedures that are not ours (rows without a catalogue slug)."""
    with path.open(encoding="utf-8") as handle:
        return [
            (row["code"], row["name"])
            for row in csv.DictReader(handle, delimiter="\t")
            if not (row.get("catalogue_slug") or "").strip()
        ]


@lru_cache(maxsize=4)
def _files(directory: Path) -> tuple[list[tuple[str, str]], Outside]:
    return read_national(directory / "national_procedures.tsv"), read_outside(directory / "topics.yaml")


def build(directory: Path, entries: list[Procedure]) -> OutsideIndex:
    national, outside = _files(directory)
    return OutsideIndex(national, outside, entries)
