"""Publishing from the editor: review dates decide the request to confirm with the office; the
YAML diff between revisions; the Redis counter every process checks after a publish."""

import datetime as dt
import logging

import pytest
from sqlalchemy import select

from bot.knowledge import answers, publish, store
from bot.knowledge.files import read_procedure
from bot.knowledge.search import LiveIndex
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, KnowledgeEntry
from tests import redis_server
from tests.conftest import ROOT
from tests.ports import free_port
from tests.system import require


@pytest.fixture
def fresh_and_stale():
    entry = read_procedure(ROOT / "knowledge" / "procedures" / "ket-hon.yaml")
    assert entry.confidence != "low" and not entry.fee.confirm and not entry.agency.confirm and entry.fee.text
    days = get_settings().review_after_days
    fresh = entry.model_copy(update={"reviewed_at": store.today() - dt.timedelta(days=days)})
    stale = entry.model_copy(update={"reviewed_at": store.today() - dt.timedelta(days=days + 1)})
    return fresh, stale


def test_an_entry_past_its_review_date_asks_to_confirm_with_the_office(fresh_and_stale):
    fresh, stale = fresh_and_stale
    assert answers.CONFIRM not in answers.fee(fresh).text
    assert answers.CONFIRM in answers.fee(stale).text
    assert answers.CONFIRM in answers.where(stale).text and answers.CONFIRM not in answers.where(fresh).text


def test_documents_of_a_stale_entry_ask_to_confirm_once(fresh_and_stale):
    _, stale = fresh_and_stale
    documents = [d.model_copy(update={"confirm": True}) for d in stale.documents]
    text = answers.documents(stale.model_copy(update={"documents": documents})).text
    assert text.count("xác nhận lại") == 1


def test_due_since_counts_review_after_days_in_the_offices_date():
    days = get_settings().review_after_days
    on = dt.date(2026, 12, 4)
    assert store.due_since(on - dt.timedelta(days=days + 1), on) == on - dt.timedelta(days=1)
    assert store.due_since(on - dt.timedelta(days=days), on) is None
    assert store.due_since("2020-01-01", on) == dt.date(2020, 1, 1) + dt.timedelta(days=days)


def original(slug: str) -> dict:
    with session_scope() as session:
        row = session.get(KnowledgeEntry, slug)
        return {"revision": row.revision, "data": row.data}


@pytest.fixture
def khai_tu(loaded_db):
    before = original("khai-tu")
    yield before
    with session_scope() as session:
        publish.publish(session, "khai-tu", before["data"], actor_id=None, author="test", expected_revision=None)


def test_revision_diff_shows_the_changed_line_and_the_audit_names_the_action(khai_tu):
    changed = {**khai_tu["data"], "summary": "Tóm tắt mới của cán bộ."}
    with session_scope() as session:
        number = publish.publish(
            session, "khai-tu", changed, actor_id=None, author="Hoa", expected_revision=khai_tu["revision"]
        )
    with session_scope() as session:
        shown = publish.revision(session, "khai-tu", number)
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.target == "khai-tu")).all()
    assert shown["author"] == "Hoa" and shown["origin"] == "staff" and shown["entry"] == changed
    assert "+summary: Tóm tắt mới của cán bộ.\n" in shown["diff"]
    assert f"-summary: {khai_tu['data']['summary']}\n" in shown["diff"]
    assert "knowledge.publish" in actions


def test_a_stale_revision_is_refused_with_the_latest(khai_tu):
    with session_scope() as session, pytest.raises(publish.PublishError) as refused:
        publish.publish(
            session, "khai-tu", khai_tu["data"], actor_id=None, author="Hoa", expected_revision=khai_tu["revision"] - 1
        )
    assert refused.value.status == 409 and refused.value.revision == khai_tu["revision"]


@pytest.fixture
def with_redis(monkeypatch):
    require(redis_server.available(), "redis-server")
    with redis_server.redis_server() as url:
        monkeypatch.setattr(get_settings(), "redis_url", url)
        yield url


def test_a_publish_counts_in_redis_only_once_committed(khai_tu, with_redis):
    before = store.shared_version()
    with pytest.raises(RuntimeError), session_scope() as session:
        publish.publish(session, "khai-tu", khai_tu["data"], actor_id=None, author="Hoa", expected_revision=None)
        raise RuntimeError("the caller's transaction fails after the publish")
    assert store.shared_version() == before
    with session_scope() as session:
        publish.publish(session, "khai-tu", khai_tu["data"], actor_id=None, author="Hoa", expected_revision=None)
    assert store.shared_version() == before + 1


def test_with_redis_the_live_index_follows_the_counter_not_the_database(loaded_db, with_redis):
    index = LiveIndex(check_every_s=0)
    first = index.get()
    with session_scope() as session:  # a change nobody announced: the counter is what says "rebuild"
        session.get(KnowledgeEntry, "ket-hon").updated_at = dt.datetime.now(dt.timezone.utc)
    assert index.get() is first
    store.announce_change()
    assert index.get() is not first


def test_without_a_reachable_redis_the_live_index_checks_the_database(loaded_db, monkeypatch, caplog):
    monkeypatch.setattr(get_settings(), "redis_url", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(store, "_warned", False)
    index = LiveIndex(check_every_s=0)
    with caplog.at_level(logging.WARNING, logger="bot.knowledge.store"):
        first = index.get()
        assert index.get() is first
        with session_scope() as session:
            session.get(KnowledgeEntry, "ket-hon").updated_at = dt.datetime.now(dt.timezone.utc)
        assert index.get() is not first
    assert sum("Redis unreachable" in r.message for r in caplog.records) == 1
