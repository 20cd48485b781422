"""Analytics from stored rows: exact figures from rows put in a period nobody else writes to (days
bucketed in Vietnam time), then real web-chat turns and a real handoff moving today's charts; the
CSVs; bad periods; who may read them. And the volunteers' monthly report counted in Vietnam months."""

from __future__ import annotations

import csv
import datetime as dt
import io
import itertools

import pytest

from bot.console import auth, report
from bot.storage.db import session_scope
from bot.storage.models import Citizen, Conversation, GuideEvent, Handoff, HandoffAssignment, Message, Turn
from tests.integration.people import PASSWORD, Console, WebCitizen

UTC = dt.timezone.utc
_names = itertools.count()
MAY = {"from": "2026-05-01", "to": "2026-05-03"}  # only this test writes rows in these days
ROUTES = (
    "/admin/api/analytics",
    "/admin/api/analytics/conversations.csv",
    "/admin/api/bottleneck",
    "/admin/api/bottleneck.docx",
)


def at(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=UTC)


# -- rows, as the gateway stores them ------------------------------------------------------------


def conversation(session, channel: str = "web") -> Conversation:
    citizen = Citizen(channel=channel, channel_user_id=f"analytics-{next(_names)}")
    session.add(citizen)
    session.flush()
    found = Conversation(citizen_id=citizen.id, rasa_sender_id=f"analytics-rasa-{next(_names)}")
    session.add(found)
    session.flush()
    return found


def says(
    session,
    where: Conversation,
    when: dt.datetime,
    outcome: str,
    procedure: str | None = None,
    aspect: str | None = None,
    text: str = "câu hỏi",
) -> None:
    """A citizen message and the turn decided on it."""
    channel = session.get(Citizen, where.citizen_id).channel
    message = Message(
        conversation_id=where.id,
        citizen_id=where.citizen_id,
        direction="in",
        channel=channel,
        author="citizen",
        text=text,
        status="processed",
        created_at=when,
    )
    session.add(message)
    session.flush()
    session.add(
        Turn(
            conversation_id=where.id,
            message_id=message.id,
            procedure=procedure,
            aspect=aspect,
            outcome=outcome,
            created_at=when,
        )
    )


def handoff(
    session,
    where: Conversation,
    requested: dt.datetime,
    waited_minutes: float | None = None,
    reason: str = "citizen_request",
    procedure: str | None = None,
    **extra,
) -> Handoff:
    found = Handoff(
        conversation_id=where.id,
        reason=reason,
        channel="web",
        procedure_slug=procedure,
        requested_at=requested,
        status="closed",
        claimed_at=None if waited_minutes is None else requested + dt.timedelta(minutes=waited_minutes),
        **extra,
    )
    session.add(found)
    session.flush()
    return found


def guide(session, sender: str, slug: str, when: dt.datetime, *events: tuple[str, int] | tuple[str, int, str]) -> None:
    for event, step, *detail in events:
        session.add(
            GuideEvent(
                rasa_sender_id=sender,
                slug=slug,
                step=step,
                event=event,
                detail=detail[0] if detail else None,
                created_at=when,
            )
        )


@pytest.fixture(scope="module")
def staff(stack) -> Console:
    return Console(stack.gateway_url, "ThongKe", role="staff", online=False)


@pytest.fixture(scope="module")
def may_rows(stack):
    with session_scope() as session:
        a, b, c = conversation(session, "web"), conversation(session, "telegram"), conversation(session, "web")
        says(session, a, at(2026, 5, 1, 10, 0), "answer", "khai-sinh", "documents")  # 17:00 on 1 May in Vietnam
        says(session, a, at(2026, 5, 1, 18, 30), "answer", "khai-sinh", "fee")  # 01:30 on 2 May in Vietnam
        says(session, b, at(2026, 5, 2, 2, 0), "decline")
        says(session, b, at(2026, 5, 3, 16, 59), "clarify")  # 23:59 on 3 May
        says(session, c, at(2026, 5, 3, 3, 0), "chitchat")
        says(session, c, at(2026, 5, 3, 17, 0), "answer", "tam-tru", "fee")  # 00:00 on 4 May: outside the period
        handoff(session, a, at(2026, 5, 1, 10, 5), 2, rating=3)
        handoff(session, b, at(2026, 5, 2, 2, 1), 6, rating=5)
        guide(
            session,
            "may-g1",
            "tam-tru",
            at(2026, 5, 2, 3, 0),
            ("started", 0),
            ("step", 1),
            ("step", 2),
            ("outcome", 2, "submitted"),
        )
        guide(
            session,
            "may-g2",
            "tam-tru",
            at(2026, 5, 2, 3, 0),
            ("started", 0),
            ("step", 1),
            ("stuck", 1),
            ("stuck", 1),
            ("stopped", 1),
        )
        guide(session, "may-g3", "tam-tru", at(2026, 5, 2, 3, 0), ("started", 0))


