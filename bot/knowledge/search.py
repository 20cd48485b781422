"""Hybrid knowledge search: BM25 on normalised Vietnamese plus dense retrieval, fused.

BM25 (bm25s) runs over syllables and syllable bigrams in both the accented and the folded form.
Dense retrieval compares the question with every indexed text of an entry (title, aliases, FAQ
questions, summary) and keeps the best per entry. Reciprocal rank fusion merges the two lists; a
logistic model fitted by `make model` turns their scores into a calibrated confidence, and the
search abstains below the calibrated threshold: a question outside the catalogue is declined, not
answered with the nearest neighbour. Index and vectors live in the database and follow each
entry's revision, so an edit is live in seconds and re-embeds only that entry.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import IO

import bm25s
import numpy as np
from sqlalchemy import delete, func, select

from bot.knowledge import outside as outside_knowledge
from bot.knowledge.embedding import Encoder, procedure_texts
from bot.knowledge.schema import Procedure
from bot.knowledge.store import procedures as load_procedures
from bot.knowledge.store import shared_version
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry, SearchVector
from bot.text import fold, normalize

# Words and phrases that say what is asked, not which procedure it is about. Aspect phrases are
# here so that a follow-up like "còn lệ phí thì sao" keeps the conversation's procedure instead of
# matching the entry about paying fees online.
STOP_PHRASES = tuple(
    normalize(p)
    for p in (
        "thủ tục",
        "như thế nào",
        "thế nào",
        "làm sao",
        "ở đâu",
        "bao nhiêu",
        "bao lâu",
        "giấy tờ",
        "hồ sơ",
        "lệ phí",
        "chi phí",
        "thời gian",
        "mấy ngày",
        "trực tuyến",
        "qua mạng",
        "hướng dẫn",
        "từng bước",
        "chuẩn bị",
        "mang theo",
    )
)
STOPWORDS = frozenset(
    normalize(w)
    for w in (
        "gì những cần phải có được không tôi em anh chị mình muốn cho của thì là và với ạ ơi vậy hả nhé "
        "hỏi xin cách còn sao đâu phí tiền mất tốn gồm nộp online"
    ).split()
)
RRF_K = 10  # small: the catalogue has tens of entries, not thousands
# A runner-up this close to the best in both lists makes the question ambiguous: ask the citizen.
CLOSE_BM25_RATIO = 0.85
CLOSE_DENSE_GAP = 0.03


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
    """What BM25 knows an entry by; names and aliases count twice."""
    names = " . ".join([entry.title, *entry.aliases])
    faq = " . ".join(q for item in entry.faq for q in item.questions)
    return " . ".join([names, names, entry.summary, " ".join(entry.codes), faq])


@dataclass(frozen=True)
class Calibration:
    """Logistic model over search features → probability that the question is in the catalogue."""

    coef: tuple[float, ...] = (6.0, 4.0, 0.6, -1.0, 2.0, 3.0)
    intercept: float = -8.0
    threshold: float = 0.5

    @classmethod
    def load(cls, path: Path | None) -> "Calibration":
        if path is None or not path.exists():
            return cls()
        data = json.loads(path.read_text())
        return cls(tuple(data["coef"]), data["intercept"], data["threshold"])

    def confidence(self, features: np.ndarray) -> float:
        return float(1 / (1 + np.exp(-(features @ np.array(self.coef) + self.intercept))))


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
    confidence: float = 0.0
    exact: bool = False  # the query was exactly an entry's name or alias
    ambiguous: bool = False  # two entries fit about equally well
    features: tuple[float, ...] = field(default=(), compare=False)

    @property
    def best(self) -> Hit | None:
        return None if self.abstain or not self.hits else self.hits[0]

    def as_json(self) -> dict:
        return {
            "query": self.query,
            "abstain": self.abstain,
            "results": [{"slug": h.slug, "title": h.title, "score": round(h.score, 4)} for h in self.hits],
        }


def _ranks(scores: np.ndarray) -> np.ndarray:
    ranks = np.empty(len(scores), dtype=np.int64)
    ranks[np.argsort(-scores, kind="stable")] = np.arange(1, len(scores) + 1)
    return ranks


class KnowledgeIndex:
    def __init__(
        self,
        entries: list[Procedure],
        encoder: Encoder | None,
        vectors: dict[str, np.ndarray] | None = None,
        calibration: Calibration | None = None,
        outside_dir: Path | None = None,
    ):
        self.entries = sorted(entries, key=lambda e: e.slug)
        # what the catalogue does not cover, to decline by name (see bot.knowledge.outside)
        self.outside = outside_knowledge.build(outside_dir, self.entries) if outside_dir else None
        self.by_slug = {e.slug: e for e in self.entries}
        self._position = {e.slug: i for i, e in enumerate(self.entries)}
        self.encoder = encoder
        self.vectors: dict[str, np.ndarray] = {}
        self.outside_dir = outside_dir
        self.calibration = calibration or Calibration()
        self.names: dict[str, str] = {}
        for entry in self.entries:
            for name in [entry.title, *entry.aliases]:
                if key := content_key(name):
                    self.names.setdefault(key, entry.slug)
        documents = [analyse(document_text(e)) for e in self.entries]
        self._bm25 = bm25s.BM25()
        self._bm25.index(documents, show_progress=False)
        self._not_covered = [[f" {fold(normalize(p))} " for p in e.not_covered] for e in self.entries]
        # folded words each entry is known by, to tell how much of a question the best entry covers
        self._words = [{t for t in doc if t.startswith("~") and "_" not in t} for doc in documents]
        if encoder is not None:
            vectors = vectors or {e.slug: encoder.encode(procedure_texts(e)) for e in self.entries}
            self.vectors = vectors
            self._matrix = np.vstack([vectors[e.slug] for e in self.entries])
            self._owner = np.concatenate([np.full(len(vectors[e.slug]), i) for i, e in enumerate(self.entries)])

    def with_draft(self, draft: Procedure) -> "KnowledgeIndex":
        """This index with one entry replaced (or added) by a draft: what the assistant would answer
        once it is published. Only the draft's texts are embedded."""
        entries = [e for e in self.entries if e.slug != draft.slug] + [draft]
        vectors = None
        if self.encoder is not None:
            vectors = {**self.vectors, draft.slug: self.encoder.encode(procedure_texts(draft))}
        return KnowledgeIndex(entries, self.encoder, vectors, self.calibration, self.outside_dir)

    def named(self, words: list[str]) -> str | None:
        """The entry whose name or alias these content words are exactly, if any."""
        return self.names.get(" ".join(fold(w) for w in words)) if words else None

    def bm25_scores(self, query: str) -> np.ndarray:
        tokens = analyse(query)
        return self._bm25.get_scores(tokens) if tokens else np.zeros(len(self.entries))

    def dense_scores(self, query: str) -> np.ndarray:
        sims = self._matrix @ self.encoder.encode([query])[0]
        best = np.full(len(self.entries), -1.0)
        np.maximum.at(best, self._owner, sims)
        return best

    def coverage(self, query: str, position: int) -> float:
        """Share of the question's words that the entry at `position` is known by: a question
        about something else shares a word or two with an entry, not most of them."""
        words = {"~" + fold(w) for w in content_words(query)}
        return len(words & self._words[position]) / len(words) if words else 0.0

    def features(self, query: str, bm25: np.ndarray, dense: np.ndarray, exact: bool) -> np.ndarray:
        b = np.sort(bm25)[::-1]
        d = np.sort(dense)[::-1]
        agree = float(np.argmax(bm25) == np.argmax(dense)) if b[0] > 0 else 0.0
        return np.array(
            [
                d[0],
                d[0] - d[1],
                np.log1p(b[0]),
                b[1] / b[0] if b[0] > 0 else 1.0,
                agree + float(exact),
                self.coverage(query, int(np.argmax(dense))),
            ]
        )

    def out_of_scope(self, query: str) -> np.ndarray:
        """Entries whose scope note excludes this question."""
        padded = f" {fold(normalize(query))} "
        return np.array([any(p in padded for p in phrases) for phrases in self._not_covered])

    def scores(self, query: str, dense: bool = True) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
        """BM25 and dense scores per entry, entries whose scope excludes the question at the bottom;
        and which entries those are."""
        excluded = self.out_of_scope(query)
        bm25 = np.where(excluded, 0.0, self.bm25_scores(query))
        similar = np.where(excluded, -1.0, self.dense_scores(query)) if dense and self.encoder is not None else None
        return bm25, similar, excluded

    def search(self, query: str, k: int = 3, mode: str = "hybrid") -> SearchResult:
        bm25, dense, excluded = self.scores(query, dense=mode != "bm25")
        if dense is None:
            fused = bm25
        else:
            fused = dense if mode == "dense" else 1 / (RRF_K + _ranks(bm25)) + 1 / (RRF_K + _ranks(dense))
            fused = np.where(excluded, 0.0, fused)
        words = content_words(query)
        named = self.named(words)
        order = [int(i) for i in np.argsort(-fused, kind="stable")]
        if named is not None:  # the question is exactly one entry's name or alias: no doubt about it
            order.remove(self._position[named])
            order.insert(0, self._position[named])
        hits = [Hit(self.entries[i].slug, self.entries[i].title, float(fused[i])) for i in order[:k]]
        if dense is None:
            confidence = 1.0 if named or bm25.max() >= 3.0 else 0.0  # BM25 alone: a fixed score floor
            features = ()
        else:
            features = tuple(self.features(query, bm25, dense, named is not None))
            confidence = self.calibration.confidence(np.array(features))
        # a question with no content word ("hướng dẫn tôi nộp online") names no procedure at all
        abstain = named is None and (confidence < self.calibration.threshold or not words)
        ambiguous = not abstain and named is None and self._close(bm25, dense)
        return SearchResult(query, abstain, hits, confidence, named is not None, ambiguous, features)

    @staticmethod
    def _close(bm25: np.ndarray, dense: np.ndarray | None) -> bool:
        b = np.sort(bm25)[::-1]
        bm25_close = b[0] > 0 and b[1] >= CLOSE_BM25_RATIO * b[0]
        if dense is None:
            return bool(bm25_close)
        d = np.sort(dense)[::-1]
        return bool(bm25_close and d[0] - d[1] < CLOSE_DENSE_GAP)


