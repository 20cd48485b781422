"""Procedures' FAQ entries and document lists as spreadsheet rows (CSV and XLSX), and back.

One row per FAQ entry or per document line. The header row names the columns; each header cell
starts with its stable key, optionally followed by a Vietnamese label in parentheses
("questions (Các cách hỏi)"); columns may come in any order.

| key         | faq row                                        | document row                          |
|-------------|------------------------------------------------|---------------------------------------|
| `slug`      | the procedure (must exist in the database)      | same                                  |
| `kind`      | `faq`                                          | `document`                            |
| `id`        | the FAQ id (`a-z`, `0-9`, `-`), unique per slug | its position 1..n (optional, not read) |
| `questions` | the phrasings, one per line (at least 2)        | empty                                 |
| `text`      | the answer                                     | the document's name                   |
| `note`      | empty                                          | the note (optional)                   |
| `confirm`   | empty                                          | `yes`/`no` (also 1/0, có/không; empty = no) |
| `source`    | the source id, listed in the procedure's `sources` | empty                             |

Import: for every slug present in the file, its FAQ list and its documents list become exactly the
file's rows of that slug and kind, in row order. A kind with no row of that slug in the file leaves
that list as it is (so a list cannot be emptied from a spreadsheet: use the editor). Cells are
trimmed; empty rows are skipped. Row numbers in errors are the spreadsheet's (the header is row 1).

CSV: UTF-8 with BOM, comma-separated (a semicolon-separated file, as some Excel locales save, is
read too), a header row, cells with line breaks quoted. XLSX: the sheet "knowledge" (or the first
sheet) with the header row.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import openpyxl

from bot.knowledge.publish import problems

COLUMNS = ("slug", "kind", "id", "questions", "text", "note", "confirm", "source")
LABELS = {
    "slug": "Mã thủ tục",
    "kind": "Loại: faq hoặc document",
    "id": "Mã câu hỏi hoặc số thứ tự",
    "questions": "Các cách hỏi - mỗi dòng một câu",
    "text": "Câu trả lời hoặc tên giấy tờ",
    "note": "Ghi chú giấy tờ",
    "confirm": "Cần xác nhận: yes hoặc no",
    "source": "Mã nguồn",
}
HEADER = [f"{key} ({LABELS[key]})" for key in COLUMNS]
SHEET = "knowledge"
MAX_ROWS, MAX_COLUMNS = 20_000, 50  # far above any real sheet; bounds what a crafted file costs
YES, NO = {"yes", "y", "1", "true", "có", "co", "x"}, {"no", "n", "0", "false", "không", "khong", ""}
# Which row column an entry's field comes from, to point a schema problem at a cell.
FAQ_FIELDS = {"id": "id", "questions": "questions", "answer": "text", "source": "source"}
DOCUMENT_FIELDS = {"name": "text", "note": "note", "confirm": "confirm"}
UNUSED = {"faq": ("note", "confirm"), "document": ("questions", "source")}


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet shows it: the header is row 1
    cells: dict[str, str]


class SheetError(Exception):
    """The file cannot be read as this format's spreadsheet, or some rows are invalid."""

    def __init__(self, message: str, errors: list[dict[str, Any]]):
        super().__init__(message)
        self.message, self.errors = message, errors


def problem(row: int | None, column: str | None, error: str) -> dict[str, Any]:
    return {"row": row, "column": column, "error": error}


# --- entries → rows -------------------------------------------------------------------------


def rows_of(procedures: Iterable[dict[str, Any]]) -> list[dict[str, str]]:
    """Every FAQ entry and document line of the procedures, in their order."""
    rows = []
    for data in procedures:
        for faq in data.get("faq", []):
            rows.append(
                row_cells(
                    slug=data["slug"],
                    kind="faq",
                    id=faq["id"],
                    questions="\n".join(faq["questions"]),
                    text=faq["answer"],
                    source=faq["source"],
                )
            )
        for position, document in enumerate(data.get("documents", []), start=1):
            rows.append(
                row_cells(
                    slug=data["slug"],
                    kind="document",
                    id=str(position),
                    text=document["name"],
                    note=document.get("note") or "",
                    confirm="yes" if document.get("confirm") else "no",
                )
            )
    return rows


