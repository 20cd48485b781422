"""Messages that arrive later reach an open web chat through server-sent events."""
import pytest

from bot.messages import Outbound
from tests.integration.replica import EventStream, Replica


@pytest.fixture(scope="module")
def replica(stack):
    with Replica() as running:
        yield running


def push(replica: Replica, sender: str, outbound: Outbound):
    return replica.run(replica.app.state.router.push("web", sender, outbound))


def test_pushed_message_reaches_the_open_chat(replica):
    inbox = EventStream(f"{replica.url}/api/chat/stream?sender_id=web-push-a").start_and_wait()
    push(replica, "web-push-a", Outbound("Tình nguyện viên Lan đang hỗ trợ anh/chị.", author="volunteer"))
    assert inbox.wait_for(lambda m: True) == {
        "text": "Tình nguyện viên Lan đang hỗ trợ anh/chị.", "buttons": [], "author": "volunteer"}


def test_a_browser_only_receives_its_own_messages(replica):
    inbox = EventStream(f"{replica.url}/api/chat/stream?sender_id=web-push-b").start_and_wait()
    push(replica, "web-push-c", Outbound("cho người khác"))
    push(replica, "web-push-b", Outbound("cho anh/chị"))
    inbox.wait_for(lambda m: m["text"] == "cho anh/chị")
    assert inbox.texts() == ["cho anh/chị"]


def test_messages_written_while_the_page_was_closed_arrive_when_it_opens(replica):
    push(replica, "web-push-d", Outbound("Dạ, em đã trả lời câu hỏi anh/chị để lại.", author="volunteer"))
    first = EventStream(f"{replica.url}/api/chat/stream?sender_id=web-push-d").start_and_wait()
    first.wait_for(lambda m: m["author"] == "volunteer")
    second = EventStream(f"{replica.url}/api/chat/stream?sender_id=web-push-d").start_and_wait()
    push(replica, "web-push-d", Outbound("tin sau"))
    second.wait_for(lambda m: m["text"] == "tin sau")
    assert second.texts() == ["tin sau"]  # the backlog was delivered once, not again