def figures(chart: dict) -> dict:
    return dict(chart["figures"])


def test_figures_from_rows_with_days_in_vietnam_time(staff, may_rows):
    response = staff.http.get("/admin/api/analytics", params=MAY)
    assert response.status_code == 200, response.text
    charts = response.json()["charts"]

    conversations = charts["conversations"]
    assert conversations["columns"] == ["Ngày", "Telegram", "Web", "Tổng"]
    assert conversations["rows"] == [["2026-05-01", 0, 1, 1], ["2026-05-02", 1, 1, 2], ["2026-05-03", 1, 1, 2]]
    assert figures(conversations)["Số cuộc trò chuyện trong kỳ"] == 3

    assert [row[1:] for row in charts["procedures"]["rows"]] == [["Đăng ký khai sinh", 2]]
    assert sorted(row[1:] for row in charts["aspects"]["rows"]) == [["Giấy tờ cần có", 1], ["Lệ phí", 1]]

    outcomes = {row[0]: row[2] for row in charts["outcomes"]["rows"]}
    assert (outcomes["answer"], outcomes["decline"], outcomes["clarify"], outcomes["chitchat"]) == (2, 1, 1, 1)
    assert figures(charts["outcomes"])["Tỉ lệ từ chối"] == 0.2
    assert figures(charts["outcomes"])["Tỉ lệ chưa trả lời được (từ chối hoặc chưa hiểu)"] == 0.4

    containment = figures(charts["containment"])
    assert containment["Tỉ lệ tự giải đáp"] == 0.3333  # c alone of a, b, c
    assert containment["Số yêu cầu gặp tình nguyện viên"] == 2
    assert containment["Tỉ lệ chuyển tình nguyện viên (yêu cầu / cuộc trò chuyện)"] == 0.6667

    assert charts["waiting"]["rows"] == [
        ["2026-05-01", 1, 2.0, 2.0],
        ["2026-05-02", 1, 6.0, 6.0],
        ["2026-05-03", 0, None, None],
    ]
    assert figures(charts["waiting"])["Thời gian chờ trung vị (phút)"] == 4.0
    assert figures(charts["waiting"])["Thời gian chờ P90 (phút)"] == 5.6

    assert charts["ratings"]["rows"] == [[1, 0], [2, 0], [3, 1], [4, 0], [5, 1]]
    assert figures(charts["ratings"])["Điểm trung bình"] == 4.0

    funnel = [row for row in charts["funnel"]["rows"] if row[0] == "tam-tru"]
    assert funnel[0][2:] == [0, "Bắt đầu hướng dẫn", 3, 0, 0, 0]
    # reached, stuck (one citizen, twice), called a volunteer, stopped
    assert funnel[1][2] == 1 and funnel[1][4:] == [2, 1, 0, 1]
    assert funnel[2][2] == 2 and funnel[2][4:] == [1, 0, 0, 0]
    assert funnel[-1][3:5] == ["Đã nộp hồ sơ", 1]


def test_every_chart_has_its_csv(staff, may_rows):
    charts = staff.http.get("/admin/api/analytics", params=MAY).json()["charts"]
    assert set(charts) == {
        "conversations",
        "procedures",
        "aspects",
        "outcomes",
        "containment",
        "waiting",
        "ratings",
        "funnel",
    }
    for name, chart in charts.items():
        response = staff.http.get(f"/admin/api/analytics/{name}.csv", params=MAY)
        assert response.status_code == 200, (name, response.text)
        assert response.headers["content-type"].startswith("text/csv")
        assert "2026-05-01_2026-05-03" in response.headers["content-disposition"]
        assert response.text.startswith("\ufeff")
        rows = list(csv.reader(io.StringIO(response.text.lstrip("\ufeff"))))
        assert rows[0] == chart["columns"]
        assert rows[1:] == [["" if v is None else str(v) for v in row] for row in chart["rows"]]
    conversations = staff.http.get("/admin/api/analytics/conversations.csv", params=MAY).text
    assert "Ngày,Telegram,Web,Tổng" in conversations and "2026-05-02,1,1,2" in conversations


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2026-05-03", "to": "2026-05-01"},  # backwards
        {"from": "2026-02-30"},  # no such day
        {"from": "2025-01-01", "to": "2026-05-01"},  # more than 366 days
        {"to": "hôm nay"},
        {"from": "2026-5-1"},
    ],
)
def test_bad_periods_are_refused(staff, params):
    for path in ROUTES:
        response = staff.http.get(path, params=params)
        assert response.status_code == 422, (path, params, response.text)
        assert response.json()["error"]


