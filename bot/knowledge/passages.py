"""Every fact of an entry as a passage that can be quoted alone, with its aspect and source, and
the choice of the passage that answers a specific question ("trong bao nhiêu ngày phải đi khai
sinh" → the 60-day line, not the whole processing-time field)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.knowledge.question import Question, words_of
from bot.knowledge.schema import Procedure, Source
from bot.text import fold, normalize

_SENTENCE_END = re.compile(r"(?<=[.;])\s+(?=[A-ZĐÀ-Ỹ0-9])")
_NUMBER = re.compile(r"\d")
# what a figure looks like in an answer to "bao nhiêu tiền" or "bao lâu"
_FIGURE = {
    "fee": re.compile(r"\d[\d.]*\s*(đồng|nghìn|vnđ)", re.I),
    "time": re.compile(r"\d+\s*(ngày|giờ|tháng|tuần|năm)|trong ngày", re.I),
}
# Questions that ask for a number: a passage without one cannot answer them.
_ASKS_NUMBER = [fold(normalize(p)) for p in ("bao nhiêu", "mấy", "bao lâu", "bao giờ", "khi nào", "mấy giờ")]
MIN_SCORE = 3.0


@dataclass(frozen=True)
class Passage:
    slug: str
    aspect: str
    text: str
    source: Source
    confirm: bool = False
    asked_as: str = ""  # how citizens ask for it (an FAQ's questions)

    @property
    def words(self) -> set[str]:
        """What a question must share with it: an FAQ is matched on how citizens ask it, other
        facts on their own words."""
        return _words(self.asked_as or self.text)


def _words(text: str) -> set[str]:
    words = words_of(text)
    return set(words) | {f"{a}_{b}" for a, b in zip(words, words[1:])}


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith((".", "?", "!", ":")) else text + "."


def source_of(entry: Procedure, source_id: str | None = None) -> Source:
    return next((s for s in entry.sources if s.id == source_id), entry.sources[0])


def passages(entry: Procedure) -> list[Passage]:
    main = entry.sources[0]
    out: list[Passage] = []

    def add(aspect: str, text: str | None, confirm: bool = False, source: Source = main) -> None:
        if text and text.strip():
            out.append(Passage(entry.slug, aspect, _sentence(text), source, confirm or entry.confidence == "low"))

    for doc in entry.documents:
        add("documents", f"{doc.name}: {doc.note}" if doc.note else doc.name, doc.confirm)
    for sentence in _sentences(entry.fee.text or ""):
        add("fee", sentence, entry.fee.confirm)
    for exemption in entry.fee.exemptions:
        add("fee", f"Được miễn lệ phí: {exemption}", entry.fee.confirm)
    for sentence in _sentences(entry.processing_time.text or ""):
        add("time", sentence, entry.processing_time.confirm)
    for line in entry.eligibility:
        add("eligibility", line)
    add("where", entry.agency.text, entry.agency.confirm)
    for place in entry.where:
        add("where", place, entry.agency.confirm)
    add("online", entry.online.in_person_reason, entry.online.confirm)
    for item in entry.before_you_start:
        add("documents", item)
    for step in entry.steps:
        add("process", f"{step.title}: {step.instruction}", source=source_of(entry, step.source))
        for problem in step.problems:
            add("process", f"{problem.title}: {problem.fix}", source=source_of(entry, problem.source))
    for line in entry.after_submission:
        add("process", line)
    for faq in entry.faq:
        out.append(
            Passage(
                entry.slug,
                "faq",
                _sentence(faq.answer),
                source_of(entry, faq.source),
                entry.confidence == "low",
                " ".join(faq.questions),
            )
        )
    return out


def pick(entry: Procedure, question: Question, aspect: str | None) -> Passage | None:
    """The passage that answers a specific question, or None when the question asks for the
    aspect as a whole ("cần giấy tờ gì") or nothing fits well enough."""
    names = _words(" ".join([entry.title, *entry.aliases]))
    asked: set[str] = set()
    for part in (question.clause, question.focus):  # the question proper before the story around it
        asked = {w for w in _words(part) - names - question.cue_words() if "_" in w or len(w) > 1}
        if asked:
            break
    if not asked:
        return None
    wants_number = any(f" {p} " in f" {fold(normalize(question.focus))} " for p in _ASKS_NUMBER)
    specific = aspect in ("documents", "fee", "time", "where", "online")
    best: tuple[float, Passage] | None = None
    for passage in passages(entry):
        if specific and passage.aspect not in (aspect, "faq"):
            continue  # a fee question is answered from the fee lines (or an FAQ), not from a step
        if specific and wants_number and not _FIGURE.get(aspect, _NUMBER).search(passage.text):
            continue  # "bao nhiêu tiền" is not answered by a line without a figure
        overlap = asked & passage.words
        score = sum(2.0 if "_" in w else 1.0 for w in overlap)
        if not score:
            continue
        if aspect and passage.aspect == aspect:
            score += 1.0
        if wants_number and _NUMBER.search(passage.text):
            score += 1.0
        if best is None or score > best[0]:
            best = (score, passage)
    # for a specific aspect the whole field is a good answer too: a passage must fit clearly better
    needed = MIN_SCORE + 1 if specific else MIN_SCORE
    return best[1] if best and best[0] >= needed else None
