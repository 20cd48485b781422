"""Import and export in the staff page, in a real browser: download the spreadsheet, change one
answer, preview the change, apply it, put the original back, and see a bad row refused by its row
and column with nothing to apply."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from playwright.sync_api import expect

from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry
from tests.browser.admin_pages import staff_opens

CHANGED = "bhyt"
NEW_ANSWER = "Trả lời thử trong trình duyệt."


def _write(path: Path, rows: list[list[str]]) -> Path:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    path.write_bytes(out.getvalue().encode("utf-8-sig"))
    return path


def _preview(page, path: Path) -> None:
    page.set_input_files("#transfer-file", str(path))
    page.get_by_role("button", name="Xem trước").click()


def test_a_spreadsheet_round_trip_in_the_page(page, stack, tmp_path, restores):
    restores(CHANGED)
    problems = staff_opens(page, stack.gateway_url, "transfer", expected=("status of 422",))  # the refused preview
    with page.expect_download() as got:
        page.locator("#tab-transfer a.download").nth(1).click()  # CSV
    exported = Path(got.value.path()).read_bytes()
    rows = list(csv.reader(io.StringIO(exported.decode("utf-8-sig"), newline="")))
    answer_column = rows[0].index(next(h for h in rows[0] if h.startswith("text")))
    edited = [list(r) for r in rows]
    next(r for r in edited if r[:2] == [CHANGED, "faq"])[answer_column] = NEW_ANSWER

    _preview(page, _write(tmp_path / "sua.csv", edited))
    expect(page.locator("#tab-transfer .change")).to_have_count(1)
    expect(page.locator("#tab-transfer .change li").first).to_contain_text("câu trả lời")
    page.get_by_role("button", name="Nhập", exact=True).click()
    expect(page.locator("#tab-transfer .change h4")).to_contain_text("đã xuất bản phiên bản")
    with session_scope() as session:
        assert NEW_ANSWER in [faq["answer"] for faq in session.get(KnowledgeEntry, CHANGED).data["faq"]]

    original = tmp_path / "goc.csv"
    original.write_bytes(exported)
    _preview(page, original)
    expect(page.locator("#tab-transfer .change")).to_have_count(1)
    page.get_by_role("button", name="Nhập", exact=True).click()
    expect(page.locator("#tab-transfer .change h4")).to_contain_text("đã xuất bản phiên bản")
    _preview(page, original)  # now nothing differs
    expect(page.locator("#tab-transfer p.muted").last).to_contain_text(CHANGED)
    expect(page.locator("#tab-transfer .change")).to_have_count(0)

    bad = [list(r) for r in rows]
    question_column = rows[0].index(next(h for h in rows[0] if h.startswith("questions")))
    next(r for r in bad if r[:2] == ["ket-hon", "faq"])[question_column] = "một câu"  # a FAQ needs two
    _preview(page, _write(tmp_path / "sai.csv", bad))
    expect(page.locator("#tab-transfer table.errors tbody tr")).to_have_count(1)
    assert page.get_by_role("button", name="Nhập", exact=True).is_disabled()
    assert problems == []
    assert page.evaluate("window.cspViolations") == []
