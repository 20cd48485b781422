"""Spreadsheet rows ↔ procedures' FAQ entries and document lines, on the repository's knowledge:
CSV and XLSX round trips give back equal entries, and bad rows are named by row and column."""

from __future__ import annotations

import io
import random

import openpyxl
import pytest

from bot.admin import sheets
from bot.knowledge.files import read_all
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def live() -> dict[str, dict]:
    procedures, _ = read_all(ROOT / "knowledge")
    return {p.slug: p.model_dump(mode="json") for p in procedures}


FORMATS = {"csv": (sheets.write_csv, sheets.read_csv), "xlsx": (sheets.write_xlsx, sheets.read_xlsx)}


def sheet(*rows: dict[str, str], kind: str = "csv") -> list[sheets.Row]:
    write, read = FORMATS[kind]
    return read(write([sheets.row_cells(**row) for row in rows]))


def errors_of(rows: list[sheets.Row], live: dict) -> list[tuple[int | None, str | None]]:
    with pytest.raises(sheets.SheetError) as refused:
        sheets.entries_of(rows, live)
    return [(e["row"], e["column"]) for e in refused.value.errors]


def test_one_row_per_faq_entry_and_document_line(live):
    rows = sheets.rows_of(live.values())
    assert len(rows) == sum(len(p["faq"]) + len(p["documents"]) for p in live.values())
    bhyt = [r for r in rows if r["slug"] == "bhyt"]
    first_faq = next(r for r in bhyt if r["kind"] == "faq")
    assert first_faq["questions"].split("\n") == live["bhyt"]["faq"][0]["questions"]
    documents = [r for r in bhyt if r["kind"] == "document"]
    assert [r["id"] for r in documents] == [str(n) for n in range(1, len(live["bhyt"]["documents"]) + 1)]
    assert {r["confirm"] for r in documents} <= {"yes", "no"}


@pytest.mark.parametrize("kind", FORMATS)
def test_a_round_trip_gives_back_equal_entries(live, kind):
    write, read = FORMATS[kind]
    rows = read(write(sheets.rows_of(live.values())))
    assert rows[0].number == 2  # the header is row 1
    drafts = sheets.entries_of(rows, live)
    assert set(drafts) == {slug for slug, p in live.items() if p["faq"] or p["documents"]}
    assert all(drafts[slug] == live[slug] for slug in drafts)


def test_csv_is_utf8_with_bom_and_a_documented_header():
    content = sheets.write_csv([])
    assert content.startswith("\ufeff".encode())
    header = content.decode("utf-8-sig").splitlines()[0].split(",")
    assert [cell.split(" (")[0] for cell in header] == list(sheets.COLUMNS)


def test_xlsx_has_the_knowledge_sheet_and_keeps_formula_like_text(live):
    content = sheets.write_xlsx([sheets.row_cells(slug="bhyt", kind="document", text="=1+1")])
    book = openpyxl.load_workbook(io.BytesIO(content))
    assert book.sheetnames == ["knowledge"]
    assert book["knowledge"]["E2"].value == "=1+1" and book["knowledge"]["E2"].data_type == "s"


def test_a_semicolon_separated_csv_and_bare_keys_are_read():
    rows = sheets.read_csv(
        "slug;kind;id;questions;text;note;confirm;source\r\nbhyt;document;1;;Tờ khai;;có;\r\n".encode()
    )
    assert rows == [
        sheets.Row(
            2,
            {
                "slug": "bhyt",
                "kind": "document",
                "id": "1",
                "questions": "",
                "text": "Tờ khai",
                "note": "",
                "confirm": "có",
                "source": "",
            },
        )
    ]


