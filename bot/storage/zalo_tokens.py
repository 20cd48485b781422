"""The Zalo OA's OAuth token pair: one row, read before every send, replaced by a refresh that holds
the row's lock (each refresh token works once, so two processes must never spend the same one)."""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple

from sqlalchemy import Connection, select, update

from bot.storage.db import engine, session_scope
from bot.storage.models import ZaloToken, utcnow


class ZaloTokens(NamedTuple):
    access_token: str
    refresh_token: str
    expires_at: dt.datetime


def read_tokens() -> ZaloTokens | None:
    with session_scope() as session:
        row = session.get(ZaloToken, 1)
        return None if row is None else ZaloTokens(row.access_token, row.refresh_token, row.expires_at)


def store_tokens(access_token: str, refresh_token: str, expires_in_s: float) -> None:
    """Stores a pair from an authorisation (admin command). Waits for a refresh in flight, then wins over it."""
    now = utcnow()
    with session_scope() as session:
        session.merge(
            ZaloToken(
                id=1,
                access_token=access_token,
                refresh_token=refresh_token,
                expires_at=now + dt.timedelta(seconds=expires_in_s),
                updated_at=now,
            )
        )


class TokenRowLock:
    """The token row, locked against every other refresh (any process) until `store` or `release`.

    Blocking calls on one connection: run them all on the same thread."""

    def __init__(self) -> None:
        self._conn: Connection | None = None
        self._open = False

    def acquire(self) -> ZaloTokens | None:
        """Takes the lock and reads the row as it is now (another process may just have refreshed it)."""
        self._conn = engine().connect()
        query = select(ZaloToken.access_token, ZaloToken.refresh_token, ZaloToken.expires_at).where(ZaloToken.id == 1)
        if self._conn.dialect.name == "sqlite":
            # pysqlite would begin a deferred transaction only at the UPDATE, after the read: take SQLite's write
            # lock first, with the driver's own transaction handling off for this connection.
            self._conn.execution_options(isolation_level="AUTOCOMMIT")
            self._conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            query = query.with_for_update()
        self._open = True
        row = self._conn.execute(query).one_or_none()
        return None if row is None else ZaloTokens(*row)

    def store(self, access_token: str, refresh_token: str, expires_in_s: float) -> None:
        now = utcnow()
        self._conn.execute(
            update(ZaloToken)
            .where(ZaloToken.id == 1)
            .values(
                access_token=access_token,
                refresh_token=refresh_token,
                expires_at=now + dt.timedelta(seconds=expires_in_s),
                updated_at=now,
            )
        )
        self._end("COMMIT")

    def release(self) -> None:
        if self._conn is None:
            return
        if self._open:
            self._end("ROLLBACK")
        self._conn.close()

    def _end(self, statement: str) -> None:
        if self._conn.dialect.name == "sqlite":
            self._conn.exec_driver_sql(statement)
        elif statement == "COMMIT":
            self._conn.commit()
        else:
            self._conn.rollback()
        self._open = False
