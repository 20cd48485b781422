"""Unanswered questions: what citizens asked that the assistant declined, could not place, answered
with low confidence, or handed to a volunteer because it did not understand — grouped so that staff
see each question once with its count, and turn it into knowledge (an alias, a FAQ entry) that is
live at once. Also the FAQ drafts volunteers send from the console.

Citizen texts are stored masked for secrets; everything shown here also has contacts masked."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.orm import Session

from bot.knowledge.publish import PublishError, publish
from bot.knowledge.publish import entry as knowledge_entry
from bot.knowledge.schema import Procedure
from bot.knowledge.search import STOP_PHRASES, STOPWORDS, live_index
from bot.storage import audit
from bot.storage.models import (
    Conversation,
    FaqDraft,
    Handoff,
    InboxDecision,
    KnowledgeEntry,
    Message,
    Turn,
    Volunteer,
    as_utc,
    utcnow,
)
from bot.text import fold, normalize
from bot.text.masking import mask_contacts

# Rasa's intent confidence below which an answer counts as a guess staff should look at.
LOW_CONFIDENCE = 0.5
# A handoff for repeated fallback follows the messages the assistant did not understand: the
# citizen's messages of this window before the request.
FALLBACK_WINDOW = dt.timedelta(minutes=2)
# Two questions whose content words overlap this much (Jaccard) are one group.
SAME_QUESTION = 0.6
EXAMPLES = 5
REASONS = ("decline", "clarify", "low_confidence", "repeated_fallback")
# What staff decided, as stored in InboxDecision.action.
DECISIONS = {
    "alias": "alias",
    "faq_variant": "faq_variant",
    "faq_new": "faq_created",
    "out_of_scope": "out_of_scope",
    "ignore": "ignored",
}
KNOWLEDGE_ACTIONS = ("alias", "faq_variant", "faq_new")
# Folded, so that a question typed without diacritics loses the same particles as with them.
NOT_CONTENT = frozenset(fold(w) for w in STOPWORDS) | frozenset(fold(w) for p in STOP_PHRASES for w in p.split())


class InboxError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


def content_words(text: str) -> frozenset[str]:
    """The folded words that say what is asked; the whole folded text when nothing else is left."""
    words = [fold(w) for w in normalize(text).split()]
    return frozenset(w for w in words if w not in NOT_CONTENT) or frozenset(words)


def similar(a: frozenset[str], b: frozenset[str]) -> bool:
    return bool(a | b) and len(a & b) / len(a | b) >= SAME_QUESTION


@dataclass
class Unanswered:
    message: Message
    reasons: set[str]
    procedure: str | None = None


@dataclass
class Group:
    words: frozenset[str]
    items: list[Unanswered] = field(default_factory=list)


def _candidates(session: Session, since: dt.datetime) -> dict[int, Unanswered]:
    undecided = ~exists().where(InboxDecision.message_id == Message.id)
    citizen = and_(Message.author == "citizen", Message.text != "", undecided)
    found: dict[int, Unanswered] = {}
    turns = session.execute(
        select(Message, Turn)
        .join(Turn, Turn.message_id == Message.id)
        .where(
            citizen,
            Message.created_at >= since,
            or_(
                Turn.outcome.in_(("decline", "clarify")),
                and_(Turn.outcome == "answer", Turn.confidence < LOW_CONFIDENCE),
            ),
        )
    ).all()
    for message, turn in turns:
        reason = "low_confidence" if turn.outcome == "answer" else turn.outcome
        found[message.id] = Unanswered(message, {reason}, turn.procedure)
    handoffs = session.scalars(
        select(Handoff).where(Handoff.reason == "repeated_fallback", Handoff.requested_at >= since)
    ).all()
    for handoff in handoffs:
        before = session.scalars(
            select(Message).where(
                citizen,
                Message.conversation_id == handoff.conversation_id,
                Message.created_at >= handoff.requested_at - FALLBACK_WINDOW,
                Message.created_at <= handoff.requested_at,
            )
        ).all()
        for message in before:
            found.setdefault(message.id, Unanswered(message, set())).reasons.add("repeated_fallback")
    return found


def _grouped(candidates: dict[int, Unanswered]) -> list[Group]:
    """Greedy, newest first: a question joins the first group whose newest question it resembles."""
    groups: list[Group] = []
    newest_first = sorted(candidates.values(), key=lambda u: (as_utc(u.message.created_at), u.message.id), reverse=True)
    for item in newest_first:
        words = content_words(item.message.text)
        group = next((g for g in groups if similar(g.words, words)), None)
        if group is None:
            group = Group(words)
            groups.append(group)
        group.items.append(item)
    return groups


def _suggestion(session: Session, group: Group) -> dict[str, str] | None:
    """The procedure the turns named, else the search's nearest entry: a suggestion for staff, so
    it may come from below the threshold at which the assistant would answer."""
    named = Counter(i.procedure for i in group.items if i.procedure)
    slug = named.most_common(1)[0][0] if named else None
    if slug is None:
        hits = live_index.get().search(group.items[0].message.text).hits
        slug = hits[0].slug if hits else None
    row = session.get(KnowledgeEntry, slug) if slug else None
    return {"slug": row.slug, "title": row.title} if row is not None and row.kind == "procedure" else None


def unanswered(session: Session, days: int) -> list[dict[str, Any]]:
    groups = _grouped(_candidates(session, utcnow() - dt.timedelta(days=days)))
    listed = []
    for group in groups:
        newest = group.items[0].message
        listed.append(
            {
                "text": mask_contacts(newest.text),
                "count": len(group.items),
                "newest_at": as_utc(newest.created_at).isoformat(),
                "reasons": [r for r in REASONS if any(r in i.reasons for i in group.items)],
                "suggestion": _suggestion(session, group),
                "message_ids": [i.message.id for i in group.items],
                "examples": [
                    {
                        "message_id": i.message.id,
                        "conversation_id": i.message.conversation_id,
                        "text": mask_contacts(i.message.text),
                        "at": as_utc(i.message.created_at).isoformat(),
                    }
                    for i in group.items[:EXAMPLES]
                ],
            }
        )
    return listed


def transcript(session: Session, conversation_id: int) -> dict[str, Any]:
    """A conversation for staff: who said what and when, contacts masked, no channel user id."""
    if session.get(Conversation, conversation_id) is None:
        raise InboxError(404, "Không tìm thấy cuộc trò chuyện.")
    messages = session.scalars(select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id))
    return {
        "id": conversation_id,
        "messages": [
            {"id": m.id, "author": m.author, "at": as_utc(m.created_at).isoformat(), "text": mask_contacts(m.text)}
            for m in messages
        ],
    }


# -- turning a question into knowledge ---------------------------------------------------------


@dataclass(frozen=True)
class Knowledge:
    """What to add to which procedure: `question` as an alias or a FAQ question; `faq_id` names the
    FAQ entry to extend; a new entry also needs `phrasing` (its second question), `answer`, `source`."""

    action: str
    slug: str | None = None
    question: str | None = None
    faq_id: str | None = None
    phrasing: str | None = None
    answer: str | None = None
    source: str | None = None


def _faq_id(text: str, taken: set[str]) -> str:
    base = "-".join(re.sub(r"[^a-z0-9]+", "-", w).strip("-") for w in sorted(content_words(text)))[:50].strip("-")
    base, n = base or "hoi", 1
    candidate = base
    while candidate in taken:
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def _added(data: dict[str, Any], change: Knowledge) -> dict[str, Any] | None:
    """The entry's content with the question added; None when it is there already."""
    question = change.question.strip()
    known = {fold(normalize(q)) for q in data["aliases"] + [q for f in data.get("faq", []) for q in f["questions"]]}
    if change.action != "faq_new" and fold(normalize(question)) in known:
        return None
    data = {**data, "faq": [dict(f) for f in data.get("faq", [])]}
    if change.action == "alias":
        data["aliases"] = [*data["aliases"], question]
    elif change.action == "faq_variant":
        target = next((f for f in data["faq"] if f["id"] == change.faq_id), None)
        if target is None:
            raise PublishError(422, "Không có câu hỏi thường gặp này trong thủ tục.", field="faq_id")
        target["questions"] = [*target["questions"], question]
    else:
        if not (change.phrasing and change.answer):
            raise PublishError(
                422, "Cần thêm một cách hỏi khác và câu trả lời.", field="phrasing" if not change.phrasing else "answer"
            )
        source = change.source or data["sources"][0]["id"]
        data["faq"].append(
            {
                "id": _faq_id(question, {f["id"] for f in data["faq"]}),
                "questions": [question, change.phrasing.strip()],
                "answer": change.answer.strip(),
                "source": source,
            }
        )
    return data


