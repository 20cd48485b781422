"""A channel's message id is the citizen's own (issue 12, finding 5): another citizen reusing it
learns nothing, and a retry after the conversation closed is still a no-op; a retry of a message
whose gateway died before answering it gets the answer."""

from __future__ import annotations

import httpx
from sqlalchemy import func, select, update

from bot.messages import Inbound
from bot.storage import repo
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, Message, Owner, Turn
from tests.integration.people import open_conversation


def test_two_web_citizens_reusing_a_message_id_each_get_their_own_answer_and_a_late_retry_is_a_no_op(stack):
    class WebCitizen:
        """One browser: its own cookies and a sender id the server issued."""

        def __init__(self):
            self.http = httpx.Client(base_url=stack.gateway_url, timeout=60)
            self.sender = open_conversation(self.http)

        def say(self, text: str) -> list[dict]:
            response = self.http.post(
                "/api/chat", json={"sender_id": self.sender, "text": text, "message_id": "shared-1"}
            )
            assert response.status_code == 200, response.text
            return response.json()["replies"]

    first, second = WebCitizen(), WebCitizen()
    fee = first.say("đăng ký khai sinh lệ phí bao nhiêu")
    place = second.say("làm căn cước ở đâu")
    assert place != fee and "căn cước" in "\n".join(r["text"] for r in place).lower()
    with session_scope() as session:  # a volunteer closed the first citizen's conversation meanwhile
        session.execute(
            update(Conversation)
            .where(
                Conversation.citizen_id
                == select(Citizen.id)
                .where(Citizen.channel == "web", Citizen.channel_user_id == first.sender)
                .scalar_subquery()
            )
            .values(owner=Owner.closed)
        )
    assert first.say("đăng ký khai sinh lệ phí bao nhiêu") == fee  # the channel's late retry changes nothing
    with session_scope() as session:
        stored = session.scalar(
            select(func.count()).select_from(Message).where(Message.channel_message_id == "shared-1")
        )
    assert stored == 2


def test_a_message_whose_gateway_died_while_handling_it_is_answered_when_the_client_retries(stack):
    """Stored, then the gateway was killed before it answered (status still `received`): the
    client's retry with the same message_id gets the answer, once."""
    http = httpx.Client(base_url=stack.gateway_url, timeout=60)
    sender = open_conversation(http)
    question = Inbound("web", sender, "làm căn cước ở đâu", "died-1")
    with session_scope() as session:  # what the killed gateway had done
        repo.record_inbound(session, repo.conversation_for(session, "web", sender), question, question.text, [])

    response = http.post("/api/chat", json={"sender_id": sender, "text": question.text, "message_id": "died-1"})
    assert response.status_code == 200 and "căn cước" in response.json()["replies"][0]["text"].lower()
    with session_scope() as session:
        [stored] = session.scalars(select(Message).where(Message.channel_message_id == "died-1")).all()
        turns = session.scalar(select(func.count()).select_from(Turn).where(Turn.message_id == stored.id))
    assert (stored.status, turns) == ("processed", 1)
