"""Analytics for staff, all from stored rows, for a period of days in local time (the TIMEZONE
setting). Stored times are UTC; they are turned into local days here, in Python, so SQLite and
PostgreSQL give the same figures. Every chart is a table (title, Vietnamese columns, rows) so the
page draws it and its CSV is the same table."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.knowledge.answers import ASPECTS
from bot.storage.models import GuideEvent, Handoff, KnowledgeEntry, Message, Turn, as_utc

DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP = 10
CHANNELS = {"web": "Web", "telegram": "Telegram", "zalo": "Zalo"}
OUTCOMES = {
    "answer": "Đã trả lời",
    "decline": "Từ chối (ngoài phạm vi)",
    "clarify": "Chưa hiểu, hỏi lại",
    "guide": "Hướng dẫn từng bước",
    "handoff": "Chuyển tình nguyện viên",
    "chitchat": "Chào hỏi",
    "other": "Khác",
}
ASPECT_LABELS = {aspect: label for aspect, (_, label) in ASPECTS.items()} | {
    "overview": "Tổng quan",
    "process": "Các bước thực hiện",
}
UNANSWERED = ("decline", "clarify")
CHARTS = ("conversations", "procedures", "aspects", "outcomes", "containment", "waiting", "ratings", "funnel")


class PeriodError(ValueError):
    """A period the API refuses (422), with the Vietnamese message to show."""


@dataclass(frozen=True)
class Period:
    """From `first` to `last` inclusive, local calendar days."""

    first: dt.date
    last: dt.date
    zone: ZoneInfo

    @classmethod
    def parse(cls, first: str | None, last: str | None, timezone: str, today: dt.date | None = None) -> Period:
        zone = ZoneInfo(timezone)
        today = today or dt.datetime.now(zone).date()
        try:
            end = dt.date.fromisoformat(last) if last else today
            start = dt.date.fromisoformat(first) if first else end - dt.timedelta(days=DEFAULT_DAYS - 1)
        except ValueError:
            raise PeriodError("Ngày không hợp lệ; dùng dạng NNNN-TT-NN.") from None
        if start > end:
            raise PeriodError("Ngày bắt đầu phải trước hoặc bằng ngày kết thúc.")
        if (end - start).days + 1 > MAX_DAYS:
            raise PeriodError(f"Khoảng thời gian tối đa {MAX_DAYS} ngày.")
        return cls(start, end, zone)

    @property
    def start(self) -> dt.datetime:
        """The first instant, in UTC (the stored times' zone)."""
        return dt.datetime.combine(self.first, dt.time(), self.zone).astimezone(dt.timezone.utc)

    @property
    def end(self) -> dt.datetime:
        """The instant after the last day, in UTC."""
        return dt.datetime.combine(self.last + dt.timedelta(days=1), dt.time(), self.zone).astimezone(dt.timezone.utc)

    def day(self, moment: dt.datetime) -> str:
        return as_utc(moment).astimezone(self.zone).date().isoformat()

    def days(self) -> list[str]:
        return [(self.first + dt.timedelta(days=n)).isoformat() for n in range((self.last - self.first).days + 1)]

    def within(self, column):
        return (column >= self.start) & (column < self.end)

    @property
    def label(self) -> str:
        return f"{self.first:%d/%m/%Y} – {self.last:%d/%m/%Y}"

    @property
    def slug(self) -> str:
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


@dataclass
class Chart:
    title: str
    columns: list[str]
    rows: list[list[Any]]
    figures: list[list[Any]] = field(default_factory=list)  # [label, value]: the key figures, as text

    def as_dict(self) -> dict[str, Any]:
        return {"title": self.title, "columns": self.columns, "rows": self.rows, "figures": self.figures}


def csv_text(chart: Chart) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(chart.columns)
    writer.writerows(["" if value is None else value for value in row] for row in chart.rows)
    return "\ufeff" + out.getvalue()  # the BOM lets spreadsheet programs read the Vietnamese text as UTF-8


def percentile(values: list[float], share: float) -> float | None:
    """Linear interpolation between the nearest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * share
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (position - low), 1)


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def waiting_minutes(handoff: Handoff) -> float | None:
    if handoff.claimed_at is None:
        return None
    return max(0.0, (as_utc(handoff.claimed_at) - as_utc(handoff.requested_at)).total_seconds() / 60)


def procedure_data(session: Session) -> dict[str, dict]:
    """Each procedure's live entry (title, steps with their problems, online), by slug."""
    rows = session.execute(select(KnowledgeEntry.slug, KnowledgeEntry.data).where(KnowledgeEntry.kind == "procedure"))
    return {slug: data for slug, data in rows}


def title_of(procedures: dict[str, dict], slug: str) -> str:
    return procedures.get(slug, {}).get("title") or slug


def step_title(procedures: dict[str, dict], slug: str, step: int) -> str:
    steps = procedures.get(slug, {}).get("steps") or []
    return steps[step - 1].get("title", "") if 1 <= step <= len(steps) else ""


def handoffs_in(session: Session, period: Period) -> list[Handoff]:
    return list(session.scalars(select(Handoff).where(period.within(Handoff.requested_at))))


def guide_events_in(session: Session, period: Period) -> list[GuideEvent]:
    return list(session.scalars(select(GuideEvent).where(period.within(GuideEvent.created_at))))


# -- the charts ----------------------------------------------------------------------------------


def _conversations(period: Period, citizen_messages) -> tuple[Chart, set[int]]:
    """A conversation counts on each local day it had a citizen message, under its channel."""
    seen = {(period.day(at), channel, conversation) for conversation, channel, at in citizen_messages}
    per_day = Counter((day, channel) for day, channel, _ in seen)
    channels = sorted({channel for _, channel, _ in seen} | {"web"})
    rows = [
        [day, *(per_day[(day, c)] for c in channels), sum(per_day[(day, c)] for c in channels)] for day in period.days()
    ]
    conversations = {conversation for _, _, conversation in seen}
    chart = Chart(
        "Số cuộc trò chuyện theo ngày và kênh",
        ["Ngày", *(CHANNELS.get(c, c) for c in channels), "Tổng"],
        rows,
        [["Số cuộc trò chuyện trong kỳ", len(conversations)]],
    )
    return chart, conversations


def _top(title: str, column: str, counts: Counter, label) -> Chart:
    total = sum(counts.values())
    rows = [[key, label(key), count] for key, count in counts.most_common(TOP)]
    return Chart(title, ["Mã", column, "Số lượt trả lời"], rows, [["Tổng số lượt trả lời", total]])


def _outcomes(turns) -> Chart:
    counts = Counter(outcome or "other" for _, _, outcome in turns)
    total = sum(counts.values())
    unanswered = sum(counts[o] for o in UNANSWERED)
    rows = [[key, label, counts[key], ratio(counts[key], total)] for key, label in OUTCOMES.items()]
    return Chart(
        "Kết quả các lượt hỏi",
        ["Mã", "Kết quả", "Số lượt", "Tỉ lệ"],
        rows,
        [
            ["Tổng số lượt hỏi", total],
            ["Tỉ lệ từ chối", ratio(counts["decline"], total)],
            ["Tỉ lệ chưa trả lời được (từ chối hoặc chưa hiểu)", ratio(unanswered, total)],
        ],
    )


def _containment(conversations: set[int], handoffs: list[Handoff]) -> Chart:
    with_person = conversations & {h.conversation_id for h in handoffs}
    alone = len(conversations) - len(with_person)
    return Chart(
        "Tự giải đáp, không cần người hỗ trợ",
        ["Nhóm", "Số cuộc trò chuyện"],
        [["Trợ lý ảo tự giải đáp", alone], ["Có chuyển tình nguyện viên", len(with_person)]],
        [
            ["Tỉ lệ tự giải đáp", ratio(alone, len(conversations))],
            ["Số yêu cầu gặp tình nguyện viên", len(handoffs)],
            ["Tỉ lệ chuyển tình nguyện viên (yêu cầu / cuộc trò chuyện)", ratio(len(handoffs), len(conversations))],
        ],
    )


def _waiting(period: Period, handoffs: list[Handoff]) -> Chart:
    per_day: dict[str, list[float]] = defaultdict(list)
    for handoff in handoffs:
        minutes = waiting_minutes(handoff)
        if minutes is not None:
            per_day[period.day(handoff.requested_at)].append(minutes)
    rows = [
        [day, len(waits), percentile(waits, 0.5), percentile(waits, 0.9)]
        for day, waits in ((day, per_day[day]) for day in period.days())
    ]
    every = [m for waits in per_day.values() for m in waits]
    return Chart(
        "Thời gian chờ tình nguyện viên (phút)",
        ["Ngày", "Số yêu cầu được nhận", "Trung vị (phút)", "P90 (phút)"],
        rows,
        [
            ["Số yêu cầu được nhận", len(every)],
            ["Thời gian chờ trung vị (phút)", percentile(every, 0.5)],
            ["Thời gian chờ P90 (phút)", percentile(every, 0.9)],
        ],
    )


def _ratings(handoffs: list[Handoff]) -> Chart:
    ratings = [h.rating for h in handoffs if h.rating is not None]
    counts = Counter(ratings)
    return Chart(
        "Đánh giá của người dân",
        ["Số sao", "Số lượt"],
        [[stars, counts[stars]] for stars in range(1, 6)],
        [
            ["Số lượt đánh giá", len(ratings)],
            ["Điểm trung bình", round(sum(ratings) / len(ratings), 2) if ratings else None],
        ],
    )


def funnel(procedures: dict[str, dict], events: list[GuideEvent]) -> dict[str, dict]:
    """Per procedure: citizens who started, reached each step, were stuck, called a volunteer or
    stopped there, and who said they submitted (each citizen once per step and kind)."""
    people: dict[str, dict[tuple[str, int], set[str]]] = defaultdict(lambda: defaultdict(set))
    for event in events:
        kind = "submitted" if event.event == "outcome" and event.detail == "submitted" else event.event
        people[event.slug][(kind, event.step)].add(event.rasa_sender_id)
    result = {}
    for slug, seen in people.items():

        def count(kind: str, step: int | None = None) -> int:
            return len(set().union(*(who for (k, s), who in seen.items() if k == kind and step in (None, s))))

        steps = len(procedures.get(slug, {}).get("steps") or []) or max((s for _, s in seen), default=0)
        result[slug] = {
            "title": title_of(procedures, slug),
            "started": count("started"),
            "submitted": count("submitted"),
            "in_person": count("in_person"),
            "steps": [
                {
                    "step": n,
                    "title": step_title(procedures, slug, n),
                    "reached": count("step", n),
                    "stuck": count("stuck", n),
                    "volunteer_called": count("volunteer_called", n),
                    "stopped": count("stopped", n),
                }
                for n in range(1, steps + 1)
            ],
        }
    return result


def _funnel_chart(procedures: dict[str, dict], events: list[GuideEvent]) -> Chart:
    rows = []
    by_procedure = funnel(procedures, events)
    for slug, found in sorted(by_procedure.items(), key=lambda item: -item[1]["started"]):
        rows.append([slug, found["title"], 0, "Bắt đầu hướng dẫn", found["started"], 0, 0, 0])
        rows += [
            [slug, found["title"], s["step"], s["title"], s["reached"], s["stuck"], s["volunteer_called"], s["stopped"]]
            for s in found["steps"]
        ]
        rows.append([slug, found["title"], len(found["steps"]) + 1, "Đã nộp hồ sơ", found["submitted"], 0, 0, 0])
    return Chart(
        "Hướng dẫn từng bước: người dân dừng, bị kẹt, gọi tình nguyện viên ở bước nào",
        [
            "Mã thủ tục",
            "Thủ tục",
            "Bước",
            "Tên bước",
            "Số người đến bước",
            "Bị kẹt",
            "Gọi tình nguyện viên",
            "Dừng lại",
        ],
        rows,
        [
            ["Số lượt bắt đầu hướng dẫn", sum(f["started"] for f in by_procedure.values())],
            ["Số người báo đã nộp hồ sơ", sum(f["submitted"] for f in by_procedure.values())],
        ],
    )


def charts(session: Session, period: Period) -> dict[str, Chart]:
    citizen_messages = session.execute(
        select(Message.conversation_id, Message.channel, Message.created_at).where(
            Message.author == "citizen", period.within(Message.created_at)
        )
    ).all()
    turns = session.execute(
        select(Turn.procedure, Turn.aspect, Turn.outcome).where(period.within(Turn.created_at))
    ).all()
    handoffs = handoffs_in(session, period)
    procedures = procedure_data(session)
    conversations, in_period = _conversations(period, citizen_messages)
    answered = [(p, a) for p, a, outcome in turns if outcome == "answer"]
    return {
        "conversations": conversations,
        "procedures": _top(
            "Thủ tục được hỏi nhiều nhất",
            "Thủ tục",
            Counter(p for p, _ in answered if p),
            lambda slug: title_of(procedures, slug),
        ),
        "aspects": _top(
            "Nội dung được hỏi nhiều nhất",
            "Nội dung",
            Counter(a for _, a in answered if a),
            lambda aspect: ASPECT_LABELS.get(aspect, aspect),
        ),
        "outcomes": _outcomes(turns),
        "containment": _containment(in_period, handoffs),
        "waiting": _waiting(period, handoffs),
        "ratings": _ratings(handoffs),
        "funnel": _funnel_chart(procedures, guide_events_in(session, period)),
    }