def apply_knowledge(session: Session, change: Knowledge, actor: Volunteer) -> int | None:
    """Publish the change as the next revision of the procedure; the new revision, or None when the
    question was already known (nothing to publish)."""
    if not change.slug or not change.question or not change.question.strip():
        raise PublishError(422, "Cần chọn thủ tục và câu hỏi.", field="slug" if not change.slug else "question")
    row = knowledge_entry(session, change.slug)
    if row.kind != "procedure":
        raise PublishError(422, "Chỉ thêm được vào một thủ tục.", field="slug")
    data = _added(Procedure.model_validate(row.data).model_dump(mode="json"), change)
    if data is None:
        return None
    return publish(
        session, change.slug, data, actor_id=actor.id, author=actor.display_name, expected_revision=row.revision
    )


def decide(session: Session, message_ids: list[int], change: Knowledge, actor_id: int) -> int | None:
    """Apply staff's decision on these messages; the published revision when knowledge changed.
    Every message gets its decision (it leaves the inbox) and the audit log one line."""
    actor = session.get(Volunteer, actor_id)
    messages = session.scalars(select(Message).where(Message.id.in_(message_ids), Message.author == "citizen")).all()
    if len(messages) != len(set(message_ids)):
        raise InboxError(404, "Không tìm thấy câu hỏi; anh/chị tải lại danh sách.")
    if change.action in KNOWLEDGE_ACTIONS and not change.question:
        newest = max(messages, key=lambda m: m.id)
        change = replace(change, question=mask_contacts(newest.text))
    revision = apply_knowledge(session, change, actor) if change.action in KNOWLEDGE_ACTIONS else None
    decided = set(session.scalars(select(InboxDecision.message_id).where(InboxDecision.message_id.in_(message_ids))))
    for message in messages:
        if message.id not in decided:
            session.add(
                InboxDecision(
                    message_id=message.id,
                    action=DECISIONS[change.action],
                    slug=change.slug if change.action in KNOWLEDGE_ACTIONS else None,
                    actor_id=actor_id,
                )
            )
    audit.record(
        session,
        actor_id,
        "inbox.decide",
        change.slug or "inbox",
        decision=change.action,
        messages=len(messages),
        revision=revision,
    )
    return revision


