"""The unanswered-question inbox on the real stack: questions the assistant could not place,
declined or handed over for not understanding are grouped (accent-insensitive) and counted; staff's
decisions take them out, an alias or a FAQ variant makes the next identical question answered with
that procedure; a volunteer's reply sent from the console shows as a FAQ draft; deleting a citizen's
data takes their drafts and the decisions on their messages with it."""

from __future__ import annotations

import datetime as dt
import random
import time

import httpx
import pytest
from sqlalchemy import select

from bot.admin.inbox import content_words, similar
from bot.privacy import forget_citizen, purge_expired
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, Citizen, Conversation, FaqDraft, InboxDecision, Message, utcnow
from tests.integration.people import Console, WebCitizen, open_conversation

# A colloquial question the catalogue's aliases lack: the assistant asks which procedure is meant.
NEWBORN = "con mới đẻ làm giấy gì"
NEWBORN_FOLDED = "con moi de lam giay gi"
NEWBORN_SLUG = "khai-sinh"
# Another way to say it, that a FAQ variant of the procedure makes answered.
NEWBORN_VARIANT = "bé nhà em mới chào đời thì đi làm giấy gì"
LIVE_WITHIN_S = 5.0
CONSONANTS = "bcdfghjklmnpqrstvwxz"


def nonsense() -> str:
    """Words of no language, unique to one test."""
    return " ".join("".join(random.choice(CONSONANTS) for _ in range(5)) for _ in range(3))


@pytest.fixture(scope="module")
def staff(stack) -> Console:
    return Console(stack.gateway_url, "Hoa", role="staff", online=False)


def ask(base: str, text: str) -> dict:
    """One question in a fresh web conversation; the turn's `about`."""
    with httpx.Client(base_url=base, timeout=60) as http:
        sender = open_conversation(http)
        response = http.post("/api/chat", json={"sender_id": sender, "text": text})
        assert response.status_code == 200, response.text
        return response.json()["about"]


def group_of(staff: Console, text: str) -> dict | None:
    response = staff.http.get("/admin/api/inbox", params={"days": 1})
    assert response.status_code == 200, response.text
    return next((g for g in response.json()["groups"] if any(e["text"] == text for e in g["examples"])), None)


def decide(staff: Console, group: dict, action: str, **extra) -> httpx.Response:
    return staff.post("/admin/api/inbox/decide", {"message_ids": group["message_ids"], "action": action, **extra})


def answered_with(base: str, text: str, slug: str) -> dict:
    """Asks in fresh conversations until the answer is about `slug` (a publish is live within seconds)."""
    deadline = time.monotonic() + LIVE_WITHIN_S
    while True:
        about = ask(base, text)
        if about["outcome"] == "answer" and about["procedure"] == slug:
            return about
        assert time.monotonic() < deadline, f"{text!r} not answered with {slug} within {LIVE_WITHIN_S}s: {about}"


def test_grouping_folds_diacritics_and_ignores_particles():
    fee = content_words("làm cccd mất bao nhiêu tiền")
    assert similar(fee, content_words("lam cccd mat bao nhieu tien"))
    assert similar(fee, content_words("cho em hỏi làm cccd mất bao nhiêu tiền ạ"))
    assert similar(fee, content_words("làm cccd lần đầu mất bao nhiêu tiền"))
    assert not similar(fee, content_words("đăng ký kết hôn ở đâu"))


def test_an_unplaced_question_is_grouped_counted_and_an_alias_makes_it_answered(stack, staff, restores):
    base = stack.gateway_url
    assert ask(base, NEWBORN)["outcome"] in ("clarify", "decline")
    assert ask(base, NEWBORN_FOLDED)["outcome"] in ("clarify", "decline")
    group = group_of(staff, NEWBORN_FOLDED)  # the newest is the representative
    assert group is not None and group["text"] == NEWBORN_FOLDED
    assert group["count"] >= 2 and {e["text"] for e in group["examples"]} >= {NEWBORN, NEWBORN_FOLDED}
    assert set(group["reasons"]) <= {"clarify", "decline"} and group["reasons"]

    transcript = staff.http.get(f"/admin/api/conversations/{group['examples'][0]['conversation_id']}").json()
    assert [m["author"] for m in transcript["messages"]][:2] == ["citizen", "bot"]
    assert "channel_user_id" not in str(transcript) and transcript["messages"][0]["text"] == NEWBORN_FOLDED

    restores(NEWBORN_SLUG)
    decided = decide(staff, group, "alias", slug=NEWBORN_SLUG, question=NEWBORN)
    assert decided.status_code == 200, decided.text
    assert decided.json()["revision"] is not None
    assert group_of(staff, NEWBORN_FOLDED) is None  # decided messages leave the inbox
    answered_with(base, NEWBORN, NEWBORN_SLUG)
    with session_scope() as session:
        decisions = session.scalars(
            select(InboxDecision).where(InboxDecision.message_id.in_(group["message_ids"]))
        ).all()
        line = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "inbox.decide").order_by(AuditEntry.id.desc())
        ).first()
    assert {d.action for d in decisions} == {"alias"} and len(decisions) == len(group["message_ids"])
    assert line.target == NEWBORN_SLUG and NEWBORN not in str(line.detail)


