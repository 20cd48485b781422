"""The knowledge editor's API on the real stack: the contract's shapes and statuses, revisions
and restore, the audit line, the preview from a draft, and a publish answered in the web chat
within 5 seconds — on the same gateway and, through Redis, on another replica."""

from __future__ import annotations

import asyncio
import logging
import time

import httpx
import pytest
import redis
from sqlalchemy import select

from bot.admin import knowledge_service as service
from bot.knowledge import store
from bot.rasa_client import RasaClient
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, KnowledgeEntry
from tests import redis_server
from tests.integration.people import Console, open_conversation
from tests.integration.replica import Replica
from tests.ports import free_port
from tests.system import require

SLUG = "ket-hon"
FEE_QUESTION = "lệ phí đăng ký kết hôn bao nhiêu"
NEW_FEE = "Lệ phí thử nghiệm của ban biên tập là 12.345 đồng."
NEW_FIGURE = "12.345 đồng"  # the answer may start the fee's sentence in lower case
LIVE_WITHIN_S = 5.0


@pytest.fixture(scope="module")
def staff(stack) -> Console:
    return Console(stack.gateway_url, "Hoa", role="staff", online=False)


def put(person: Console, path: str, body: dict) -> httpx.Response:
    return person.http.put(path, json=body, headers={"X-CSRF-Token": person.csrf})


def current(person: Console, slug: str = SLUG) -> dict:
    response = person.http.get(f"/admin/api/entries/{slug}")
    assert response.status_code == 200, response.text
    return response.json()


def with_fee(entry: dict, text: str) -> dict:
    return {**entry, "fee": {**entry["fee"], "text": text}}


def answered_within(base: str, question: str, needle: str, seconds: float = LIVE_WITHIN_S) -> float:
    """Asks in a fresh web chat until an answer contains `needle`; how long that took."""
    with httpx.Client(base_url=base, timeout=30) as http:
        sender = open_conversation(http)
        start = time.monotonic()
        while True:
            replies = http.post("/api/chat", json={"sender_id": sender, "text": question}).json()["replies"]
            if any(needle in r["text"] for r in replies):
                return time.monotonic() - start
            assert time.monotonic() - start < seconds, f"no answer with {needle!r} within {seconds}s: {replies}"
            time.sleep(0.2)  # the next question, not a wait for the result: each turn is itself polled


def test_lists_and_entries_have_the_contracts_shape(staff):
    procedures = staff.http.get("/admin/api/procedures").json()["procedures"]
    assert procedures and all(set(p) == {"slug", "title", "revision", "reviewed_at"} for p in procedures)
    assert all(not p["slug"].startswith("_") for p in procedures)
    entries = {e["slug"]: e for e in staff.http.get("/admin/api/entries").json()["entries"]}
    assert {e["kind"] for e in entries.values()} == {"procedure", "offices", "canned"}
    assert entries[store.OFFICES_SLUG]["reviewed_at"] is None and entries[SLUG]["faq"][0]["questions"]
    assert set(entries[SLUG]) == {"slug", "kind", "title", "revision", "reviewed_at", "due_for_review", "faq"}
    got = staff.http.get(f"/admin/api/procedures/{SLUG}").json()
    assert got["entry"]["slug"] == SLUG and got["revision"] == entries[SLUG]["revision"]
    assert current(staff, store.CANNED_SLUG)["entry"]["replies"][0]["title"]
    schema = staff.http.get("/admin/api/schema/procedure").json()
    assert "$defs" in schema and "fee" in schema["properties"]


def test_who_may_call_and_unknown_entries(stack, staff):
    with httpx.Client(base_url=stack.gateway_url) as anonymous:
        assert anonymous.get("/admin/api/procedures").status_code == 401
    volunteer = Console(stack.gateway_url, "Minh", role="volunteer", online=False)
    assert volunteer.http.get("/admin/api/procedures").status_code == 403
    assert put(volunteer, f"/admin/api/procedures/{SLUG}", {"revision": 1, "entry": {}}).status_code == 403
    assert staff.http.get("/admin/api/procedures/khong-co").status_code == 404
    assert staff.http.get(f"/admin/api/procedures/{store.OFFICES_SLUG}").status_code == 404  # procedures only
    assert put(staff, "/admin/api/entries/khong-co", {"revision": 1, "entry": {}}).status_code == 404
    assert staff.http.get(f"/admin/api/entries/{SLUG}/revisions/999999").status_code == 404


def test_an_invalid_entry_is_refused_with_its_field_and_nothing_changes(staff):
    before = current(staff)
    entry = before["entry"]
    bad = {**entry, "documents": [entry["documents"][0], {"note": "thiếu tên"}]}
    response = put(staff, f"/admin/api/procedures/{SLUG}", {"revision": before["revision"], "entry": bad})
    assert response.status_code == 422 and response.json()["field"] == "documents.1.name" and response.json()["error"]
    assert current(staff)["revision"] == before["revision"]
    problems = staff.post(f"/admin/api/entries/{SLUG}/check", {"entry": with_fee(bad, 12)}).json()["problems"]
    assert {p["field"] for p in problems} == {"documents.1.name", "fee.text"}
    assert staff.post(f"/admin/api/entries/{SLUG}/check", {"entry": entry}).json() == {"problems": []}


def test_an_edit_from_an_old_revision_is_refused_with_the_latest(staff, restores):
    before = restores(SLUG)
    edit = {"revision": before["revision"], "entry": before["entry"]}
    assert put(staff, f"/admin/api/procedures/{SLUG}", edit).status_code == 200
    response = put(staff, f"/admin/api/procedures/{SLUG}", edit)
    assert response.status_code == 409 and response.json()["revision"] == before["revision"] + 1


