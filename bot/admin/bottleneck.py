"""The bottleneck report ("Báo cáo điểm nghẽn"): per procedure, ranked by how many citizens got
stuck, where (guide step, known problem), why they were handed to volunteers, what sent them to
the office, what the knowledge base could not answer and how long they waited; as JSON for the
page and as a Word document staff send to the steering committee."""

from __future__ import annotations

import io
from collections import Counter, defaultdict
from typing import Any

from docx import Document
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.admin.analytics import (
    UNANSWERED,
    Period,
    guide_events_in,
    handoffs_in,
    percentile,
    procedure_data,
    step_title,
    title_of,
    waiting_minutes,
)
from bot.handoff.service import OUTCOMES, REASONS
from bot.storage.models import Message, Turn
from bot.text.masking import mask_contacts

EXAMPLES = 3
SUMMARY_COLUMNS = (
    "Hạng",
    "Thủ tục",
    "Người dân bị kẹt",
    "Chuyển tình nguyện viên",
    "Phải đến cơ quan",
    "Câu hỏi chưa trả lời được",
    "Chờ trung vị (phút)",
    "Chờ P90 (phút)",
)
NO_PROCEDURE = ""  # the group of what could not be tied to a procedure
OTHER_PROBLEM = "Vấn đề khác (không có trong danh sách)"
TO_OFFICE = ("referred",)  # handoff outcomes that send the citizen to the office
METHOD = (
    "Số liệu lấy từ các cuộc trò chuyện đã lưu trong kỳ. Mỗi người dân được đếm một lần cho mỗi bước. "
    '"Bị kẹt" là người dân bấm "Tôi bị kẹt" hoặc được chuyển tình nguyện viên khi làm theo hướng dẫn; '
    "câu hỏi chưa trả lời được là câu trợ lý ảo từ chối hoặc chưa hiểu, gắn với thủ tục đang được hỏi trong "
    "cuộc trò chuyện. Ví dụ đã che số điện thoại, email và thông tin cá nhân. Thời gian chờ tính từ lúc người "
    "dân yêu cầu đến lúc tình nguyện viên nhận."
)


def _problem_title(procedures: dict[str, dict], slug: str, step: int, key: str | None) -> str:
    steps = procedures.get(slug, {}).get("steps") or []
    problems = (steps[step - 1].get("problems") or []) if 1 <= step <= len(steps) else []
    return next((p.get("title", key) for p in problems if p.get("key") == key), OTHER_PROBLEM)


def _ranked(counts: Counter) -> list[tuple[Any, int]]:
    return sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))


def _unanswered(session: Session, period: Period) -> dict[str, list[str]]:
    """Citizen questions declined or not understood, by procedure: the turn's own, else the one the
    conversation was about just before (decline and clarify name none themselves). Newest first."""
    rows = session.execute(
        select(Turn.conversation_id, Turn.message_id, Turn.procedure, Message.text)
        .join(Message, Message.id == Turn.message_id)
        .where(period.within(Turn.created_at), Turn.outcome.in_(UNANSWERED), Message.author == "citizen")
        .order_by(Turn.message_id.desc())
    ).all()
    context: dict[int, list[tuple[int, str]]] = defaultdict(list)
    for conversation, message, procedure in session.execute(
        select(Turn.conversation_id, Turn.message_id, Turn.procedure).where(
            Turn.conversation_id.in_({r.conversation_id for r in rows}), Turn.procedure.is_not(None)
        )
    ):
        context[conversation].append((message, procedure))
    by_procedure: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        earlier = [(m, p) for m, p in context[row.conversation_id] if m < row.message_id]
        slug = row.procedure or (max(earlier)[1] if earlier else NO_PROCEDURE)
        by_procedure[slug].append(mask_contacts(row.text))
    return by_procedure


