"""Import and export of the knowledge: spreadsheets of FAQ entries and document lines
(bot.admin.sheets) and the YAML files of the `knowledge/` layout.

An import is validated as a whole before anything is written: a dry run lists what would change
(a summary and a YAML diff per entry); applying publishes every changed entry in one transaction,
so an invalid file changes nothing. Entries whose content is already the file's are left alone
(no new revision). Uploads are bounded: MAX_UPLOAD_BYTES, and for zips (an XLSX is one) the
unpacked size and the member count.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.admin import sheets
from bot.console.auth import Principal
from bot.knowledge import loader, publish
from bot.knowledge.files import KnowledgeError, read_canned, read_offices, read_procedure, yaml_diff
from bot.knowledge.schema import SLUG_RE
from bot.knowledge.store import CANNED_SLUG, OFFICES_SLUG, today
from bot.storage.db import session_scope
from bot.storage.models import KnowledgeEntry

MAX_UPLOAD_BYTES = 5 * 1024 * 1024  # the route's cap in bot/app.py's BodyCap
MAX_UNPACKED_BYTES = 50 * 1024 * 1024
MAX_MEMBERS = 2000
# Where a YAML file of the knowledge/ layout goes, wherever the zip puts that folder.
PROCEDURE_MEMBER = re.compile(r"(?:^|/)procedures/([a-z0-9]+(?:-[a-z0-9]+)*)\.ya?ml$")
SINGLE_FILES = {"offices.yaml": (OFFICES_SLUG, read_offices), "canned_replies.yaml": (CANNED_SLUG, read_canned)}
# What zipfile raises on a damaged archive (an unsupported method or version, an encrypted member, bad data).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, ValueError, OSError, EOFError)
MEDIA_TYPES = {
    "csv": "text/csv; charset=utf-8",
    "zip": "application/zip",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


class TransferError(Exception):
    """Why an upload was refused (nothing was written): `errors` name the rows, files and fields."""

    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or []


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes
    revisions: dict[str, int] | None  # what the dry run showed; applying refuses if one has moved on


@dataclass(frozen=True)
class Live:
    kind: str
    revision: int
    data: dict[str, Any]


# --- export ---------------------------------------------------------------------------------


def export(kind: str) -> tuple[str, bytes]:
    """(file name, content) of an export: "csv", "xlsx" or "zip"."""
    if kind == "zip":
        content = _export_zip()
    else:
        with session_scope() as session:
            rows = sheets.rows_of(
                row.data
                for row in session.scalars(
                    select(KnowledgeEntry).where(KnowledgeEntry.kind == "procedure").order_by(KnowledgeEntry.slug)
                )
            )
        content = sheets.write_csv(rows) if kind == "csv" else sheets.write_xlsx(rows)
    return f"kien-thuc-{today().isoformat()}.{kind}", content


def _export_zip() -> bytes:
    out = io.BytesIO()
    with tempfile.TemporaryDirectory() as folder, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        root = Path(folder)
        loader.export(root)
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            archive.write(path, path.relative_to(root).as_posix())
    return out.getvalue()


# --- the upload -----------------------------------------------------------------------------


def read_upload(content_type: str, body: bytes) -> Upload:
    """The `file` part (and the optional `revisions` part) of a multipart/form-data body (its size
    is capped before it is read, by the gateway's BodyCap)."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise TransferError(415, "Anh/chị gửi tệp qua biểu mẫu tải lên (multipart/form-data).")
    header = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=policy.HTTP).parsebytes(header + body)
    parts = {
        part.get_param("name", header="content-disposition"): part
        for part in (message.iter_parts() if message.is_multipart() else [])
    }
    file = parts.get("file")
    if file is None or not file.get_filename():
        raise TransferError(422, "Chưa có tệp để nhập.")
    return Upload(file.get_filename(), file.get_payload(decode=True) or b"", _revisions(parts.get("revisions")))


def _revisions(part) -> dict[str, int] | None:
    if part is None:
        return None
    try:
        given = json.loads(part.get_payload(decode=True) or b"")
    except ValueError:
        given = None
    if not isinstance(given, dict) or not all(isinstance(v, int) and not isinstance(v, bool) for v in given.values()):
        raise TransferError(422, "Trường revisions phải là một đối tượng JSON {mã: số phiên bản}.")
    return given


def _suffix(filename: str) -> str:
    return filename.rsplit(".", 1)[-1].lower() if "." in filename else ""


