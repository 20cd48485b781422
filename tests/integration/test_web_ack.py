"""A web message pushed later counts as delivered only when the page acknowledges it: a stream that
drops before the acknowledgement gets it again on the next connection (POST /api/chat/ack)."""

from __future__ import annotations

import json

import httpx
import pytest

from bot.messages import Outbound
from bot.storage.db import session_scope
from bot.storage.models import Message
from tests.integration.people import bearer, open_conversation
from tests.integration.replica import Replica


@pytest.fixture(scope="module")
def replica(stack):
    with Replica() as running:
        yield running


def push(replica: Replica, sender: str, text: str) -> int:
    return replica.run(replica.app.state.outbox.push("web", sender, Outbound(text, author="volunteer"))).message_id


def connect(replica: Replica, sender: str, count: int, on_connect=lambda: None) -> list[tuple[int, str]]:
    """One connection of the page's stream: (id, text) of the first `count` messages, then it drops."""
    events, event_id = [], None
    with (
        httpx.Client(timeout=20) as http,
        http.stream("GET", f"{replica.url}/api/chat/stream", headers=bearer(sender)) as response,
    ):
        for line in response.iter_lines():
            if line == ": connected":
                on_connect()
            elif line.startswith("id: "):
                event_id = int(line[4:])
            elif line.startswith("data: "):
                events.append((event_id, json.loads(line[6:])["text"]))
                if len(events) == count:
                    return events
    raise AssertionError(f"the stream ended after {events}")


def status(message_id: int) -> str:
    with session_scope() as session:
        return session.get(Message, message_id).status


def ack(replica: Replica, sender: str | None, body) -> httpx.Response:
    return httpx.post(
        f"{replica.url}/api/chat/ack",
        headers=bearer(sender) if sender else {},
        content=body if isinstance(body, bytes) else json.dumps(body),
    )


def citizen(replica: Replica) -> str:
    with httpx.Client(base_url=replica.url) as http:
        return open_conversation(http)


def test_a_message_lost_with_a_dropped_stream_comes_again_and_is_sent_only_once_acknowledged(replica):
    sender = citizen(replica)
    pushed = []
    shown = connect(replica, sender, 1, lambda: pushed.append(push(replica, sender, "tin thứ nhất")))
    assert shown == [(pushed[0], "tin thứ nhất")] and status(pushed[0]) == "pending"  # the page dropped: no ack

    second = push(replica, sender, "tin thứ hai")  # written while no page is connected
    assert connect(replica, sender, 2) == [(pushed[0], "tin thứ nhất"), (second, "tin thứ hai")]
    assert status(second) == "pending"
    response = ack(replica, sender, {"ids": [pushed[0], second]})
    assert response.status_code == 200 and response.json() == {"acknowledged": 2}
    assert status(pushed[0]) == status(second) == "sent"

    third = []
    assert connect(replica, sender, 1, lambda: third.append(push(replica, sender, "tin thứ ba"))) == [
        (third[0], "tin thứ ba")
    ]  # what was acknowledged is not sent again


def test_a_page_acknowledges_only_its_own_messages(replica):
    sender, other = citizen(replica), citizen(replica)
    theirs = push(replica, other, "cho người khác")
    assert ack(replica, sender, {"ids": [theirs]}).json() == {"acknowledged": 0}
    assert status(theirs) == "pending"


@pytest.mark.parametrize(
    "body, expected",
    [
        ({"ids": ["1"]}, 422),
        ({"ids": [0]}, 422),
        ({"ids": [2**31]}, 422),
        ({"ids": list(range(1, 102))}, 422),
        ({"ids": [1], "more": True}, 422),
        ({}, 422),
        ([1], 422),
        (b"{not json", 400),
    ],
)
def test_bad_acknowledgements_are_refused(replica, body, expected):
    assert ack(replica, citizen(replica), body).status_code == expected


def test_an_acknowledgement_needs_the_conversation_credential(replica):
    assert ack(replica, None, {"ids": [1]}).status_code == 401
    assert ack(replica, "not-issued", {"ids": [1]}).status_code == 401


def test_the_stream_is_plain_server_sent_events_with_the_gateway_headers(replica):
    sender = citizen(replica)
    text = "Dạ, hồ sơ của anh/chị đã đủ ạ."
    message_id = push(replica, sender, text)
    received = b""
    with (
        httpx.Client(timeout=20) as http,
        http.stream("GET", f"{replica.url}/api/chat/stream", headers=bearer(sender)) as response,
    ):
        for chunk in response.iter_raw():
            received += chunk
            if received.count(b"\n\n") == 2:  # the comment, then the message
                break
    data = json.dumps({"text": text, "buttons": [], "author": "volunteer"}, ensure_ascii=False)
    assert received == f": connected\n\nid: {message_id}\nevent: message\ndata: {data}\n\n".encode()
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-accel-buffering"] == "no"  # a proxy (nginx) passes each event on at once