def report(session: Session, period: Period) -> dict[str, Any]:
    procedures = procedure_data(session)
    events = guide_events_in(session, period)
    handoffs = handoffs_in(session, period)
    questions = _unanswered(session, period)

    stuck_people: dict[str, set[str]] = defaultdict(set)
    steps: dict[str, dict[int, Counter]] = defaultdict(lambda: defaultdict(Counter))
    people_at: dict[tuple[str, int, str], set[str]] = defaultdict(set)
    problems: dict[str, Counter] = defaultdict(Counter)
    in_person: Counter = Counter()
    for event in events:
        if event.event in ("stuck", "volunteer_called", "stopped"):
            people_at[(event.slug, event.step, event.event)].add(event.rasa_sender_id)
        if event.event in ("stuck", "volunteer_called"):
            stuck_people[event.slug].add(event.rasa_sender_id)
        elif event.event == "problem":
            problems[event.slug][(event.step, event.detail)] += 1
        elif event.event == "in_person":
            in_person[event.slug] += 1
    for (slug, step, kind), who in people_at.items():
        steps[slug][step][kind] = len(who)

    reasons: dict[str, Counter] = defaultdict(Counter)
    referred: Counter = Counter()
    waits: dict[str, list[float]] = defaultdict(list)
    for handoff in handoffs:
        slug = handoff.procedure_slug or NO_PROCEDURE
        reasons[slug][handoff.reason] += 1
        referred[slug] += handoff.outcome in TO_OFFICE
        minutes = waiting_minutes(handoff)
        if minutes is not None:
            waits[slug].append(minutes)

    def section(slug: str) -> dict[str, Any]:
        online = procedures.get(slug, {}).get("online") or {}
        asked = questions.get(slug, [])
        return {
            "slug": slug,
            "title": title_of(procedures, slug) if slug else "Chưa rõ thủ tục",
            "stuck": len(stuck_people[slug]),
            "handoffs": sum(reasons[slug].values()),
            "office": in_person[slug] + referred[slug],
            "unanswered": len(asked),
            "steps": [
                {
                    "step": step,
                    "title": step_title(procedures, slug, step),
                    "stuck": kinds["stuck"],
                    "volunteer_called": kinds["volunteer_called"],
                    "stopped": kinds["stopped"],
                }
                for step, kinds in sorted(
                    steps[slug].items(),
                    key=lambda item: (-item[1]["stuck"] - item[1]["volunteer_called"], -item[1]["stopped"], item[0]),
                )
            ],
            "problems": [
                {
                    "step": step,
                    "step_title": step_title(procedures, slug, step),
                    "key": key,
                    "title": _problem_title(procedures, slug, step, key),
                    "count": count,
                }
                for (step, key), count in _ranked(problems[slug])
            ],
            "reasons": [
                {"reason": reason, "label": REASONS.get(reason, reason), "count": count}
                for reason, count in _ranked(reasons[slug])
            ],
            "in_person": {
                "guide": in_person[slug],
                "referred": referred[slug],
                "referred_label": OUTCOMES["referred"],
                "reason": online.get("in_person_reason"),
            },
            "questions": {"count": len(asked), "examples": asked[:EXAMPLES]},
            "waiting": {
                "count": len(waits[slug]),
                "median": percentile(waits[slug], 0.5),
                "p90": percentile(waits[slug], 0.9),
            },
        }

    slugs = {*stuck_people, *steps, *problems, *in_person, *reasons, *questions} - {NO_PROCEDURE}
    ranked = sorted(
        (section(slug) for slug in slugs),
        key=lambda s: (-s["stuck"], -s["handoffs"], -s["unanswered"], -s["office"], s["title"]),
    )
    return {
        "from": period.first.isoformat(),
        "to": period.last.isoformat(),
        "period": period.label,
        "method": METHOD,
        "summary": {"columns": list(SUMMARY_COLUMNS), "rows": _summary_rows(ranked)},
        "procedures": ranked,
        "unassigned": section(NO_PROCEDURE),
    }


def _summary_rows(ranked: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            rank,
            p["title"],
            p["stuck"],
            p["handoffs"],
            p["office"],
            p["unanswered"],
            p["waiting"]["median"],
            p["waiting"]["p90"],
        ]
        for rank, p in enumerate(ranked, 1)
    ]


# -- the Word document ---------------------------------------------------------------------------


def _table(document, columns, rows) -> None:
    table = document.add_table(rows=1, cols=len(columns))
    table.style = "Table Grid"
    for cell, name in zip(table.rows[0].cells, columns):
        cell.text = str(name)
        for run in cell.paragraphs[0].runs:
            run.bold = True
    for row in rows:
        for cell, value in zip(table.add_row().cells, row):
            cell.text = "—" if value is None else str(value)


