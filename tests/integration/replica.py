"""A gateway replica served from the test process (Rasa and the action server are the real
ones of the session's stack), so tests can reach its router, handoffs and clock."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from typing import NamedTuple

import httpx
import uvicorn

from bot.app import create_app
from bot.settings import Settings
from tests.ports import free_port


class Replica:
    def __init__(self, settings: Settings | None = None):
        self.app = create_app(settings)
        self.server = uvicorn.Server(
            uvicorn.Config(self.app, host="127.0.0.1", port=free_port(), log_level="warning", proxy_headers=False)
        )  # the app resolves X-Forwarded-For itself
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


class Event(NamedTuple):
    name: str
    data: dict
    at: float  # time.perf_counter() when it arrived
    id: str | None = None  # the event's `id:` (a message's database id on the citizen's stream)


class EventStream(threading.Thread):
    """Reads a server-sent-events stream into a list of timed events; `wait_for` and `arrival`
    block until a matching one has come."""

    def __init__(self, url: str, client: httpx.Client | None = None, headers: dict[str, str] | None = None):
        super().__init__(daemon=True)
        self.url, self.client, self.headers = url, client, headers
        self.connected = threading.Event()
        self.events: list[Event] = []
        self._changed = threading.Condition()

    def run(self) -> None:
        try:
            self._read(self.client or httpx.Client(timeout=None))
        except httpx.HTTPError:  # the server went away at the end of a test or benchmark
            pass

    def _read(self, client: httpx.Client) -> None:
        name, event_id = "message", None
        with client.stream("GET", self.url, headers=self.headers, timeout=None) as response:
            for line in response.iter_lines():
                if line == ": connected":
                    self.connected.set()
                elif line.startswith("id: "):
                    event_id = line[4:]
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    with self._changed:
                        self.events.append(Event(name, json.loads(line[6:]), time.perf_counter(), event_id))
                        self._changed.notify_all()
                    name, event_id = "message", None

    def start_and_wait(self) -> "EventStream":
        self.start()
        assert self.connected.wait(10), f"no stream from {self.url}"
        return self

    def arrival(self, predicate, timeout: float = 20) -> Event | None:
        """The first event (seen or yet to come) for which `predicate(event)` holds."""
        with self._changed:
            return self._changed.wait_for(lambda: next((e for e in self.events if predicate(e)), None), timeout)

    def wait_for(self, predicate, timeout: float = 20, name: str = "message") -> dict:
        """The data of the first event of this name (seen or yet to come) that matches."""
        found = self.arrival(lambda e: e.name == name and predicate(e.data), timeout)
        assert found is not None, f"no matching {name} event in {self.events}"
        return found.data

    def texts(self, name: str = "message") -> list[str]:
        return [e.data.get("text") or e.data.get("message", {}).get("text") for e in self.events if e.name == name]
