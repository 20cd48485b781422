"""A gateway replica served from the test process (Rasa and the action server are the real
ones of the session's stack), so tests can reach its router, handoffs and clock."""
from __future__ import annotations

import asyncio
import json
import threading

import httpx
import uvicorn

from bot.app import create_app
from bot.settings import Settings
from tests.ports import free_port


class Replica:
    def __init__(self, settings: Settings | None = None):
        self.app = create_app(settings)
        self.server = uvicorn.Server(uvicorn.Config(self.app, host="127.0.0.1", port=free_port(), log_level="warning"))
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=lambda: self.loop.run_until_complete(self.server.serve()), daemon=True)
        self.url = f"http://127.0.0.1:{self.server.config.port}"

    def __enter__(self) -> "Replica":
        self.thread.start()
        while not self.server.started:
            assert self.thread.is_alive(), "the replica did not start"
            threading.Event().wait(0.05)
        return self

    def __exit__(self, *_) -> None:
        self.server.should_exit = True
        self.thread.join(15)

    def run(self, coroutine, timeout: float = 30):
        """Run a coroutine on the replica's event loop (where its listeners live)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)


class EventStream(threading.Thread):
    """Reads a server-sent-events stream into a list; `wait_for` blocks until a matching event."""

    def __init__(self, url: str, client: httpx.Client | None = None):
        super().__init__(daemon=True)
        self.url, self.client = url, client
        self.connected = threading.Event()
        self.events: list[tuple[str, dict]] = []
        self._changed = threading.Condition()
        self._stop = False

    def run(self) -> None:
        client = self.client or httpx.Client(timeout=None)
        name = "message"
        with client.stream("GET", self.url, timeout=None) as response:
            for line in response.iter_lines():
                if self._stop:
                    return
                if line == ": connected":
                    self.connected.set()
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    with self._changed:
                        self.events.append((name, json.loads(line[6:])))
                        self._changed.notify_all()
                    name = "message"

    def start_and_wait(self) -> "EventStream":
        self.start()
        assert self.connected.wait(10), f"no stream from {self.url}"
        return self

    def wait_for(self, predicate, timeout: float = 20, name: str = "message") -> dict:
        """The first event of this name (seen or yet to come) whose data matches."""
        with self._changed:
            found = self._changed.wait_for(
                lambda: next((d for n, d in self.events if n == name and predicate(d)), None), timeout)
        assert found is not None, f"no matching {name} event in {self.events}"
        return found

    def texts(self, name: str = "message") -> list[str]:
        return [d.get("text") or d.get("message", {}).get("text") for n, d in self.events if n == name]

    def stop(self) -> None:
        self._stop = True
