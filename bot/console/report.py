"""The volunteers' monthly activity: conversations handled, time spent holding them, ratings.
The basis for the monthly allowance and recognition, so every figure comes from stored rows.
Months are local calendar months (the TIMEZONE setting), as the volunteers count them."""

from __future__ import annotations

import csv
import datetime as dt
import html as html_escape
import io
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.settings import get_settings
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


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def this_month() -> str:
    return utcnow().astimezone(_zone()).strftime("%Y-%m")


def _month_bounds(month: str) -> tuple[dt.datetime, dt.datetime]:
    """The local month's first instant and the next month's, in UTC (the stored times' zone)."""
    start = dt.datetime.strptime(month, "%Y-%m").replace(tzinfo=_zone())
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)


def activity(session: Session, month: str) -> list[Activity]:
    """Per volunteer: handoffs held during the month, minutes held (clipped to the month; an open
    hold counts until now), and the ratings of the handoffs they finished."""
    start, end = _month_bounds(month)
    now = utcnow()
    rows = []
    for volunteer in session.scalars(select(Volunteer).order_by(Volunteer.display_name)):
        holds = session.scalars(
            select(HandoffAssignment).where(
                HandoffAssignment.volunteer_id == volunteer.id,
                HandoffAssignment.started_at < end,
                (HandoffAssignment.ended_at.is_(None)) | (HandoffAssignment.ended_at >= start),
            )
        ).all()
        seconds = sum(
            max(
                0.0,
                (
                    min(as_utc(h.ended_at) if h.ended_at else now, end) - max(as_utc(h.started_at), start)
                ).total_seconds(),
            )
            for h in holds
        )
        ratings = session.scalars(
            select(Handoff.rating).where(
                Handoff.volunteer_id == volunteer.id,
                Handoff.rating.is_not(None),
                Handoff.ended_at >= start,
                Handoff.ended_at < end,
            )
        ).all()
        rows.append(
            Activity(
                volunteer.display_name,
                volunteer.username,
                len({h.handoff_id for h in holds}),
                round(seconds / 60),
                len(ratings),
                round(sum(ratings) / len(ratings), 2) if ratings else None,
            )
        )
    return rows


def csv_text(rows: list[Activity]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow(
            [
                row.name,
                row.username,
                row.conversations,
                row.minutes,
                row.ratings,
                "" if row.average_rating is None else row.average_rating,
            ]
        )
    return "\ufeff" + out.getvalue()  # the BOM lets spreadsheet programs read the Vietnamese text as UTF-8


def html(rows: list[Activity], month: str) -> str:
    """The console's look (header, a panel, the admin pages' tables); no inline style or script."""
    escape = html_escape.escape
    cells = (
        "".join(
            "<tr>"
            + "".join(
                f"<td>{escape(str(v))}</td>"
                for v in (
                    r.name,
                    r.username,
                    r.conversations,
                    r.minutes,
                    r.ratings,
                    "—" if r.average_rating is None else r.average_rating,
                )
            )
            + "</tr>"
            for r in rows
        )
        or f'<tr><td colspan="{len(COLUMNS)}" class="muted">Chưa có tình nguyện viên nào.</td></tr>'
    )
    head = "".join(f'<th scope="col">{c}</th>' for c in COLUMNS)
    month = escape(month)
    shown = f"{month[5:]}/{month[:4]}"
    return f"""<!doctype html>
<html lang="vi">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Báo cáo hoạt động tháng {shown}</title>
  <link rel="icon" href="data:,">
  <link rel="stylesheet" href="/console/static/console.css">
  <link rel="stylesheet" href="/admin/static/admin.css">
</head>
<body class="admin report">
  <header>
    <h1>Báo cáo hoạt động tình nguyện viên</h1>
    <div id="me-bar"><a href="/console">Bàn trực</a> <a href="/admin">Quản trị</a></div>
  </header>
  <main>
    <section class="panel" aria-labelledby="report-title">
      <h2 id="report-title">Tháng {shown}</h2>
      <form method="get" class="row">
        <div class="field">
          <label for="month">Tháng</label>
          <input id="month" name="month" type="month" value="{month}" required>
        </div>
        <button type="submit">Xem</button>
        <a href="/console/api/report.csv?month={month}">Tải CSV</a>
      </form>
      <p class="muted">Tính theo giờ Việt Nam; số phút hỗ trợ tính phần thời gian nằm trong tháng.</p>
      <div class="table-wrap">
        <table>
          <thead><tr>{head}</tr></thead>
          <tbody>{cells}</tbody>
        </table>
      </div>
    </section>
  </main>
</body>
</html>"""
