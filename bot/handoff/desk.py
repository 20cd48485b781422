"""Is anybody there? The volunteer desk's hours and who is online, for the citizen's honest answer."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.settings import Settings
from bot.storage.models import Handoff, Volunteer

# A volunteer whose console has not been seen for this long is not counted as online: phones sleep
# and browsers close without logging out.
SEEN_WITHIN = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Availability:
    online: int  # volunteers on duty now
    in_hours: bool
    hours: str  # "07:30-21:30", or "cả ngày"
    waiting_ahead: int  # handoffs queued before this one
    typical_wait_min: int | None  # median minutes to a claim, over recent claims

    @property
    def anybody(self) -> bool:
        return self.online > 0 and self.in_hours


def in_hours(settings: Settings, now: dt.datetime) -> bool:
    local = now.astimezone(ZoneInfo(settings.timezone))
    days = {int(day) for day in settings.volunteer_weekdays.split(",") if day.strip()}
    opens, closes = _hours(settings)
    if opens == closes:  # "00:00-00:00": around the clock
        return local.weekday() in days
    return local.weekday() in days and opens <= local.time() < closes


def volunteers_online(session: Session, now: dt.datetime) -> list[Volunteer]:
    return list(
        session.scalars(
            select(Volunteer)
            .where(Volunteer.online.is_(True), Volunteer.active.is_(True), Volunteer.last_seen_at >= now - SEEN_WITHIN)
            .order_by(Volunteer.display_name)
        )
    )


def availability(session: Session, settings: Settings, handoff: Handoff, now: dt.datetime) -> Availability:
    ahead = (
        session.scalar(
            select(func.count())
            .select_from(Handoff)
            .where(Handoff.status == "queued", Handoff.requested_at < handoff.requested_at)
        )
        or 0
    )
    return Availability(
        len(volunteers_online(session, now)),
        in_hours(settings, now),
        hours_label(settings),
        ahead,
        typical_wait_minutes(session),
    )


def _hours(settings: Settings) -> tuple[dt.time, dt.time]:
    opens, closes = (dt.time.fromisoformat(part.strip()) for part in settings.volunteer_hours.split("-"))
    return opens, closes


def hours_label(settings: Settings) -> str:
    opens, closes = _hours(settings)
    return "cả ngày" if opens == closes else f"{opens:%H:%M}-{closes:%H:%M}"


def typical_wait_minutes(session: Session, recent: int = 50) -> int | None:
    rows = session.execute(
        select(Handoff.requested_at, Handoff.claimed_at)
        .where(Handoff.claimed_at.is_not(None))
        .order_by(Handoff.id.desc())
        .limit(recent)
    ).all()
    if not rows:
        return None
    waits = sorted((claimed - requested).total_seconds() for requested, claimed in rows)
    return max(1, round(waits[len(waits) // 2] / 60))