def test_unknown_chart_is_not_found(staff):
    assert staff.http.get("/admin/api/analytics/khong-co.csv").status_code == 404


def test_only_staff_and_admins_read_reports(stack, gateway):
    volunteer = Console(stack.gateway_url, "TinhNguyen", role="volunteer", online=False)
    admin = Console(stack.gateway_url, "QuanTri", role="admin", online=False)
    for path in ROUTES:
        assert gateway.get(path).status_code == 401, path
        assert volunteer.http.get(path).status_code == 403, path
        assert admin.http.get(path).status_code == 200, path


def _today(staff: Console) -> dict:
    return staff.http.get("/admin/api/analytics").json()["charts"]  # default: the last 30 days


def test_real_chat_turns_and_a_real_handoff_move_the_charts(stack, staff, chat):
    before = _today(staff)
    chat("đăng ký khai sinh cần giấy tờ gì")
    citizen = WebCitizen(stack.gateway_url)
    handoff_id = citizen.ask_for_a_person()
    lan = Console(stack.gateway_url, "Lan")
    assert lan.post(f"/console/api/handoffs/{handoff_id}/claim").status_code == 200
    assert lan.post(f"/console/api/handoffs/{handoff_id}/close", {"outcome": "resolved"}).status_code == 200
    assert lan.post("/console/api/status", {"online": False}).status_code == 200
    after = _today(staff)

    def count(charts, name, key, column=2):
        return sum(row[column] for row in charts[name]["rows"] if row[0] == key)

    assert count(after, "procedures", "khai-sinh") == count(before, "procedures", "khai-sinh") + 1
    assert count(after, "aspects", "documents") == count(before, "aspects", "documents") + 1
    conversations = "Số cuộc trò chuyện trong kỳ"
    assert figures(after["conversations"])[conversations] == figures(before["conversations"])[conversations] + 2
    assert figures(after["waiting"])["Số yêu cầu được nhận"] == figures(before["waiting"])["Số yêu cầu được nhận"] + 1
    requests = "Số yêu cầu gặp tình nguyện viên"
    assert figures(after["containment"])[requests] == figures(before["containment"])[requests] + 1


# -- the volunteers' monthly report --------------------------------------------------------------


def test_monthly_report_counts_vietnam_months(stack, monkeypatch):
    username = f"thang-tu-{next(_names)}"
    with session_scope() as session:
        volunteer = auth.create_account(session, username, "Hạnh", PASSWORD)
        held = handoff(
            session,
            conversation(session),
            at(2026, 3, 31, 19, 55),
            5,
            volunteer_id=volunteer.id,
            ended_at=at(2026, 3, 31, 21, 0),
            rating=5,
        )
        # 20:00 UTC on 31 March is 03:00 on 1 April in Vietnam
        session.add(
            HandoffAssignment(
                handoff_id=held.id,
                volunteer_id=volunteer.id,
                started_at=at(2026, 3, 31, 20, 0),
                ended_at=at(2026, 3, 31, 21, 0),
                end_reason="closed",
            )
        )

    with session_scope() as session:
        april = {row.username: row for row in report.activity(session, "2026-04")}[username]
        march = {row.username: row for row in report.activity(session, "2026-03")}[username]
    assert (april.conversations, april.minutes, april.ratings, april.average_rating) == (1, 60, 1, 5.0)
    assert (march.conversations, march.minutes, march.ratings) == (0, 0, 0)

    monkeypatch.setattr(report, "utcnow", lambda: at(2026, 3, 31, 20, 0))
    assert report.this_month() == "2026-04"
    monkeypatch.setattr(report, "utcnow", lambda: at(2026, 3, 31, 16, 59))
    assert report.this_month() == "2026-03"


def test_monthly_report_page_has_the_console_look_and_no_inline_code(stack):
    staff = Console(stack.gateway_url, "BaoCao", role="staff", online=False)
    response = staff.http.get("/console/report", params={"month": "2026-04"})
    assert response.status_code == 200
    page = response.text
    for part in (
        'href="/console/static/console.css"',
        'href="/admin/static/admin.css"',
        "<header>",
        'class="panel"',
        'class="table-wrap"',
        "Tháng 04/2026",
        "Tải CSV",
    ):
        assert part in page, part
    assert "style=" not in page and "<script" not in page and "<style" not in page
