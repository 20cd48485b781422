"""Messages that arrive later reach an open web chat through server-sent events."""
import asyncio
import json
import threading

import httpx
import pytest
import uvicorn

from bot.app import create_app
from bot.messages import Outbound
from tests.ports import free_port


@pytest.fixture(scope="module")
def replica(stack):
    """A gateway replica served from this process, so the test can push through its router."""
    app = create_app()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=lambda: loop.run_until_complete(server.serve()), daemon=True)
    thread.start()
    while not server.started:
        assert thread.is_alive(), "the replica did not start"
        threading.Event().wait(0.05)

    def push(sender: str, outbound: Outbound):
        return asyncio.run_coroutine_threadsafe(app.state.router.push("web", sender, outbound), loop).result(10)

    yield f"http://127.0.0.1:{server.config.port}", push
    server.should_exit = True
    thread.join(10)


class Listener(threading.Thread):
    """Reads one browser's event stream until it has `wanted` messages."""

    def __init__(self, base: str, sender: str, wanted: int):
        super().__init__(daemon=True)
        self.url, self.wanted = f"{base}/api/chat/stream?sender_id={sender}", wanted
        self.connected, self.messages = threading.Event(), []

    def run(self):
        with httpx.Client(timeout=30) as client, client.stream("GET", self.url) as response:
            for line in response.iter_lines():
                if line == ": connected":
                    self.connected.set()
                elif line.startswith("data: "):
                    self.messages.append(json.loads(line[6:]))
                    if len(self.messages) == self.wanted:
                        return


def test_pushed_message_reaches_the_open_chat(replica):
    base, push = replica
    listener = Listener(base, "web-push-a", 1)
    listener.start()
    assert listener.connected.wait(10)
    push("web-push-a", Outbound("Tình nguyện viên Lan đang hỗ trợ anh/chị.", author="volunteer"))
    listener.join(10)
    assert listener.messages == [{"text": "Tình nguyện viên Lan đang hỗ trợ anh/chị.", "buttons": [], "author": "volunteer"}]


def test_a_browser_only_receives_its_own_messages(replica):
    base, push = replica
    listener = Listener(base, "web-push-b", 1)
    listener.start()
    assert listener.connected.wait(10)
    push("web-push-c", Outbound("cho người khác"))
    push("web-push-b", Outbound("cho anh/chị"))
    listener.join(10)
    assert [m["text"] for m in listener.messages] == ["cho anh/chị"]
