"""Server-issued web conversations (issue 12, finding 3): only ids the server signed are accepted,
the stream authenticates with the cookie or a Bearer token (never an id in the URL), and
"Kết thúc trò chuyện" closes the conversation and cancels a wait for a volunteer."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, update

from bot.channels.web_session import COOKIE, WebSessions
from bot.messages import Outbound
from bot.settings import get_settings
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, Message, Owner, Volunteer
from tests.integration.conftest import texts
from tests.integration.people import Console, WebCitizen, bearer, open_conversation
from tests.integration.replica import EventStream, Replica


@pytest.fixture(scope="module")
def replica(stack):
    with Replica() as running:
        yield running


@pytest.fixture
def http(replica):
    with httpx.Client(base_url=replica.url, timeout=60) as client:
        yield client


@pytest.fixture(autouse=True)
def nobody_on_duty(loaded_db):
    with session_scope() as session:
        session.execute(update(Volunteer).values(online=False))


def stored_messages() -> int:
    with session_scope() as session:
        return session.scalar(select(func.count()).select_from(Message))


def say(http: httpx.Client, sender_id: str, text: str = "làm căn cước ở đâu") -> httpx.Response:
    return http.post("/api/chat", json={"sender_id": sender_id, "text": text})


def tampered(sender_id: str) -> str:
    random_part, mac = sender_id.split(".")
    return f"{random_part}.{('A' if mac[0] != 'A' else 'B') + mac[1:]}"


def test_an_issued_id_alone_is_enough_to_chat(http):
    sender = open_conversation(http)
    http.cookies.clear()  # tools keep no cookies
    response = say(http, sender)
    assert response.status_code == 200 and response.json()["replies"]


def test_issued_ids_are_unguessable_and_distinct(http):
    ids = {open_conversation(http) for _ in range(5)}
    assert len(ids) == 5
    assert all(len(i.split(".")[0]) == 22 and len(i) <= 128 for i in ids)  # 128 random bits, fits the field


def test_an_empty_body_also_opens_a_conversation(http):
    response = http.post("/api/chat/session")
    assert response.status_code == 200 and WebSessions(get_settings()).is_issued(response.json()["sender_id"])


@pytest.mark.parametrize(
    "forge",
    [
        lambda issued: "t1",  # the README's old example
        lambda issued: "web-" + "0" * 32,  # what the old page made up
        tampered,
        lambda issued: WebSessions(get_settings().model_copy(update={"session_secret": "another-key"})).issue(),
        lambda issued: issued.split(".")[0],  # the random part without its signature
    ],
)
def test_ids_the_server_did_not_issue_are_refused_and_store_nothing(http, forge):
    before = stored_messages()
    response = say(http, forge(open_conversation(http)))
    assert response.status_code == 401
    assert "POST /api/chat/session" in response.json()["error"]
    assert stored_messages() == before


def test_the_cookie_is_http_only_same_site_and_scoped_to_the_chat(http):
    response = http.post("/api/chat/session", json={})
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}={response.json()['sender_id']};")
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/api/chat" in cookie
    assert "Secure" not in cookie  # SECURE_COOKIES is off in tests


def test_the_page_finds_its_conversation_again_by_the_cookie(http, replica):
    sender = open_conversation(http)
    assert http.get("/api/chat/session").json() == {"sender_id": sender}
    with httpx.Client(base_url=replica.url) as stranger:
        assert stranger.get("/api/chat/session").status_code == 401


def test_the_stream_refuses_a_request_without_credentials(replica):
    with httpx.Client(base_url=replica.url) as anonymous:
        response = anonymous.get("/api/chat/stream")
    assert response.status_code == 401 and "Bearer" in response.json()["error"]


def test_the_stream_refuses_an_id_in_the_url(http, replica):
    sender = open_conversation(http)
    with httpx.Client(base_url=replica.url) as no_cookie:
        assert no_cookie.get("/api/chat/stream", params={"sender_id": sender}).status_code == 401
        assert no_cookie.get("/api/chat/stream", headers=bearer(tampered(sender))).status_code == 401


def test_the_stream_authenticates_with_the_cookie(http, replica):
    sender = open_conversation(http)  # the client now holds the cookie, as the page's browser does
    inbox = EventStream(f"{replica.url}/api/chat/stream", client=http).start_and_wait()
    push(replica, sender, "Dạ, em nghe ạ.")
    assert inbox.wait_for(lambda m: True)["text"] == "Dạ, em nghe ạ."


def push(replica: Replica, sender: str, text: str) -> None:
    replica.run(replica.app.state.outbox.push("web", sender, Outbound(text)))


def test_a_volunteer_reply_reaches_the_citizens_bearer_stream_and_no_stranger(replica):
    citizen, stranger = WebCitizen(replica.url), WebCitizen(replica.url)
    handoff = citizen.ask_for_a_person()
    lan = Console(replica.url, "Lan")
    assert lan.post(f"/console/api/handoffs/{handoff}/claim").status_code == 200
    assert lan.send(handoff, "Dạ, chị Lan đây, anh/chị cần giúp gì ạ?").status_code == 200
    assert (
        citizen.inbox.wait_for(lambda m: m["author"] == "volunteer")["text"]
        == "Dạ, chị Lan đây, anh/chị cần giúp gì ạ?"
    )
    push(replica, stranger.sender, "cho người lạ")  # published after the reply, so the reply had its chance
    stranger.inbox.wait_for(lambda m: m["text"] == "cho người lạ")
    assert stranger.inbox.texts() == ["cho người lạ"]


def test_ending_cancels_the_wait_closes_the_conversation_and_clears_the_cookie(replica):
    citizen = WebCitizen(replica.url)
    citizen.ask_for_a_person()
    assert citizen.owner() == Owner.queued
    ended = citizen.http.post("/api/chat/end", json={}, headers=bearer(citizen.sender))
    assert ended.status_code == 200
    assert citizen.handoff().status == "cancelled" and citizen.owner() == Owner.closed
    assert f'{COOKIE}=""' in ended.headers["set-cookie"] and "Max-Age=0" in ended.headers["set-cookie"]
    closed = _conversations(citizen.sender)
    assert "căn cước" in texts(citizen.say("làm căn cước ở đâu")).lower()  # the next message starts afresh
    assert len(_conversations(citizen.sender)) == len(closed) + 1 and citizen.owner() == Owner.bot


def test_ending_while_a_volunteer_holds_it_closes_the_handoff(replica):
    citizen = WebCitizen(replica.url)
    handoff = citizen.ask_for_a_person()
    lan = Console(replica.url, "Lan")
    assert lan.post(f"/console/api/handoffs/{handoff}/claim").status_code == 200
    ended = citizen.http.post("/api/chat/end")  # the page's way: the cookie, no body
    assert ended.status_code == 200
    assert citizen.handoff().status == "closed" and citizen.owner() == Owner.closed


def test_ending_needs_an_issued_id(http, replica):
    with httpx.Client(base_url=replica.url) as anonymous:
        assert anonymous.post("/api/chat/end", json={}).status_code == 401
        assert anonymous.post("/api/chat/end", json={"sender_id": "t1"}).status_code == 401


def _conversations(sender: str) -> list[int]:
    with session_scope() as session:
        return list(session.scalars(select(Conversation.id).join(Citizen).where(Citizen.channel_user_id == sender)))


def test_a_conversation_over_its_rate_limit_gets_429_with_a_polite_reply(stack):
    with (
        Replica(get_settings().model_copy(update={"rate_limit_conversation": 2})) as limited,
        httpx.Client(base_url=limited.url, timeout=60) as http,
    ):
        sender = open_conversation(http)
        assert [say(http, sender, "xin chào").status_code for _ in range(2)] == [200, 200]
        refused = say(http, sender, "xin chào")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert refused.json() == {
        "replies": [{"text": "Dạ, anh/chị nhắn nhanh quá, vui lòng đợi một chút rồi nhắn tiếp ạ.", "buttons": []}],
        "error": "rate limited",
    }