def row_cells(**given: str) -> dict[str, str]:
    """A row with every column, empty unless given."""
    return {key: given.get(key, "") for key in COLUMNS}


def write_csv(rows: list[dict[str, str]]) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(HEADER)
    writer.writerows([row[key] for key in COLUMNS] for row in rows)
    return out.getvalue().encode("utf-8-sig")


def write_xlsx(rows: list[dict[str, str]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append(HEADER)
    for row in rows:
        sheet.append([row[key] for key in COLUMNS])
    for line in sheet.iter_rows():
        for cell in line:
            cell.data_type = "s"  # a text starting with "=" is a text, not a formula
    sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# --- files → rows ---------------------------------------------------------------------------


def read_csv(data: bytes) -> list[Row]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SheetError("Tệp CSV phải được lưu với mã UTF-8.", []) from exc
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") > first_line.count(",") else ","
    try:
        return _rows(_bounded(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)))
    except csv.Error as exc:
        raise SheetError("Không đọc được tệp CSV.", [problem(None, None, str(exc))]) from exc


def read_xlsx(data: bytes) -> list[Row]:
    """The caller has checked the archive's unpacked size (an XLSX file is a zip)."""
    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
        records = _bounded(
            [_text(value) for value in line] for line in sheet.iter_rows(max_col=MAX_COLUMNS, values_only=True)
        )
        book.close()
    except SheetError:
        raise
    except Exception as exc:  # noqa: BLE001 — whatever the parser trips on in an uploaded file is the file's fault
        raise SheetError("Không đọc được tệp XLSX.", [problem(None, None, str(exc) or type(exc).__name__)]) from exc
    return _rows(records)


def _bounded(records: Iterable[list[str]]) -> list[list[str]]:
    """The records, refused past MAX_ROWS: a small file may declare a million empty rows."""
    kept = []
    for record in records:
        if len(kept) == MAX_ROWS:
            raise SheetError(f"Tệp có quá nhiều dòng (tối đa {MAX_ROWS}).", [])
        kept.append(record)
    return kept


def _text(value: Any) -> str:
    """A cell as text: a number typed as 1 reads as "1", not "1.0"."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _rows(records: list[list[str]]) -> list[Row]:
    if not records:
        raise SheetError("Tệp không có dòng tiêu đề.", [problem(1, None, "thiếu dòng tiêu đề")])
    keys = [cell.split("(", 1)[0].strip().lower() for cell in records[0]]
    errors = [problem(1, key, "cột không được biết") for key in keys if key and key not in COLUMNS]
    errors += [problem(1, key, "thiếu cột này") for key in COLUMNS if key not in keys]
    errors += [problem(1, key, "cột bị lặp") for key in COLUMNS if keys.count(key) > 1]
    if errors:
        raise SheetError("Dòng tiêu đề không đúng mẫu.", errors)
    rows = []
    for number, record in enumerate(records[1:], start=2):
        cells = {key: (record[i].strip() if i < len(record) else "") for i, key in enumerate(keys) if key}
        if any(cells.values()):
            rows.append(Row(number, cells))
    return rows


# --- rows → entries -------------------------------------------------------------------------


def entries_of(rows: list[Row], live: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Each slug of the rows with its FAQ and documents replaced by its rows; `live` holds the
    procedures' current content. Raises SheetError naming every bad row and column."""
    errors: list[dict[str, Any]] = []
    by_slug: dict[str, dict[str, list[Row]]] = {}
    faq_ids: set[tuple[str, str]] = set()
    for row in rows:
        slug, kind = row.cells["slug"], row.cells["kind"].lower()
        found = _row_errors(row, kind, live)
        if kind == "faq" and row.cells["id"]:
            if (slug, row.cells["id"]) in faq_ids:
                found.append(problem(row.number, "id", f"mã câu hỏi «{row.cells['id']}» bị lặp trong thủ tục này"))
            faq_ids.add((slug, row.cells["id"]))
        errors += found
        if not found:
            by_slug.setdefault(slug, {}).setdefault(kind, []).append(row)
    drafts = {}
    for slug, kinds in by_slug.items():
        draft = dict(live[slug])
        if "faq" in kinds:
            draft["faq"] = [_faq(row) for row in kinds["faq"]]
        if "document" in kinds:
            draft["documents"] = [_document(row) for row in kinds["document"]]
        errors += [_locate(p, kinds) for p in problems(slug, draft)]
        drafts[slug] = draft
    if errors:
        raise SheetError("Tệp có dòng không hợp lệ; chưa có gì được nhập.", sorted(errors, key=_position))
    return drafts


def _position(error: dict[str, Any]) -> tuple[int, int]:
    return error["row"] or 0, COLUMNS.index(error["column"]) if error["column"] in COLUMNS else -1


def _row_errors(row: Row, kind: str, live: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    cells, n = row.cells, row.number
    errors = []
    if not cells["slug"]:
        errors.append(problem(n, "slug", "thiếu mã thủ tục"))
    elif cells["slug"] not in live:
        errors.append(problem(n, "slug", f"không có thủ tục «{cells['slug']}» trong cơ sở dữ liệu"))
    if kind not in UNUSED:
        return errors + [problem(n, "kind", "loại phải là faq hoặc document")]
    errors += [problem(n, column, f"cột này để trống ở dòng loại {kind}") for column in UNUSED[kind] if cells[column]]
    if kind == "faq":
        if not cells["id"]:
            errors.append(problem(n, "id", "thiếu mã câu hỏi"))
        if len(_questions(cells["questions"])) < 2:
            errors.append(problem(n, "questions", "cần ít nhất 2 cách hỏi, mỗi cách hỏi một dòng"))
        if not cells["text"]:
            errors.append(problem(n, "text", "thiếu câu trả lời"))
        if not cells["source"]:
            errors.append(problem(n, "source", "thiếu mã nguồn"))
        elif cells["slug"] in live and cells["source"] not in _source_ids(live[cells["slug"]]):
            errors.append(problem(n, "source", f"nguồn «{cells['source']}» không có trong mục sources của thủ tục"))
    else:
        if cells["id"] and not (cells["id"].isdigit() and int(cells["id"]) >= 1):
            errors.append(problem(n, "id", "số thứ tự của giấy tờ phải là số từ 1"))
        if not cells["text"]:
            errors.append(problem(n, "text", "thiếu tên giấy tờ"))
        if cells["confirm"].lower() not in YES | NO:
            errors.append(problem(n, "confirm", "ghi yes hoặc no"))
    return errors


def _source_ids(procedure: dict[str, Any]) -> set[str]:
    return {source["id"] for source in procedure.get("sources", [])} | {"general"}


def _questions(cell: str) -> list[str]:
    return [line.strip() for line in cell.splitlines() if line.strip()]


def _faq(row: Row) -> dict[str, Any]:
    cells = row.cells
    return {
        "id": cells["id"],
        "questions": _questions(cells["questions"]),
        "answer": cells["text"],
        "source": cells["source"],
    }


def _document(row: Row) -> dict[str, Any]:
    cells = row.cells
    return {"name": cells["text"], "note": cells["note"] or None, "confirm": cells["confirm"].lower() in YES}


def _locate(found: dict[str, str], kinds: dict[str, list[Row]]) -> dict[str, Any]:
    """A schema problem of a draft at the row and column it came from ("faq.2.id" → the third FAQ
    row's id); a problem of the whole entry at the slug's first row."""
    path = found["field"].split(".")
    lists = {"faq": (kinds.get("faq", []), FAQ_FIELDS), "documents": (kinds.get("document", []), DOCUMENT_FIELDS)}
    if len(path) >= 3 and path[0] in lists and path[1].isdigit() and int(path[1]) < len(lists[path[0]][0]):
        rows, columns = lists[path[0]]
        return problem(rows[int(path[1])].number, columns.get(path[2]), found["error"])
    first = min((rows[0] for rows in kinds.values()), key=lambda row: row.number)
    return problem(first.number, None, f"{found['field']}: {found['error']}" if found["field"] else found["error"])