def test_a_faq_variant_makes_the_question_answered_with_its_procedure(stack, staff, restores):
    question = NEWBORN_VARIANT
    assert ask(stack.gateway_url, question)["outcome"] in ("clarify", "decline")
    group = group_of(staff, question)
    assert group is not None and group["count"] == 1
    restores(NEWBORN_SLUG)
    entry = staff.http.get(f"/admin/api/entries/{NEWBORN_SLUG}").json()["entry"]
    faq_id = entry["faq"][0]["id"]
    decided = decide(staff, group, "faq_variant", slug=NEWBORN_SLUG, faq_id=faq_id, question=question)
    assert decided.status_code == 200, decided.text
    after = staff.http.get(f"/admin/api/entries/{NEWBORN_SLUG}").json()["entry"]
    assert question in next(f for f in after["faq"] if f["id"] == faq_id)["questions"]
    answered_with(stack.gateway_url, question, NEWBORN_SLUG)


def test_a_new_faq_entry_needs_its_fields_and_cites_a_source(stack, staff, restores):
    question = "nhà em mới có em bé thì làm giấy gì"
    assert ask(stack.gateway_url, question)["outcome"] in ("clarify", "decline")
    group = group_of(staff, question)
    assert group is not None
    restores(NEWBORN_SLUG)
    missing = decide(staff, group, "faq_new", slug=NEWBORN_SLUG, question=question)
    assert missing.status_code == 422 and missing.json()["field"] == "phrasing"
    bad_source = decide(
        staff,
        group,
        "faq_new",
        slug=NEWBORN_SLUG,
        question=question,
        phrasing="trẻ sinh non khai sinh",
        answer="Dạ, khai sinh như trẻ khác.",
        source="khong-co-nguon-nay",
    )
    assert bad_source.status_code == 422
    created = decide(
        staff,
        group,
        "faq_new",
        slug=NEWBORN_SLUG,
        question=question,
        phrasing="trẻ sinh non khai sinh",
        answer="Dạ, trẻ sinh non được khai sinh như các bé khác.",
    )
    assert created.status_code == 200, created.text
    faq = staff.http.get(f"/admin/api/entries/{NEWBORN_SLUG}").json()["entry"]["faq"]
    assert any(f["questions"] == [question, "trẻ sinh non khai sinh"] for f in faq)


def test_repeated_fallback_is_listed_and_out_of_scope_or_ignore_take_it_out(stack, staff):
    citizen = WebCitizen(stack.gateway_url)
    first, second = "sdfkj qwe zxc", "lorem ipsum dolor"  # as tests/integration/test_handoff.py
    citizen.say(first)
    citizen.say(second)
    assert citizen.handoff().reason == "repeated_fallback"
    group = group_of(staff, first)
    assert group is not None and "repeated_fallback" in group["reasons"]
    assert decide(staff, group, "out_of_scope").status_code == 200
    assert group_of(staff, first) is None
    other = group_of(staff, second)
    assert other is not None and decide(staff, other, "ignore").status_code == 200
    assert group_of(staff, second) is None
    assert decide(staff, other, "alias").status_code == 422  # an alias needs its procedure


def test_who_may_use_the_inbox(stack, staff):
    volunteer = Console(stack.gateway_url, "Minh", online=False)
    with httpx.Client(base_url=stack.gateway_url) as anonymous:
        assert anonymous.get("/admin/api/inbox").status_code == 401
        assert anonymous.get("/admin/api/inbox/drafts").status_code == 401
    assert volunteer.http.get("/admin/api/inbox").status_code == 403
    assert volunteer.post("/admin/api/inbox/decide", {"message_ids": [1], "action": "ignore"}).status_code == 403
    assert volunteer.http.get("/admin/api/conversations/1").status_code == 403
    assert staff.http.get("/admin/api/inbox", params={"days": 0}).status_code == 422
    assert staff.post("/admin/api/inbox/decide", {"message_ids": [2**31 - 1], "action": "ignore"}).status_code == 404
    assert staff.http.get(f"/admin/api/conversations/{2**31 - 1}").status_code == 404


def _handoff_with_reply(base: str) -> tuple[WebCitizen, Console, int]:
    citizen = WebCitizen(base)
    lan = Console(base, "Lan")
    handoff_id = citizen.ask_for_a_person()
    assert lan.post(f"/console/api/handoffs/{handoff_id}/claim").status_code == 200
    citizen.say("cháu gọi 0912345678, bà nội đi khai sinh cho cháu được không")
    assert lan.send(handoff_id, "Dạ được, ông bà đi thay bố mẹ được, mang theo giấy ủy quyền.").status_code == 200
    return citizen, lan, handoff_id