@lru_cache
def default_encoder() -> Encoder:
    return Encoder(get_settings().embedding_model)


def default_calibration() -> Calibration:
    return Calibration.load(get_settings().search_calibration_path)


def sync_vectors(entries: list[Procedure], revisions: dict[str, int], encoder: Encoder) -> dict[str, np.ndarray]:
    """The stored vectors of every entry; entries whose revision (or model) changed are re-embedded."""
    with session_scope() as session:
        rows = session.scalars(select(SearchVector).where(SearchVector.model == encoder.id)).all()
        stored: dict[str, list[SearchVector]] = {}
        for row in rows:
            stored.setdefault(row.slug, []).append(row)
        vectors = {}
        for entry in entries:
            mine = sorted(stored.get(entry.slug, []), key=lambda r: r.position)
            texts = procedure_texts(entry)
            if mine and all(r.revision == revisions[entry.slug] for r in mine) and [r.text for r in mine] == texts:
                vectors[entry.slug] = np.vstack([np.frombuffer(r.vector, dtype=np.float32) for r in mine])
                continue
            fresh = encoder.encode(texts)
            session.execute(
                delete(SearchVector).where(SearchVector.model == encoder.id, SearchVector.slug == entry.slug)
            )
            session.add_all(
                SearchVector(
                    model=encoder.id,
                    slug=entry.slug,
                    revision=revisions[entry.slug],
                    position=i,
                    text=t,
                    vector=fresh[i].tobytes(),
                )
                for i, t in enumerate(texts)
            )
            vectors[entry.slug] = fresh
        gone = set(stored) - {e.slug for e in entries}
        if gone:
            session.execute(delete(SearchVector).where(SearchVector.slug.in_(gone)))
    return vectors


