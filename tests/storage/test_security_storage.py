"""Storage findings of the security review (issue 12): message ids scoped to the citizen, ids that
reach links never reused, retention that leaves nothing behind, a bounded Rasa tracker."""

from __future__ import annotations

import asyncio
import datetime as dt
import multiprocessing
import os
import queue

from sqlalchemy import delete, select

from bot.console import auth
from bot.messages import Inbound
from bot.privacy import forget_citizen, purge_expired
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import (
    Citizen,
    Conversation,
    GuideEvent,
    Handoff,
    HandoffAssignment,
    Message,
    Owner,
    utcnow,
)
from tests.storage.test_postgres import on_postgres  # noqa: F401  (a fixture)
from tests.test_rasa_addons import RASAS_STORE, run_in_rasa

LONG_CONVERSATION = """
import asyncio, json
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (ActionExecuted, AllSlotsReset, BotUttered, ConversationPaused, SessionStarted,
                                     SlotSet, UserUttered)
from rasa_addons.tracker_store import KEEP_TURNS, GatewaySQLTrackerStore

URL, DIALECT = {url!r}, {dialect!r}
SLOTS = ("procedure", "guide_step", "forgotten", "turn")
domain = Domain.from_dict({{"slots": {{name: {{"type": "any", "mappings": [{{"type": "custom"}}]}} for name in SLOTS}}}})


def turn(n):
    return [UserUttered(f"tin nhắn {{n}}", {{"name": "ask_documents", "confidence": 0.9}}),
            ActionExecuted("action_answer"), SlotSet("turn", n), BotUttered(f"Dạ, trả lời {{n}}"),
            ActionExecuted("action_listen")]


async def main():
    ours = GatewaySQLTrackerStore(domain=domain, host=URL, dialect=DIALECT)
    theirs = RasasStore(domain=domain, host=URL, dialect=DIALECT)
    tracker = ours.init_tracker("long")
    for item in [ActionExecuted("action_session_start"), SessionStarted(), SlotSet("forgotten", "x"), AllSlotsReset(),
                 ActionExecuted("action_listen")]:
        tracker.update(item)
    await ours.save(tracker)
    sizes = []
    for n in range(300):  # as Rasa does for every message: read the tracker, add the turn, save it
        tracker = await ours.retrieve("long")
        sizes.append(len(tracker.events))
        for item in turn(n):
            tracker.update(item)
        if n == 3:
            tracker.update(SlotSet("procedure", "dang-ky-khai-sinh"))
        if n == 100:
            tracker.update(SlotSet("guide_step", 2))
            tracker.update(ConversationPaused())
        await ours.save(tracker)
    mine, full = await ours.retrieve("long"), await theirs.retrieve("long")
    with ours.engine.connect() as connection:
        rows = connection.exec_driver_sql("SELECT count(*) FROM events WHERE sender_id = 'long'").scalar()
    tail = len(turn(0)) * (KEEP_TURNS - 1)  # the turns read whole
    print(json.dumps({{
        "largest_read": max(sizes), "bound": tail + 20, "rows": rows,
        "slots": {{name: mine.get_slot(name) for name in SLOTS}},
        "full_slots": {{name: full.get_slot(name) for name in SLOTS}},
        "paused": mine.is_paused(),
        "same_tail": [e.as_dict() for e in mine.events][-tail:] == [e.as_dict() for e in full.events][-tail:],
    }}))


asyncio.run(main())
"""


def check_long_conversation(url: str, dialect: str) -> None:
    result = run_in_rasa(RASAS_STORE + LONG_CONVERSATION.format(url=url, dialect=dialect))
    assert result["largest_read"] <= result["bound"]  # 300 turns in, the tracker still holds about KEEP_TURNS
    assert result["rows"] == 5 + 300 * 5 + 3  # every event stored once
    assert (
        result["slots"]
        == result["full_slots"]
        == {"procedure": "dang-ky-khai-sinh", "guide_step": 2, "forgotten": None, "turn": 299}
    )
    assert result["paused"] and result["same_tail"]


def test_tracker_store_reads_a_bounded_tracker_of_a_long_conversation(tracker_url):
    check_long_conversation(*tracker_url)


# -- finding 5: a channel's message id belongs to the citizen who sent it ------------------------------------------