def test_a_volunteer_reply_becomes_a_draft_staff_publish_or_dismiss(stack, staff, restores):
    citizen, lan, handoff_id = _handoff_with_reply(stack.gateway_url)
    body = {
        "question": "bà nội gọi 0912345678 đi khai sinh cho cháu được không",
        "answer": "Dạ được, ông bà đi thay bố mẹ được, mang theo giấy ủy quyền.",
        "slug": NEWBORN_SLUG,
    }
    other = Console(stack.gateway_url, "Tuan")
    assert other.post(f"/console/api/handoffs/{handoff_id}/faq-draft", body).status_code == 403
    assert lan.post(f"/console/api/handoffs/{handoff_id}/faq-draft", {**body, "question": "x" * 501}).status_code == 422
    sent = lan.post(f"/console/api/handoffs/{handoff_id}/faq-draft", body)
    assert sent.status_code == 200, sent.text
    draft_id = sent.json()["draft"]["id"]

    drafts = staff.http.get("/admin/api/inbox/drafts").json()["drafts"]
    [draft] = [d for d in drafts if d["id"] == draft_id]
    assert draft["volunteer"] == "Lan" and draft["slug"] == NEWBORN_SLUG and "0912345678" not in draft["question"]
    restores(NEWBORN_SLUG)
    published = staff.post(
        f"/admin/api/inbox/drafts/{draft_id}/publish",
        {"action": "faq_new", "phrasing": "ông bà làm khai sinh thay bố mẹ được không"},
    )
    assert published.status_code == 200, published.text
    assert draft_id not in [d["id"] for d in staff.http.get("/admin/api/inbox/drafts").json()["drafts"]]
    faq = staff.http.get(f"/admin/api/entries/{NEWBORN_SLUG}").json()["entry"]["faq"]
    assert any(f["answer"] == body["answer"] for f in faq)

    again = lan.post(f"/console/api/handoffs/{handoff_id}/faq-draft", body).json()["draft"]["id"]
    assert staff.post(f"/admin/api/inbox/drafts/{again}/dismiss").status_code == 200
    assert staff.post(f"/admin/api/inbox/drafts/{again}/dismiss").status_code == 404


def test_deleting_a_citizens_data_removes_their_drafts_and_the_decisions_on_their_messages(stack, staff):
    citizen, lan, handoff_id = _handoff_with_reply(stack.gateway_url)
    draft = {"question": "bà nội đi khai sinh cho cháu được không", "answer": "Dạ được."}
    draft_id = lan.post(f"/console/api/handoffs/{handoff_id}/faq-draft", draft).json()["draft"]["id"]
    question = nonsense()
    citizen.say(question)  # asked while a volunteer holds the conversation: no turn, so decide it directly
    message_id = citizen.messages()[-1].id
    assert staff.post("/admin/api/inbox/decide", {"message_ids": [message_id], "action": "ignore"}).status_code == 200
    with session_scope() as session:
        assert session.get(InboxDecision, message_id) is not None

    assert forget_citizen("web", citizen.sender) == 1
    with session_scope() as session:
        assert session.get(FaqDraft, draft_id) is None
        assert session.get(InboxDecision, message_id) is None
    assert draft_id not in [d["id"] for d in staff.http.get("/admin/api/inbox/drafts").json()["drafts"]]


def test_retention_purges_old_drafts_and_the_decisions_on_purged_messages(loaded_db):
    now = utcnow()
    long_ago = now - dt.timedelta(days=loaded_db.retention_days + 1)
    with session_scope() as session:
        citizen = Citizen(channel="web", channel_user_id=f"inbox-retention-{nonsense()}")
        session.add(citizen)
        session.flush()
        conversation = Conversation(citizen_id=citizen.id, rasa_sender_id=f"inbox-retention-{nonsense()}")
        session.add(conversation)
        session.flush()
        old = Message(
            conversation_id=conversation.id,
            direction="in",
            channel="web",
            author="citizen",
            text="câu hỏi cũ",
            status="processed",
            created_at=long_ago,
        )
        session.add(old)
        session.flush()
        session.add_all(
            [
                InboxDecision(message_id=old.id, action="ignored", created_at=long_ago),
                FaqDraft(conversation_id=conversation.id, question="câu hỏi cũ", answer="trả lời", created_at=long_ago),
                FaqDraft(conversation_id=conversation.id, question="câu hỏi mới", answer="trả lời", created_at=now),
            ]
        )
    purge_expired(now)
    with session_scope() as session:
        assert session.get(InboxDecision, old.id) is None  # the FK cascade, on SQLite too
        drafts = session.scalars(select(FaqDraft.question).where(FaqDraft.conversation_id == conversation.id)).all()
    assert drafts == ["câu hỏi mới"]
