"""Reading the live knowledge from the database, when an entry is due for review, and the
knowledge's version counter in Redis that tells every process a publish happened."""

from __future__ import annotations

import datetime as dt
import logging
from functools import lru_cache
from zoneinfo import ZoneInfo

import redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.knowledge.schema import CannedReplies, OfficeBook, Procedure
from bot.settings import get_settings
from bot.storage.models import KnowledgeEntry

log = logging.getLogger(__name__)
OFFICES_SLUG = "_offices"
CANNED_SLUG = "_canned"
VERSION_KEY = "bot:knowledge-version"


def procedures(session: Session) -> list[Procedure]:
    rows = session.scalars(select(KnowledgeEntry).where(KnowledgeEntry.kind == "procedure")).all()
    return [Procedure.model_validate(row.data) for row in rows]


def offices(session: Session) -> OfficeBook:
    row = session.get(KnowledgeEntry, OFFICES_SLUG)
    return OfficeBook.model_validate(row.data)


def canned_replies(session: Session) -> CannedReplies:
    row = session.get(KnowledgeEntry, CANNED_SLUG)
    return CannedReplies.model_validate(row.data) if row else CannedReplies()


def today() -> dt.date:
    """Today in the offices' time zone (TIMEZONE), the date staff read on review dates."""
    return dt.datetime.now(ZoneInfo(get_settings().timezone)).date()


def due_since(reviewed_at: dt.date | str | None, on: dt.date | None = None) -> dt.date | None:
    """The last day an entry reviewed on `reviewed_at` counted as reviewed, if that day is past `on`
    (reviewed_at + REVIEW_AFTER_DAYS); None while the review is recent."""
    if reviewed_at is None:
        return None
    reviewed = dt.date.fromisoformat(reviewed_at) if isinstance(reviewed_at, str) else reviewed_at
    due = reviewed + dt.timedelta(days=get_settings().review_after_days)
    return due if due < (on or today()) else None


def needs_review(entry: Procedure) -> bool:
    return due_since(entry.reviewed_at) is not None


@lru_cache
def _redis(url: str) -> redis.Redis:
    # short timeouts: the counter is checked while a citizen waits for an answer
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)


def shared_version() -> int | None:
    """The knowledge version every process shares through Redis (REDIS_URL); None without Redis
    or when it does not answer (the caller then asks the database)."""
    url = get_settings().redis_url
    if not url:
        return None
    try:
        return int(_redis(url).get(VERSION_KEY) or 0)
    except (redis.RedisError, OSError, ValueError) as exc:
        _unreachable(exc)
        return None


def announce_change() -> None:
    """Tell every process that the knowledge changed (after the change is committed)."""
    url = get_settings().redis_url
    if url:
        try:
            _redis(url).incr(VERSION_KEY)
        except (redis.RedisError, OSError) as exc:
            _unreachable(exc)


_warned = False


def _unreachable(exc: Exception) -> None:
    global _warned
    if not _warned:  # once: the database check takes over and a citizen's answer is still right
        log.warning("knowledge: Redis unreachable (%s); checking the database for changes instead", exc)
        _warned = True
