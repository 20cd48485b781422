"""The volunteers' monthly activity: conversations handled, time spent holding them, ratings.
The basis for the monthly allowance and recognition, so every figure comes from stored rows."""
from __future__ import annotations

import csv
import datetime as dt
import html as html_escape
import io
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.storage.models import Handoff, HandoffAssignment, Volunteer, as_utc, utcnow

COLUMNS = ("Tình nguyện viên", "Tài khoản", "Số cuộc hỗ trợ", "Số phút hỗ trợ", "Số lượt đánh giá", "Điểm trung bình")


@dataclass(frozen=True)
class Activity:
    name: str
    username: str
    conversations: int
    minutes: int
    ratings: int
    average_rating: float | None


def this_month() -> str:
    return utcnow().strftime("%Y-%m")


def _month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=dt.timezone.utc)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start, end


def activity(session: Session, month: str) -> list[Activity]:
    """Per volunteer: handoffs held during the month, minutes held (clipped to the month; an open
    hold counts until now), and the ratings of the handoffs they finished."""
    start, end = _month_bounds(month)
    now = utcnow()
    rows = []
    for volunteer in session.scalars(select(Volunteer).order_by(Volunteer.display_name)):
        holds = session.scalars(select(HandoffAssignment).where(
            HandoffAssignment.volunteer_id == volunteer.id, HandoffAssignment.started_at < end,
            (HandoffAssignment.ended_at.is_(None)) | (HandoffAssignment.ended_at >= start))).all()
        seconds = sum(
            max(0.0, (min(as_utc(h.ended_at) if h.ended_at else now, end) - max(as_utc(h.started_at), start)).total_seconds())
            for h in holds
        )
        ratings = session.scalars(select(Handoff.rating).where(
            Handoff.volunteer_id == volunteer.id, Handoff.rating.is_not(None),
            Handoff.ended_at >= start, Handoff.ended_at < end)).all()
        rows.append(Activity(volunteer.display_name, volunteer.username, len({h.handoff_id for h in holds}),
                             round(seconds / 60), len(ratings),
                             round(sum(ratings) / len(ratings), 2) if ratings else None))
    return rows


def csv_text(rows: list[Activity]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([row.name, row.username, row.conversations, row.minutes, row.ratings,
                         "" if row.average_rating is None else row.average_rating])
    return "\ufeff" + out.getvalue()  # the BOM lets spreadsheet programs read the Vietnamese text as UTF-8


def html(rows: list[Activity], month: str) -> str:
    cells = "".join(
        "<tr>" + "".join(f"<td>{html_escape.escape(str(v))}</td>" for v in (
            r.name, r.username, r.conversations, r.minutes, r.ratings, "—" if r.average_rating is None else r.average_rating
        )) + "</tr>" for r in rows
    )
    head = "".join(f"<th>{c}</th>" for c in COLUMNS)
    return f"""<!doctype html><html lang="vi"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>Báo cáo hoạt động {month}</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="/console/static/console.css"></head>
<body class="report"><h1>Báo cáo hoạt động tình nguyện viên — tháng {month}</h1>
<form method="get"><label>Tháng <input name="month" type="month" value="{month}"></label> <button>Xem</button>
<a href="/console/api/report.csv?month={month}">Tải CSV</a> · <a href="/console">Về bảng điều khiển</a></form>
<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table></body></html>"""