def _inbound(user_id: str, message_id: str, text: str) -> Inbound:
    return Inbound(channel="zalo", user_id=user_id, text=text, message_id=message_id)


def test_the_same_message_id_from_another_citizen_is_their_own_new_message(loaded_db):
    with session_scope() as session:
        first = repo.conversation_for(session, "zalo", "scoped-a")
        mine = repo.record_inbound(session, first, _inbound("scoped-a", "mid-1", "của A"), "của A", [])
        other = repo.conversation_for(session, "zalo", "scoped-b")
        theirs = repo.record_inbound(session, other, _inbound("scoped-b", "mid-1", "của B"), "của B", [])
        assert mine is not None and theirs is not None and mine != theirs
        assert repo.find_inbound(session, other.citizen_id, "mid-1").text == "của B"
        later = repo.new_conversation(session, first.citizen_id)  # A's conversation was closed since
        assert repo.record_inbound(session, later, _inbound("scoped-a", "mid-1", "của A"), "của A", []) is None
        assert repo.find_inbound(session, first.citizen_id, "mid-1").id == mine


# -- finding 16: ids that reach links are never reused; retention leaves nothing behind -----------------------------


def _conversation(session, user_id: str, **fields) -> Conversation:
    citizen = Citizen(channel="web", channel_user_id=user_id, **fields)
    session.add(citizen)
    session.flush()
    conversation = Conversation(
        citizen_id=citizen.id,
        rasa_sender_id=f"sender-{user_id}",
        **({"updated_at": fields["created_at"]} if "created_at" in fields else {}),
    )
    session.add(conversation)
    session.flush()
    return conversation


def test_the_id_of_a_deleted_newest_handoff_or_message_is_never_given_again(loaded_db):
    def newest(model, **fields) -> int:
        with session_scope() as session:
            conversation = _conversation(
                session, f"reuse-{model.__name__}-{fields.get('status', '')}{utcnow().timestamp()}"
            )
            row = model(conversation_id=conversation.id, **fields)
            session.add(row)
            session.flush()
            return row.id

    for model, fields in (
        (Message, {"direction": "out", "channel": "web", "author": "bot", "status": "sent"}),
        (Handoff, {"reason": "stuck", "channel": "web"}),
    ):
        deleted = newest(model, **fields)
        with session_scope() as session:
            session.execute(delete(model).where(model.id == deleted))
        assert newest(model, **fields) > deleted, model.__name__  # an old link never opens someone else's


def test_retention_removes_old_guide_events_conversations_and_citizens(loaded_db):
    now = utcnow()
    long_ago = now - dt.timedelta(days=loaded_db.retention_days + 1)
    with session_scope() as session:
        gone = _conversation(session, "expiry-gone", created_at=long_ago, last_inbound_at=long_ago)
        session.add(
            Message(
                conversation_id=gone.id,
                citizen_id=gone.citizen_id,
                direction="in",
                channel="web",
                author="citizen",
                text="cũ",
                status="processed",
                created_at=long_ago,
            )
        )
        helped = _conversation(session, "expiry-helped", created_at=long_ago, last_inbound_at=long_ago)
        session.add(
            Handoff(conversation_id=helped.id, reason="stuck", channel="web", status="closed", requested_at=long_ago)
        )
        active = _conversation(session, "expiry-active", created_at=long_ago, last_inbound_at=now)
        session.add(
            Message(
                conversation_id=active.id,
                citizen_id=active.citizen_id,
                direction="in",
                channel="web",
                author="citizen",
                text="mới",
                status="processed",
                created_at=now,
            )
        )
        session.add_all(
            [
                GuideEvent(
                    rasa_sender_id=gone.rasa_sender_id,
                    slug="dang-ky-khai-sinh",
                    step=1,
                    event="started",
                    created_at=long_ago,
                ),
                GuideEvent(
                    rasa_sender_id=active.rasa_sender_id, slug="dang-ky-khai-sinh", step=2, event="step", created_at=now
                ),
            ]
        )
    purge_expired(now)
    with session_scope() as session:
        users = set(session.scalars(select(Citizen.channel_user_id).where(Citizen.channel_user_id.like("expiry-%"))))
        steps = session.scalars(
            select(GuideEvent.step).where(GuideEvent.rasa_sender_id.in_([gone.rasa_sender_id, active.rasa_sender_id]))
        ).all()
        assert session.get(Conversation, gone.id) is None
    assert users == {"expiry-helped", "expiry-active"}  # the helped one stays with its handoff, for the report
    assert steps == [2]


