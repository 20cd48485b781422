"""The bottleneck report: procedures ranked by citizens stuck, with where, why, what sent them to the
office, what could not be answered (masked) and how long they waited; the Word document parses and
names the top procedure with its counts. Rows go into June 2026, days nobody else writes to; one
citizen also gets stuck for real, through the guide's buttons."""

from __future__ import annotations

import io

import pytest
from docx import Document

from bot.storage.db import session_scope
from tests.admin.test_analytics import at, conversation, guide, handoff, says
from tests.integration.conftest import button
from tests.integration.people import Console

JUNE = {"from": "2026-06-10", "to": "2026-06-12"}
PHONE = "0912345678"


def seed_bottlenecks(day: tuple[int, int, int]) -> None:
    """Birth registration: 3 citizens stuck at step 2 (one called a volunteer), a known problem
    chosen twice at step 1, two handoffs (one sent to the office after 10 minutes' wait), one
    question the knowledge base could not answer. Temporary residence: 1 stuck. Certified copies:
    told twice it is done in person."""
    y, m, d = day
    noon = at(y, m, d, 5, 0)  # 12:00 in Vietnam
    with session_scope() as session:
        for n in (1, 2, 3):
            guide(
                session, f"stuck-{day}-{n}", "khai-sinh", noon, ("started", 0), ("step", 1), ("step", 2), ("stuck", 2)
            )
        guide(session, f"stuck-{day}-1", "khai-sinh", noon, ("volunteer_called", 2, "Chọn thủ tục và nơi giải quyết"))
        guide(session, f"stuck-{day}-2", "khai-sinh", noon, ("stuck", 1), ("problem", 1, "no_otp"))
        guide(session, f"stuck-{day}-3", "khai-sinh", noon, ("stuck", 1), ("problem", 1, "no_otp"), ("stopped", 1))
        guide(session, f"stuck-{day}-4", "tam-tru", noon, ("started", 0), ("step", 1), ("stuck", 1))
        guide(session, f"copy-{day}-1", "chung-thuc", noon, ("in_person", 0))
        guide(session, f"copy-{day}-2", "chung-thuc", noon, ("in_person", 0))
        asked = conversation(session)
        says(session, asked, noon, "answer", "khai-sinh", "documents", "đăng ký khai sinh cần gì")
        says(session, asked, at(y, m, d, 5, 1), "decline", text=f"con sinh ở nước ngoài thì sao, gọi {PHONE}")
        handoff(session, asked, noon, 10, reason="stuck", procedure="khai-sinh", outcome="referred")
        handoff(session, conversation(session), noon, None, reason="citizen_request", procedure="khai-sinh")


@pytest.fixture(scope="module")
def staff(stack) -> Console:
    seed_bottlenecks((2026, 6, 11))
    return Console(stack.gateway_url, "DiemNghen", role="staff", online=False)


def test_procedures_are_ranked_with_where_why_and_examples(staff):
    response = staff.http.get("/admin/api/bottleneck", params=JUNE)
    assert response.status_code == 200, response.text
    data = response.json()
    assert (data["from"], data["to"]) == ("2026-06-10", "2026-06-12")
    assert [p["slug"] for p in data["procedures"]] == ["khai-sinh", "tam-tru", "chung-thuc"]
    birth = data["procedures"][0]
    assert (birth["title"], birth["stuck"], birth["handoffs"], birth["office"], birth["unanswered"]) == (
        "Đăng ký khai sinh",
        3,
        2,
        1,
        1,
    )
    assert birth["steps"][0] == {
        "step": 2,
        "title": "Chọn thủ tục và nơi giải quyết",
        "stuck": 3,
        "volunteer_called": 1,
        "stopped": 0,
    }
    assert birth["steps"][1] == {"step": 1, "title": "Đăng nhập", "stuck": 2, "volunteer_called": 0, "stopped": 1}
    assert birth["problems"] == [
        {"step": 1, "step_title": "Đăng nhập", "key": "no_otp", "title": "Không nhận được mã OTP", "count": 2}
    ]
    assert sorted((r["label"], r["count"]) for r in birth["reasons"]) == [
        ("Bị kẹt khi làm theo hướng dẫn", 1),
        ("Người dân muốn gặp tình nguyện viên", 1),
    ]
    assert birth["in_person"]["referred"] == 1 and birth["in_person"]["reason"]
    [example] = birth["questions"]["examples"]  # tied to birth registration by the conversation's topic
    assert example.startswith("con sinh ở nước ngoài") and PHONE not in example
    assert birth["waiting"] == {"count": 1, "median": 10.0, "p90": 10.0}
    copies = data["procedures"][2]
    assert (copies["stuck"], copies["office"], copies["in_person"]["guide"]) == (0, 2, 2)
    assert data["summary"]["rows"][0][:6] == [1, "Đăng ký khai sinh", 3, 2, 1, 1]


def docx_text(document) -> str:
    parts = [p.text for p in document.paragraphs]
    parts += [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join(parts)


def summary_of(document) -> list[list[str]]:
    table = document.tables[0]
    return [[cell.text for cell in row.cells] for row in table.rows]


def test_the_word_document_names_the_top_procedure_with_its_counts(staff):
    response = staff.http.get("/admin/api/bottleneck.docx", params=JUNE)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument")
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="bao-cao-diem-nghen-2026-06-10_2026-06-12.docx"'
    document = Document(io.BytesIO(response.content))
    assert document.paragraphs[0].text == "Báo cáo điểm nghẽn"
    summary = summary_of(document)
    assert summary[0][:3] == ["Hạng", "Thủ tục", "Người dân bị kẹt"]
    assert summary[1][:6] == ["1", "Đăng ký khai sinh", "3", "2", "1", "1"]
    text = docx_text(document)
    assert "10/06/2026 – 12/06/2026" in text
    assert "Đề xuất: Đăng ký khai sinh" in text and "Không nhận được mã OTP" in text
    assert "con sinh ở nước ngoài" in text and PHONE not in text


def test_a_citizen_stuck_in_a_real_guide_is_counted(staff, chat):
    before = staff.http.get("/admin/api/bottleneck").json()

    def stuck(data, slug):
        return next((p["stuck"] for p in data["procedures"] if p["slug"] == slug), 0)

    replies = chat(button(chat("Đăng ký khai sinh"), "Hướng dẫn từng bước"))
    replies = chat(button(replies, "Bắt đầu"))
    chat(button(replies, "Tôi bị kẹt"))
    after = staff.http.get("/admin/api/bottleneck").json()  # default period: the last 30 days
    assert stuck(after, "khai-sinh") == stuck(before, "khai-sinh") + 1
