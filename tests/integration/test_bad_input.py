"""Malformed /api/chat bodies get a clear 4xx and store nothing."""

import pytest
from sqlalchemy import func, select

from bot.storage.db import session_scope
from bot.storage.models import Message


def stored_messages() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Message))


@pytest.mark.parametrize(
    "body, status, says",
    [
        (b"{", 400, "not valid JSON"),
        (b'{"sender_id": "a", "text": "\xff\xfe"}', 400, "UTF-8"),
        (b'{"text": "xin chao"}', 422, "sender_id"),
        (b'{"sender_id": "a"}', 422, "text"),
        (b'{"sender_id": 5, "text": "x"}', 422, "sender_id"),
        (b'{"sender_id": "a", "text": ["x"]}', 422, "text"),
        (b"[1, 2]", 422, "body"),
        (b'{"sender_id": "", "text": "x"}', 422, "sender_id"),
        (b'{"sender_id": "a", "text": "x", "deep": ' + b"[" * 1000 + b"]" * 1000 + b"}", 422, "nests deeper"),
        (b'{"sender_id": "a", "text": "\\ud800"}', 422, "surrogate"),
    ],
)
def test_rejected_with_a_clear_message(gateway, body, status, says):
    before = stored_messages()
    response = gateway.post("/api/chat", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert says in response.json()["error"]
    assert stored_messages() == before


def test_100_kb_text_is_refused(gateway):
    before = stored_messages()
    response = gateway.post("/api/chat", json={"sender_id": "big", "text": "a" * 100_000})
    assert response.status_code == 413 and response.json()["error"]  # refused by size before anything reads it
    assert stored_messages() == before


@pytest.mark.parametrize("odd", ["???", "   ", "😀😀", "."])
def test_odd_messages_still_get_a_polite_answer(chat, odd):
    replies = chat(odd)
    assert replies and replies[0]["text"].startswith("Dạ")
