"""Messages that arrive later reach an open web chat through server-sent events."""

import httpx
import pytest

from bot.messages import Outbound
from tests.integration.people import bearer, open_conversation
from tests.integration.replica import EventStream, Replica


@pytest.fixture(scope="module")
def replica(stack):
    with Replica() as running:
        yield running


def push(replica: Replica, sender: str, outbound: Outbound):
    return replica.run(replica.app.state.outbox.push("web", sender, outbound))


def citizen(replica: Replica) -> str:
    with httpx.Client(base_url=replica.url) as http:
        return open_conversation(http)


def inbox_of(replica: Replica, sender: str) -> EventStream:
    return EventStream(f"{replica.url}/api/chat/stream", headers=bearer(sender)).start_and_wait()


def test_pushed_message_reaches_the_open_chat(replica):
    sender = citizen(replica)
    inbox = inbox_of(replica, sender)
    push(replica, sender, Outbound("Tình nguyện viên Lan đang hỗ trợ anh/chị.", author="volunteer"))
    assert inbox.wait_for(lambda m: True) == {
        "text": "Tình nguyện viên Lan đang hỗ trợ anh/chị.",
        "buttons": [],
        "author": "volunteer",
    }


def test_a_browser_only_receives_its_own_messages(replica):
    sender, other = citizen(replica), citizen(replica)
    inbox = inbox_of(replica, sender)
    push(replica, other, Outbound("cho người khác"))
    push(replica, sender, Outbound("cho anh/chị"))
    inbox.wait_for(lambda m: m["text"] == "cho anh/chị")
    assert inbox.texts() == ["cho anh/chị"]


def test_messages_written_while_the_page_was_closed_arrive_when_it_opens(replica):
    sender = citizen(replica)
    push(replica, sender, Outbound("Dạ, em đã trả lời câu hỏi anh/chị để lại.", author="volunteer"))
    first = inbox_of(replica, sender)
    backlog = first.arrival(lambda e: e.data["author"] == "volunteer")
    acknowledged = httpx.post(f"{replica.url}/api/chat/ack", json={"ids": [int(backlog.id)]}, headers=bearer(sender))
    assert acknowledged.json() == {"acknowledged": 1}
    second = inbox_of(replica, sender)
    push(replica, sender, Outbound("tin sau"))
    second.wait_for(lambda m: m["text"] == "tin sau")
    assert second.texts() == ["tin sau"]  # the acknowledged backlog was delivered once, not again