# -- FAQ drafts from the console ----------------------------------------------------------------


def drafts(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(
        select(FaqDraft, Volunteer.display_name)
        .outerjoin(Volunteer, Volunteer.id == FaqDraft.volunteer_id)
        .where(FaqDraft.status == "open")
        .order_by(FaqDraft.id.desc())
    ).all()
    titles = dict(session.execute(select(KnowledgeEntry.slug, KnowledgeEntry.title)).all())
    return [
        {
            "id": d.id,
            "conversation_id": d.conversation_id,
            "slug": d.slug,
            "title": titles.get(d.slug),
            "question": mask_contacts(d.question),
            "answer": mask_contacts(d.answer),
            "volunteer": name,
            "created_at": as_utc(d.created_at).isoformat(),
        }
        for d, name in rows
    ]


def _open_draft(session: Session, draft_id: int) -> FaqDraft:
    draft = session.get(FaqDraft, draft_id)
    if draft is None or draft.status != "open":
        raise InboxError(404, "Không tìm thấy bản nháp này (có thể đã được xử lý).")
    return draft


def publish_draft(session: Session, draft_id: int, change: Knowledge, actor_id: int) -> tuple[str, int | None]:
    """The procedure the draft went into and its new revision."""
    if change.action not in ("faq_new", "faq_variant"):
        raise InboxError(422, "Bản nháp chỉ thêm được thành câu hỏi thường gặp.")
    draft = _open_draft(session, draft_id)
    change = replace(
        change,
        slug=change.slug or draft.slug,
        question=change.question or draft.question,
        answer=change.answer or draft.answer,
    )
    revision = apply_knowledge(session, change, session.get(Volunteer, actor_id))
    draft.status = "published"
    audit.record(session, actor_id, "inbox.draft_published", change.slug, draft=draft_id, revision=revision)
    return change.slug, revision


def dismiss_draft(session: Session, draft_id: int, actor_id: int) -> None:
    _open_draft(session, draft_id).status = "dismissed"
    audit.record(session, actor_id, "inbox.draft_dismissed", "inbox", draft=draft_id)