def test_preview_answers_from_the_draft_and_the_assistant_does_not(staff, chat):
    draft = with_fee(current(staff)["entry"], NEW_FEE)
    shown = staff.post("/admin/api/preview", {"slug": SLUG, "entry": draft, "question": FEE_QUESTION})
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert body["about"] == {"procedure": SLUG, "aspect": "fee", "outcome": "answer"}
    assert NEW_FIGURE in body["replies"][0]["text"]
    assert all(set(b) == {"title", "payload"} for r in body["replies"] for b in r["buttons"])
    assert not any(NEW_FIGURE in r["text"] for r in chat(FEE_QUESTION))
    invalid = staff.post("/admin/api/preview", {"slug": SLUG, "entry": with_fee(draft, 12), "question": FEE_QUESTION})
    assert invalid.status_code == 422 and invalid.json()["field"] == "fee.text"


def test_a_published_fee_is_answered_within_5_seconds_and_restore_brings_the_old_one_back(stack, staff, restores):
    before = restores(SLUG)
    old_fee = before["entry"]["fee"]["text"]
    edit = {"revision": before["revision"], "entry": with_fee(before["entry"], NEW_FEE)}
    response = put(staff, f"/admin/api/procedures/{SLUG}", edit)
    assert response.status_code == 200 and response.json() == {"revision": before["revision"] + 1}
    answered_within(stack.gateway_url, FEE_QUESTION, NEW_FIGURE)

    with session_scope() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.target == SLUG, AuditEntry.actor_id == staff.id)
        ).all()
    assert [(a.action, a.detail["revision"]) for a in audit][-1] == ("knowledge.publish", before["revision"] + 1)
    revisions = staff.http.get(f"/admin/api/procedures/{SLUG}/revisions").json()["revisions"]
    assert revisions[0]["revision"] == before["revision"] + 1 and revisions[0]["author"] == "Hoa"
    numbers = [r["revision"] for r in revisions]
    assert revisions[0]["origin"] == "staff" and numbers == sorted(numbers, reverse=True)
    shown = staff.http.get(f"/admin/api/entries/{SLUG}/revisions/{before['revision'] + 1}").json()
    assert f"+  text: {NEW_FEE}" in shown["diff"] and shown["entry"]["fee"]["text"] == NEW_FEE
    assert staff.http.get(f"/admin/api/entries/{SLUG}/revisions/1").json()["diff"] == ""

    restored = staff.post(f"/admin/api/procedures/{SLUG}/revisions/{before['revision']}/restore")
    assert restored.status_code == 200 and restored.json() == {"revision": before["revision"] + 2}
    answered_within(stack.gateway_url, FEE_QUESTION, old_fee[1:40])


def test_review_list_and_marking_an_entry_reviewed(staff, restores):
    review = staff.http.get("/admin/api/review").json()
    assert review["review_after_days"] == get_settings().review_after_days
    for due in review["due"]:
        assert store.due_since(due["reviewed_at"]).isoformat() == due["due_since"]
    stale = review["due"][0]["slug"] if review["due"] else SLUG
    before = restores(stale)
    response = staff.post(f"/admin/api/entries/{stale}/reviewed", {"revision": before["revision"]})
    assert response.status_code == 200 and response.json() == {"revision": before["revision"] + 1}
    assert current(staff, stale)["entry"]["reviewed_at"] == store.today().isoformat()
    assert stale not in {d["slug"] for d in staff.http.get("/admin/api/review").json()["due"]}
    assert staff.post(f"/admin/api/entries/{store.OFFICES_SLUG}/reviewed", {"revision": 1}).status_code == 422


@pytest.fixture(scope="module")
def replicas(stack):
    require(redis_server.available(), "redis-server")
    with redis_server.redis_server() as url, pytest.MonkeyPatch.context() as patch:
        patch.setattr(get_settings(), "redis_url", url)  # the replicas run in this process
        settings = get_settings().model_copy(update={"redis_url": url})
        with Replica(settings) as first, Replica(settings) as second:
            yield url, first, second


def test_a_publish_on_one_replica_is_answered_on_the_other_within_5_seconds(replicas, restores):
    url, first, second = replicas
    editor = Console(first.url, "Hoa", role="staff", online=False)
    before = restores(SLUG)
    counter = int(redis.Redis.from_url(url).get(store.VERSION_KEY) or 0)
    edit = {"revision": before["revision"], "entry": with_fee(before["entry"], NEW_FEE)}
    response = put(editor, f"/admin/api/procedures/{SLUG}", edit)
    assert response.status_code == 200
    assert int(redis.Redis.from_url(url).get(store.VERSION_KEY)) == counter + 1
    answered_within(second.url, FEE_QUESTION, NEW_FIGURE)


def test_preview_without_rasa_still_answers_from_the_draft(loaded_db, caplog):
    entry = current_entry(SLUG)
    unreachable = RasaClient([f"http://127.0.0.1:{free_port()}"], "token", timeout_s=2)

    async def preview():
        try:
            return await service.preview(unreachable, SLUG, with_fee(entry, NEW_FEE), FEE_QUESTION)
        finally:
            await unreachable.close()

    with caplog.at_level(logging.WARNING, logger="bot.admin.knowledge_service"):
        decision = asyncio.run(preview())
    assert NEW_FIGURE in decision.replies[0].text
    assert any("Rasa unavailable" in r.message for r in caplog.records)


def current_entry(slug: str) -> dict:
    with session_scope() as session:
        return session.get(KnowledgeEntry, slug).data
