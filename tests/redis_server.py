"""A throwaway Redis server for the tests: the city layout's own server (bot/city.py), Debian's
redis-server in a fresh folder on a free loopback port, its own process group, stopped by its PID."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.city import Redis, binary
from tests.ports import free_port


def available() -> bool:
    try:
        return bool(binary("redis-server"))
    except RuntimeError:
        return False


@contextmanager
def redis_server(port: int | None = None) -> Iterator[str]:
    """Yields the URL of a fresh, empty server (on `port`, to start one again where another was)."""
    folder = Path(tempfile.mkdtemp(prefix="redis-test-"))
    server = Redis(folder, port or free_port())
    try:
        server.start()
        yield server.url
    finally:
        server.stop()
        shutil.rmtree(folder, ignore_errors=True)
