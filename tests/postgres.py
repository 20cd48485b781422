"""A throwaway PostgreSQL server for the tests: the city layout's own server (bot/city.py), from
Debian's binaries, in a fresh folder on a free loopback port, without fsync."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from bot.city import Postgres, binary
from tests.ports import free_port


def available() -> bool:
    try:
        return bool(binary("initdb") and binary("pg_ctl"))
    except RuntimeError:
        return False


@contextmanager
def postgres_server() -> Iterator[str]:
    """Yields an SQLAlchemy URL of an empty database on a fresh server."""
    folder = Path(tempfile.mkdtemp(prefix="pg-test-"))
    server = Postgres(folder / "db", free_port(), databases=(), durable=False)
    try:
        server.start()
        yield server.url("postgres", "psycopg")
    finally:
        server.stop()
        server.discard()
        shutil.rmtree(folder, ignore_errors=True)