def build_live_index(encoder: Encoder | None = None) -> KnowledgeIndex:
    encoder = encoder or default_encoder()
    with session_scope() as session:
        entries = load_procedures(session)
        revisions = dict(session.execute(select(KnowledgeEntry.slug, KnowledgeEntry.revision)).all())
    return KnowledgeIndex(
        entries,
        encoder,
        sync_vectors(entries, revisions, encoder),
        default_calibration(),
        get_settings().knowledge_dir / "outside",
    )


class LiveIndex:
    """The index of what is in the database now. At most once a second it checks whether the
    procedures changed: the Redis counter a publish increments (REDIS_URL: one cheap read shared by
    every process), else the database's count and sum of revisions."""

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
        with self._lock:
            version = self._current_version()
            if version != self._version or self._index is None:
                self._index = build_live_index()
                self._version = version
            self._checked = now
            return self._index

    @staticmethod
    def _current_version() -> tuple:
        shared = shared_version()
        if shared is not None:
            return ("redis", shared)
        with session_scope() as session:
            return (
                "database",
                *session.execute(
                    select(func.count(), func.sum(KnowledgeEntry.revision), func.max(KnowledgeEntry.updated_at)).where(
                        KnowledgeEntry.kind == "procedure"
                    )  # what the index is built from
                ).one(),
            )


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
            stdout.write(
                f"{verdict}{query}  (confidence {result.confidence:.2f})\n"
                + "".join(f"  {h.score:6.3f}  {h.slug}  {h.title}\n" for h in result.hits)
            )
        stdout.flush()
    return 0