def test_forgetting_a_citizen_removes_their_row_and_guide_events(loaded_db):
    with session_scope() as session:
        conversation = _conversation(session, "forget-me")
        session.add(
            GuideEvent(rasa_sender_id=conversation.rasa_sender_id, slug="dang-ky-khai-sinh", step=1, event="started")
        )
    assert forget_citizen("web", "forget-me") == 1
    with session_scope() as session:
        assert session.scalar(select(Citizen).where(Citizen.channel_user_id == "forget-me")) is None
        assert (
            session.scalar(select(GuideEvent).where(GuideEvent.rasa_sender_id == conversation.rasa_sender_id)) is None
        )


# -- finding 18: claims race for real, each claimer a process with its own engine ------------------------------------

CLAIMERS, ROUNDS = 4, 12


def _claim_every_round(env: dict, handoff_ids: list[int], volunteer_id: int, barrier, outcomes) -> None:
    """One volunteer's process (its own settings, engine and sessions) claiming each handoff with the others."""
    os.environ.update(env)
    from bot.events import EventBus
    from bot.handoff.service import Conflict, Handoffs
    from bot.settings import get_settings

    handoffs = Handoffs(EventBus(), get_settings())
    for handoff_id in handoff_ids:
        barrier.wait(timeout=120)
        try:
            asyncio.run(handoffs.claim(handoff_id, volunteer_id))
            outcome = "won"
        except Conflict:
            outcome = "taken"
        except Exception as error:  # noqa: BLE001 — a lost race must be a Conflict, anything else is a failure
            outcome = type(error).__name__
        outcomes.put((handoff_id, volunteer_id, outcome))


def check_concurrent_claims(database_url: str) -> None:
    with session_scope() as session:
        handoff_ids = []
        for round_ in range(ROUNDS):
            conversation = _conversation(session, f"race-{database_url[:8]}-{utcnow().timestamp()}-{round_}")
            conversation.owner = Owner.queued
            handoff = Handoff(conversation_id=conversation.id, reason="citizen_request", channel="web")
            session.add(handoff)
            session.flush()
            handoff_ids.append(handoff.id)
        stamp = int(utcnow().timestamp() * 1000)
        volunteers = [
            auth.create_account(session, f"race{stamp}{n}", f"Người {n}", "mật-khẩu-tranh-nhận").id
            for n in range(CLAIMERS)
        ]
    spawn = multiprocessing.get_context("spawn")
    barrier, outcomes = spawn.Barrier(CLAIMERS), spawn.Queue()
    env = {"DATABASE_URL": database_url, "VAR_DIR": os.environ["VAR_DIR"]}
    processes = [
        spawn.Process(target=_claim_every_round, args=(env, handoff_ids, v, barrier, outcomes)) for v in volunteers
    ]
    for process in processes:
        process.start()
    results: dict[int, dict[int, str]] = {h: {} for h in handoff_ids}
    try:
        for _ in range(CLAIMERS * ROUNDS):
            handoff_id, volunteer_id, outcome = outcomes.get(timeout=180)
            results[handoff_id][volunteer_id] = outcome
    except queue.Empty:
        pass
    for process in processes:
        process.join(60)
        if process.is_alive():
            process.kill()
    with session_scope() as session:
        for handoff_id, outcome_of in results.items():
            assert sorted(outcome_of.values()) == ["taken"] * (CLAIMERS - 1) + ["won"], (handoff_id, outcome_of)
            winner = next(v for v, outcome in outcome_of.items() if outcome == "won")
            handoff = session.get(Handoff, handoff_id)
            assert (
                handoff.volunteer_id == winner
                and session.get(Conversation, handoff.conversation_id).owner == Owner.human
            )
            assert session.scalars(
                select(HandoffAssignment.volunteer_id).where(HandoffAssignment.handoff_id == handoff_id)
            ).all() == [winner]


def test_of_claims_racing_from_processes_exactly_one_wins_on_sqlite(loaded_db):
    check_concurrent_claims(loaded_db.db_url)


def test_of_claims_racing_from_processes_exactly_one_wins_on_postgresql(on_postgres):  # noqa: F811
    check_concurrent_claims(on_postgres.db_url)