def test_a_slugs_lists_become_its_rows_in_order_and_absent_kinds_stay(live):
    faq = list(reversed(live["bhyt"]["faq"]))
    rows = sheet(
        *(
            {
                "slug": "bhyt",
                "kind": "faq",
                "id": f["id"],
                "questions": "\n".join(f["questions"]),
                "text": f["answer"],
                "source": f["source"],
            }
            for f in faq
        )
    )
    drafts = sheets.entries_of(rows, live)
    assert list(drafts) == ["bhyt"]
    assert drafts["bhyt"]["faq"] == faq
    assert drafts["bhyt"]["documents"] == live["bhyt"]["documents"]  # no document row: left as is
    documents = sheets.entries_of(sheet({"slug": "bhyt", "kind": "document", "text": "Giấy mới", "confirm": "1"}), live)
    assert documents["bhyt"]["documents"] == [{"name": "Giấy mới", "note": None, "confirm": True}]
    assert documents["bhyt"]["faq"] == live["bhyt"]["faq"]


@pytest.mark.parametrize("kind", FORMATS)
def test_bad_rows_are_named_by_row_and_column(live, kind):
    source = live["bhyt"]["faq"][0]["source"]
    good = {"slug": "bhyt", "kind": "faq", "id": "hop-le", "questions": "hỏi 1\nhỏi 2", "text": "Đáp", "source": source}
    rows = sheet(
        good,  # row 2
        {**good, "id": "mot-cau", "questions": "chỉ một câu"},  # row 3
        {**good, "slug": "khong-co"},  # row 4
        {**good, "kind": "bảng"},  # row 5
        {**good, "id": "hop-le"},  # row 6: duplicate of row 2
        {"slug": "bhyt", "kind": "document", "text": ""},  # row 7: no name
        {"slug": "bhyt", "kind": "document", "text": "Giấy", "confirm": "có lẽ"},  # row 8
        {**good, "id": "Sai Ma"},  # row 9: schema pattern
        {**good, "id": "nguon-la", "source": "NGUON-LA"},  # row 10: source not listed
        kind=kind,
    )
    assert errors_of(rows, live) == [
        (3, "questions"),
        (4, "slug"),
        (5, "kind"),
        (6, "id"),
        (7, "text"),
        (8, "confirm"),
        (9, "id"),
        (10, "source"),
    ]


def test_a_header_without_the_columns_is_refused():
    with pytest.raises(sheets.SheetError) as refused:
        sheets.read_csv("slug,kind,văn bản\r\n".encode("utf-8"))
    assert (1, "văn bản") in [(e["row"], e["column"]) for e in refused.value.errors]
    assert (1, "questions") in [(e["row"], e["column"]) for e in refused.value.errors]


@pytest.mark.parametrize("data", [b"PK\x03\x04 not really a zip", b"\x00" * 100])
def test_a_file_that_is_not_an_xlsx_is_a_sheet_error(data):
    with pytest.raises(sheets.SheetError):
        sheets.read_xlsx(data)


def test_a_sheet_declaring_too_many_rows_is_refused():
    book = openpyxl.Workbook()
    book.active.append(sheets.HEADER)
    book.active.cell(row=sheets.MAX_ROWS + 5, column=1, value="bhyt")  # a tiny file, a huge sheet
    content = io.BytesIO()
    book.save(content)
    with pytest.raises(sheets.SheetError, match="quá nhiều dòng"):
        sheets.read_xlsx(content.getvalue())
    with pytest.raises(sheets.SheetError, match="quá nhiều dòng"):
        sheets.read_csv(",".join(sheets.COLUMNS).encode() + b"\r\n" * (sheets.MAX_ROWS + 5))


def test_a_mangled_xlsx_is_refused_as_a_sheet_error_never_a_crash(live):
    original = sheets.write_xlsx(sheets.rows_of(live.values()))
    rng = random.Random(13)
    for attempt in range(60):
        mangled = bytearray(original[: rng.randrange(len(original))] if attempt % 3 == 0 else original)
        for _ in range(8):
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        try:
            sheets.read_xlsx(bytes(mangled))
        except sheets.SheetError as refused:
            assert refused.message