def _archive(data: bytes, what: str) -> zipfile.ZipFile:
    """A zip (or XLSX) small enough once unpacked; a zip bomb or a non-zip is a 422."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except ZIP_ERRORS as exc:
        raise TransferError(422, f"Tệp {what} bị hỏng hoặc không đúng định dạng.") from exc
    members = archive.infolist()
    if len(members) > MAX_MEMBERS or sum(m.file_size for m in members) > MAX_UNPACKED_BYTES:
        raise TransferError(422, f"Tệp {what} quá lớn khi giải nén.")
    return archive


# --- drafts: what the upload says each entry should be -----------------------------------


def drafts_of(upload: Upload, live: dict[str, Live]) -> dict[str, dict[str, Any]]:
    """The entries the upload would publish, by slug; TransferError if anything in it is invalid."""
    kind = _suffix(upload.filename)
    if kind in ("csv", "xlsx"):
        procedures = {slug: entry.data for slug, entry in live.items() if entry.kind == "procedure"}
        try:
            if kind == "xlsx":
                _archive(upload.data, "XLSX").close()
                rows = sheets.read_xlsx(upload.data)
            else:
                rows = sheets.read_csv(upload.data)
            return sheets.entries_of(rows, procedures)
        except sheets.SheetError as error:
            raise TransferError(422, error.message, error.errors) from error
    if kind in ("yaml", "yml"):
        return _yaml_drafts({Path(upload.filename).name: upload.data}, live)
    if kind == "zip":
        return _yaml_drafts(_members(upload.data), live)
    raise TransferError(415, "Chỉ nhận tệp .csv, .xlsx, .yaml hoặc .zip.")


def _members(data: bytes) -> dict[str, bytes]:
    """The zip's knowledge files by their name in the zip; other files (outside/, training/) are
    not entries of the database and are skipped."""
    with _archive(data, "zip") as archive:
        names = [m.filename for m in archive.infolist() if not m.is_dir() and _destination(m.filename)]
        try:
            return {name: archive.read(name) for name in names}
        except ZIP_ERRORS as exc:
            raise TransferError(422, "Tệp zip bị hỏng hoặc không đúng định dạng.") from exc


def _destination(name: str) -> str | None:
    """Where a zip member or an uploaded file lies in the knowledge/ layout, if it is an entry."""
    if "__MACOSX" in name:
        return None
    found = PROCEDURE_MEMBER.search(name)
    if found:
        return f"procedures/{found.group(1)}.yaml"
    base = name.rsplit("/", 1)[-1]
    return base if base in SINGLE_FILES else None


def _yaml_drafts(files: dict[str, bytes], live: dict[str, Live]) -> dict[str, dict[str, Any]]:
    """Reads each file with the knowledge files' readers (their errors name the field and line)."""
    if not files:
        raise TransferError(
            422, "Tệp zip không có tệp kiến thức nào (procedures/*.yaml, offices.yaml, canned_replies.yaml)."
        )
    drafts: dict[str, dict[str, Any]] = {}
    errors, targets = [], set()
    with tempfile.TemporaryDirectory() as folder:
        for name, data in files.items():
            target = _destination(name) or f"procedures/{_peek_slug(data)}.yaml"  # a single uploaded file
            if target in targets:
                errors.append({"file": name, "row": None, "column": None, "error": "tệp bị lặp trong tệp zip"})
                continue
            targets.add(target)
            path = Path(folder) / target
            path.parent.mkdir(exist_ok=True)
            path.write_bytes(data)
            try:
                slug, entry = _read(path)
            except KnowledgeError as error:
                errors.append({"file": name, "row": error.line, "column": error.field or None, "error": error.message})
                continue
            except UnicodeDecodeError:
                errors.append({"file": name, "row": None, "column": None, "error": "tệp phải được lưu với mã UTF-8"})
                continue
            if slug not in live:
                errors.append(
                    {
                        "file": name,
                        "row": 1,
                        "column": "slug",
                        "error": f"không có thủ tục «{slug}» trong cơ sở dữ liệu (thêm thủ tục mới bằng kb load)",
                    }
                )
                continue
            drafts[slug] = entry
    if errors:
        raise TransferError(422, "Tệp có nội dung không hợp lệ; chưa có gì được nhập.", errors)
    return drafts


def _read(path: Path) -> tuple[str, dict[str, Any]]:
    if path.parent.name == "procedures":
        entry = read_procedure(path)
        return entry.slug, entry.model_dump(mode="json")
    slug, reader = SINGLE_FILES[path.name]
    return slug, reader(path).model_dump(mode="json")


def _peek_slug(data: bytes) -> str:
    """The file name a single uploaded procedure is read under: its own slug (a browser may have
    saved it as "bhyt (1).yaml"); the reader reports a bad or missing one."""
    try:
        content = yaml.safe_load(data)
    except (yaml.YAMLError, UnicodeDecodeError):
        return "upload"
    slug = content.get("slug") if isinstance(content, dict) else None
    return slug if isinstance(slug, str) and SLUG_RE.match(slug) else "upload"


