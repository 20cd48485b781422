"""The index lives in the database: an edit is searchable without a restart and re-embeds only
the edited entry."""

from sqlalchemy import select

from bot.knowledge.search import LiveIndex
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry, SearchVector


def vector_ids(slug: str) -> list[int]:
    with session_scope() as session:
        return sorted(session.scalars(select(SearchVector.id).where(SearchVector.slug == slug)))


def test_staff_edit_is_live_and_reindexes_one_entry(loaded_db):
    index = LiveIndex(check_every_s=0)
    assert index.get().search("giấy báo hỉ cho bà con").abstain
    other_before, edited_before = vector_ids("khai-sinh"), vector_ids("ket-hon")
    with session_scope() as session:
        row = session.get(KnowledgeEntry, "ket-hon")
        row.data = {**row.data, "aliases": [*row.data["aliases"], "giấy báo hỉ cho bà con"]}
        row.revision += 1
    try:
        result = index.get().search("giấy báo hỉ cho bà con")
        assert result.best is not None and result.best.slug == "ket-hon"
        assert vector_ids("khai-sinh") == other_before
        assert vector_ids("ket-hon") != edited_before
    finally:
        with session_scope() as session:
            row = session.get(KnowledgeEntry, "ket-hon")
            row.data = {**row.data, "aliases": row.data["aliases"][:-1]}
            row.revision += 1
