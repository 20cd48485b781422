"""Engine and sessions. SQLite (embedded default) gets WAL and a busy timeout so the gateway and
the action server can share the file; its files are readable by their owner only."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import get_settings

MIGRATIONS = Path(__file__).with_name("migrations")
# The database did not answer (a PostgreSQL restart, a locked SQLite file): worth trying again.
DATABASE_DOWN = (OperationalError, InterfaceError)


def private_sqlite_file(url: str) -> Path | None:
    """Create a SQLite URL's file (and its folder) for its owner only: 0600 in a 0700 folder.
    SQLite gives the -wal and -shm files the database file's mode. None for an in-memory URL."""
    name = url.split(":///", 1)[1] if ":///" in url else ""
    if not name or name == ":memory:" or name.startswith("file:"):
        return None
    path = Path(name)
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_uid == os.getuid():  # an older installation's file, made world-readable
        path.chmod(0o600)
    return path


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        private_sqlite_file(url)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


@lru_cache
def engine() -> Engine:
    return make_engine(get_settings().db_url)


@lru_cache
def _factory() -> sessionmaker[Session]:
    return sessionmaker(engine(), expire_on_commit=False)


@contextmanager
def session_scope() -> Iterator[Session]:
    """One transaction: committed when the block ends, rolled back on any error."""
    session = _factory()()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ensure_reachable(url: str) -> None:
    """Raises one of DATABASE_DOWN when the database does not answer."""
    checked = make_engine(url)
    try:
        with checked.connect():
            pass
    finally:
        checked.dispose()


def shown_url(url: str) -> str:
    """A database URL fit to print: its password masked."""
    return make_url(url).render_as_string(hide_password=True)


def revision(engine: Engine) -> str | None:
    """The migration the database is at; None before the first."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade(url: str | None = None) -> str:
    """Apply Alembic migrations up to head; says what it did."""
    from alembic import command
    from alembic.config import Config

    url = url or get_settings().db_url
    checked = make_engine(url)  # a SQLite file's folder is created here
    try:
        before = revision(checked)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        config.set_main_option("sqlalchemy.url", url)
        command.upgrade(config, "head")
        after = revision(checked)
    finally:
        checked.dispose()
    done = f"already at {after}" if before == after else f"upgraded from {before or 'an empty database'} to {after}"
    return f"database at {shown_url(url)}: {done}"
