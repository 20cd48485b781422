"""Knowledge search over procedures: BM25 on normalised Vietnamese, accented and folded.

Tokens are syllables and syllable bigrams of the normalised text, in both the accented and the
diacritic-free form, so "lam lai can cuoc" and "làm lại căn cước" meet the same entries.
The index is rebuilt when the knowledge in the database changes, so an edit is live in seconds.
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import IO

import bm25s
import numpy as np
from sqlalchemy import func, select

from bot.knowledge.loader import procedures as load_procedures
from bot.knowledge.schema import Procedure
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry
from bot.text import fold, normalize

# Words and phrases that say what is asked, not which procedure it is about. Aspect phrases are
# here so that a follow-up like "còn lệ phí thì sao" keeps the conversation's procedure instead of
# matching the entry about paying fees online.
STOP_PHRASES = tuple(normalize(p) for p in (
    "thủ tục", "như thế nào", "thế nào", "làm sao", "ở đâu", "bao nhiêu", "bao lâu", "giấy tờ", "hồ sơ",
    "lệ phí", "chi phí", "thời gian", "mấy ngày", "trực tuyến", "qua mạng",
))
STOPWORDS = frozenset(normalize(w) for w in (
    "gì những cần phải có được không tôi em anh chị mình muốn cho của thì là và với ạ ơi vậy hả nhé "
    "hỏi xin cách còn sao đâu phí tiền mất tốn gồm nộp online"
).split())
ABSTAIN_BELOW = 3.0  # BM25 score of the best hit under which the question is not in the catalogue
CLOSE_RATIO = 0.85  # a runner-up this close to the best hit makes the question ambiguous


def content_words(text: str) -> list[str]:
    padded = f" {normalize(text)} "
    for phrase in STOP_PHRASES:
        padded = padded.replace(f" {phrase} ", " ")
    return [w for w in padded.split() if w not in STOPWORDS]


def analyse(text: str) -> list[str]:
    words = content_words(text)
    folded = [fold(w) for w in words]
    grams = [f"{a}_{b}" for a, b in zip(words, words[1:])]
    folded_grams = [f"{a}_{b}" for a, b in zip(folded, folded[1:])]
    return words + grams + ["~" + w for w in folded + folded_grams]


def content_key(text: str) -> str:
    """A name reduced to its folded content words, to recognise a bare procedure name."""
    return " ".join(fold(w) for w in content_words(text))


def document_text(entry: Procedure) -> str:
    """What a procedure is known by; names and aliases count twice."""
    names = " . ".join([entry.title, *entry.aliases])
    faq = " . ".join(q for item in entry.faq for q in item.questions)
    return " . ".join([names, names, entry.summary, " ".join(entry.codes), faq])


@dataclass(frozen=True)
class Hit:
    slug: str
    title: str
    score: float


@dataclass(frozen=True)
class SearchResult:
    query: str
    abstain: bool
    hits: list[Hit]
    exact: bool = False  # the query was exactly an entry's name or alias

    @property
    def best(self) -> Hit | None:
        return None if self.abstain or not self.hits else self.hits[0]

    @property
    def ambiguous(self) -> bool:
        if self.abstain or self.exact or len(self.hits) < 2:
            return False
        return self.hits[1].score >= CLOSE_RATIO * self.hits[0].score

    def as_json(self) -> dict:
        return {
            "query": self.query,
            "abstain": self.abstain,
            "results": [{"slug": h.slug, "title": h.title, "score": round(h.score, 4)} for h in self.hits],
        }


class KnowledgeIndex:
    def __init__(self, entries: list[Procedure]):
        self.entries = sorted(entries, key=lambda e: e.slug)
        self.by_slug = {e.slug: e for e in self.entries}
        self.names: dict[str, str] = {}
        for entry in self.entries:
            for name in [entry.title, *entry.aliases]:
                if key := content_key(name):
                    self.names.setdefault(key, entry.slug)
        self._bm25 = bm25s.BM25()
        self._bm25.index([analyse(document_text(e)) for e in self.entries], show_progress=False)

    def search(self, query: str, k: int = 3) -> SearchResult:
        tokens = analyse(query)
        scores = self._bm25.get_scores(tokens) if tokens else np.zeros(len(self.entries))
        order = np.argsort(-scores)[:k]
        hits = [Hit(self.entries[i].slug, self.entries[i].title, float(scores[i])) for i in order if scores[i] > 0]
        named = self.names.get(content_key(query)) if tokens else None
        if named is not None:  # the query is exactly one entry's name or alias: no doubt about it
            top = max([h.score for h in hits] + [ABSTAIN_BELOW])
            hits = [Hit(named, self.by_slug[named].title, top + 1.0)] + [h for h in hits if h.slug != named][: k - 1]
        abstain = not hits or hits[0].score < ABSTAIN_BELOW
        return SearchResult(query, abstain, hits, exact=named is not None)


class LiveIndex:
    """The index of what is in the database now; re-checks the database at most once a second."""

    def __init__(self, check_every_s: float = 1.0):
        self._lock = threading.Lock()
        self._version: tuple | None = None
        self._index: KnowledgeIndex | None = None
        self._checked = 0.0
        self._every = check_every_s

    def get(self) -> KnowledgeIndex:
        now = time.monotonic()
        if self._index is not None and now - self._checked < self._every:
            return self._index
        with self._lock, session_scope() as session:
            version = session.execute(
                select(func.count(), func.sum(KnowledgeEntry.revision), func.max(KnowledgeEntry.updated_at))
            ).one()
            if version != self._version or self._index is None:
                self._index = KnowledgeIndex(load_procedures(session))
                self._version = tuple(version)
            self._checked = now
            return self._index


live_index = LiveIndex()


def search_command(stdin: IO[str], stdout: IO[str], k: int, as_json: bool) -> int:
    index = live_index.get()
    for line in stdin:
        query = line.strip()
        if not query:
            continue
        result = index.search(query, k)
        if as_json:
            stdout.write(json.dumps(result.as_json(), ensure_ascii=False) + "\n")
        else:
            verdict = "ABSTAIN " if result.abstain else ""
            stdout.write(f"{verdict}{query}\n" + "".join(f"  {h.score:6.2f}  {h.slug}  {h.title}\n" for h in result.hits))
        stdout.flush()
    return 0