# --- changes --------------------------------------------------------------------------------


def _live(session: Session) -> dict[str, Live]:
    """Every entry as the schema reads it, to compare with a draft read the same way."""
    return {
        row.slug: Live(row.kind, row.revision, _as_schema(row.kind, row.data))
        for row in session.scalars(select(KnowledgeEntry))
    }


def _as_schema(kind: str, data: dict[str, Any]) -> dict[str, Any]:
    return publish.MODELS[kind].model_validate(data).model_dump(mode="json")


def _changes(drafts: dict[str, dict[str, Any]], live: dict[str, Live]) -> tuple[list[dict[str, Any]], list[str]]:
    changes, unchanged = [], []
    for slug, draft in sorted(drafts.items()):
        before = live[slug]
        after = _as_schema(before.kind, draft)
        if after == before.data:
            unchanged.append(slug)
            continue
        changes.append(
            {
                "slug": slug,
                "revision": before.revision,
                "summary": summary(before.data, after),
                "diff": yaml_diff(before.data, after, f"{slug} @{before.revision}", f"{slug} (tệp nhập)"),
                "entry": after,
            }
        )
    return changes, unchanged


def summary(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """What changed, a line each: "+ FAQ id: …", "~ tài liệu 2: …", "- …", "~ <field>"."""
    lines = _faq_summary(before.get("faq", []), after.get("faq", []))
    lines += _document_summary(before.get("documents", []), after.get("documents", []))
    lines += [
        f"~ {key}"
        for key in dict.fromkeys([*before, *after])
        if key not in ("faq", "documents") and before.get(key) != after.get(key)
    ]
    return lines


def _faq_summary(before: list[dict], after: list[dict]) -> list[str]:
    old, new = {f["id"]: f for f in before}, {f["id"]: f for f in after}
    lines = []
    for faq in after:
        previous = old.get(faq["id"])
        if previous is None:
            lines.append(f"+ FAQ {faq['id']}: {faq['questions'][0]}")
        elif previous != faq:
            parts = [
                label
                for key, label in (("questions", "câu hỏi"), ("answer", "câu trả lời"), ("source", "nguồn"))
                if previous[key] != faq[key]
            ]
            lines.append(f"~ FAQ {faq['id']}: {', '.join(parts)}")
    lines += [f"- FAQ {faq['id']}: {faq['questions'][0]}" for faq in before if faq["id"] not in new]
    if not lines and before != after:
        lines.append("~ FAQ: thứ tự")
    return lines


def _document_summary(before: list[dict], after: list[dict]) -> list[str]:
    lines = []
    for position in range(max(len(before), len(after))):
        if position >= len(before):
            lines.append(f"+ tài liệu {position + 1}: {after[position]['name']}")
        elif position >= len(after):
            lines.append(f"- tài liệu {position + 1}: {before[position]['name']}")
        elif before[position] != after[position]:
            lines.append(f"~ tài liệu {position + 1}: {after[position]['name']}")
    return lines


def _shown(changes: list[dict[str, Any]], unchanged: list[str]) -> dict[str, Any]:
    return {
        "changes": [{k: v for k, v in c.items() if k != "entry"} for c in changes],
        "unchanged": unchanged,
        "errors": [],
    }


def preview(upload: Upload) -> dict[str, Any]:
    """The dry run: what the upload would change; nothing is written."""
    with session_scope() as session:
        live = _live(session)
    return _shown(*_changes(drafts_of(upload, live), live))


def apply(upload: Upload, who: Principal) -> dict[str, Any]:
    """Publishes every change of the upload in one transaction (all or nothing); each change
    gets its `new_revision`."""
    with session_scope() as session:
        live = _live(session)
        changes, unchanged = _changes(drafts_of(upload, live), live)
        if upload.revisions is not None and upload.revisions != {c["slug"]: c["revision"] for c in changes}:
            raise TransferError(409, "Nội dung đã thay đổi từ lần xem trước; anh/chị bấm «Xem trước» lại.")
        try:
            for change in changes:
                change["new_revision"] = publish.publish(
                    session,
                    change["slug"],
                    change["entry"],
                    actor_id=who.volunteer_id,
                    author=who.name,
                    expected_revision=change["revision"],
                    origin="staff",
                    action="knowledge.import",
                )
        except publish.PublishError as error:
            raise TransferError(error.status, error.message) from error
    return _shown(changes, unchanged)