def _details(document, found: dict[str, Any]) -> None:
    if found["steps"]:
        document.add_heading("Bị kẹt ở bước nào", level=2)
        _table(
            document,
            ("Bước", "Tên bước", "Bị kẹt", "Gọi tình nguyện viên", "Dừng lại"),
            [(s["step"], s["title"], s["stuck"], s["volunteer_called"], s["stopped"]) for s in found["steps"]],
        )
    if found["problems"]:
        document.add_heading("Vấn đề người dân chọn", level=2)
        _table(
            document, ("Bước", "Vấn đề", "Số lượt"), [(p["step"], p["title"], p["count"]) for p in found["problems"]]
        )
    if found["reasons"]:
        document.add_heading("Lý do chuyển tình nguyện viên", level=2)
        _table(document, ("Lý do", "Số lượt"), [(r["label"], r["count"]) for r in found["reasons"]])
    office = found["in_person"]
    if office["guide"] or office["referred"]:
        document.add_heading("Phải đến cơ quan", level=2)
        document.add_paragraph(
            f"Được báo phải làm trực tiếp: {office['guide']} lượt; "
            f"tình nguyện viên hướng dẫn đến cơ quan: {office['referred']} lượt."
        )
        if office["reason"]:
            document.add_paragraph(f"Lý do theo quy định: {office['reason']}")
    if found["questions"]["count"]:
        document.add_heading("Câu hỏi trợ lý ảo chưa trả lời được", level=2)
        document.add_paragraph(f"{found['questions']['count']} câu hỏi. Ví dụ:")
        for text in found["questions"]["examples"]:
            document.add_paragraph(text, style="List Bullet")
    waiting = found["waiting"]
    if waiting["count"]:
        document.add_heading("Thời gian chờ tình nguyện viên", level=2)
        document.add_paragraph(
            f"{waiting['count']} yêu cầu được nhận; trung vị {waiting['median']} phút, P90 {waiting['p90']} phút."
        )


def _proposals(document, ranked: list[dict[str, Any]]) -> None:
    document.add_heading("Đề xuất", level=1)
    document.add_paragraph("Gợi ý để đơn vị ghi đề xuất sửa quy trình, bắt đầu từ những điểm nghẽn lớn nhất.")
    for found in ranked[:5]:
        document.add_heading(f"Đề xuất: {found['title']}", level=2)
        for step in found["steps"][:3]:
            if step["stuck"] or step["volunteer_called"]:
                document.add_paragraph(
                    f"Bước {step['step']} «{step['title']}»: {step['stuck']} người bị kẹt, "
                    f"{step['volunteer_called']} người cần tình nguyện viên.",
                    style="List Bullet",
                )
        for problem in found["problems"][:3]:
            document.add_paragraph(
                f"Vấn đề «{problem['title']}» (bước {problem['step']}): {problem['count']} lượt.", style="List Bullet"
            )
        if found["in_person"]["reason"] and found["office"]:
            document.add_paragraph(
                f"Phải đến cơ quan ({found['office']} lượt): {found['in_person']['reason']}", style="List Bullet"
            )
        document.add_paragraph("Đề xuất: ……………………………………………………………")


def docx_bytes(data: dict[str, Any]) -> bytes:
    document = Document()
    document.add_heading("Báo cáo điểm nghẽn", level=0)
    document.add_paragraph(f"Kỳ báo cáo: {data['period']}")
    document.add_heading("Cách tính", level=1)
    document.add_paragraph(data["method"])
    document.add_heading("Tổng hợp theo thủ tục", level=1)
    ranked = data["procedures"]
    if ranked:
        _table(document, data["summary"]["columns"], data["summary"]["rows"])
    else:
        document.add_paragraph("Không có số liệu trong kỳ.")
    for rank, found in enumerate(ranked, 1):
        document.add_heading(f"{rank}. {found['title']}", level=1)
        _details(document, found)
    unassigned = data["unassigned"]
    if unassigned["handoffs"] or unassigned["unanswered"]:
        document.add_heading("Chưa rõ thủ tục", level=1)
        _details(document, unassigned)
    _proposals(document, ranked)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()
