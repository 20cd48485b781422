"""Import and export on the real stack: spreadsheet exports import back with no change, a YAML zip
export gives back equal entries, a dry run shows a change without writing it, applying publishes it
as a staff revision, and a bad file changes nothing at all."""

from __future__ import annotations

import csv
import io
import json
import random
import re
import zipfile

import httpx
import pytest
from sqlalchemy import select

from bot.admin import sheets, transfer
from bot.storage.db import session_scope
from bot.storage.models import AuditEntry, KnowledgeEntry, KnowledgeRevision
from tests.conftest import ROOT
from tests.integration.people import Console

SLUG = "bhyt"
NEW_ANSWER = "Câu trả lời thử nghiệm của việc nhập bảng tính."
NEW_DOCUMENT = "Giấy tờ thử nghiệm của việc nhập bảng tính"


@pytest.fixture(scope="module")
def staff(stack) -> Console:
    return Console(stack.gateway_url, "Lan", role="staff", online=False)


def live() -> dict[str, tuple[int, dict]]:
    with session_scope() as session:
        return {row.slug: (row.revision, row.data) for row in session.scalars(select(KnowledgeEntry))}


def revisions() -> dict[str, int]:
    return {slug: revision for slug, (revision, _) in live().items()}


def upload(person: Console, name: str, content: bytes, dry_run: bool = True, **form: str) -> httpx.Response:
    return person.http.post(
        f"/admin/api/import?dry_run={str(dry_run).lower()}",
        files={"file": (name, content)},
        data=form,
        headers={"X-CSRF-Token": person.csrf},
    )


def exported(person: Console, kind: str) -> bytes:
    response = person.http.get(f"/admin/api/export.{kind}")
    assert response.status_code == 200, response.text
    return response.content


def csv_rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def csv_of(rows: list[list[str]]) -> bytes:
    out = io.StringIO(newline="")
    csv.writer(out).writerows(rows)
    return out.getvalue().encode("utf-8-sig")


@pytest.mark.parametrize("kind, media", [("csv", "text/csv"), ("xlsx", "spreadsheetml"), ("zip", "application/zip")])
def test_exports_are_dated_attachments(staff, kind, media):
    response = staff.http.get(f"/admin/api/export.{kind}")
    assert response.status_code == 200 and media in response.headers["content-type"]
    assert re.fullmatch(
        rf'attachment; filename="kien-thuc-\d{{4}}-\d{{2}}-\d{{2}}\.{kind}"', response.headers["content-disposition"]
    )


@pytest.mark.parametrize("kind", ["csv", "xlsx"])
def test_a_spreadsheet_export_then_import_changes_nothing(staff, kind):
    before = revisions()
    content = exported(staff, kind)
    for dry_run in (True, False):
        response = upload(staff, f"kien-thuc.{kind}", content, dry_run=dry_run)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["changes"] == [] and body["errors"] == []
        assert SLUG in body["unchanged"] and len(body["unchanged"]) > 10
    assert revisions() == before


def test_a_yaml_zip_export_then_import_gives_back_equal_entries(staff, restores):
    snapshot = live()
    content = exported(staff, "zip")
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        names = set(archive.namelist())
    assert {"offices.yaml", "canned_replies.yaml", f"procedures/{SLUG}.yaml"} <= names
    restores(SLUG)
    rows = csv_rows(exported(staff, "csv"))
    first_faq = next(r for r in rows if r[:2] == [SLUG, "faq"])
    first_faq[4] = NEW_ANSWER
    assert upload(staff, "sua.csv", csv_of(rows), dry_run=False).status_code == 200
    assert live()[SLUG][1] != snapshot[SLUG][1]

    response = upload(staff, "kien-thuc.zip", content, dry_run=False)
    assert response.status_code == 200, response.text
    assert [c["slug"] for c in response.json()["changes"]] == [SLUG]
    assert {slug: data for slug, (_, data) in live().items()} == {slug: data for slug, (_, data) in snapshot.items()}


def test_a_single_yaml_file_is_read_with_its_line_and_field(staff):
    with zipfile.ZipFile(io.BytesIO(exported(staff, "zip"))) as archive:
        text = archive.read(f"procedures/{SLUG}.yaml").decode()
    response = upload(staff, f"{SLUG} (1).yaml", text.encode())
    assert response.status_code == 200 and response.json()["unchanged"] == [SLUG]
    broken = text.replace("category:", "category_typo:", 1)
    response = upload(staff, f"{SLUG}.yaml", broken.encode())
    assert response.status_code == 422
    error = response.json()["errors"][0]
    assert error["file"] == f"{SLUG}.yaml" and error["row"] and error["column"] in ("category", "category_typo")


def test_a_dry_run_shows_the_change_and_applying_publishes_it(staff, restores):
    restores(SLUG)
    before = live()
    rows = csv_rows(exported(staff, "csv"))
    faq_row = next(r for r in rows if r[:2] == [SLUG, "faq"])
    faq_row[4] = NEW_ANSWER
    documents = [r for r in rows if r[:2] == [SLUG, "document"]]
    rows.insert(rows.index(documents[-1]) + 1, [SLUG, "document", "", "", NEW_DOCUMENT, "", "có", ""])
    edited = csv_of(rows)

    preview = upload(staff, "sua.csv", edited)
    assert preview.status_code == 200, preview.text
    [change] = preview.json()["changes"]
    assert change["slug"] == SLUG and change["revision"] == before[SLUG][0]
    assert change["summary"] == [f"~ FAQ {faq_row[2]}: câu trả lời", f"+ tài liệu {len(documents) + 1}: {NEW_DOCUMENT}"]
    assert f"+  answer: {NEW_ANSWER}" in change["diff"] and f"+- name: {NEW_DOCUMENT}" in change["diff"]
    assert live() == before  # a dry run writes nothing

    stale = upload(staff, "sua.csv", edited, dry_run=False, revisions=json.dumps({SLUG: before[SLUG][0] - 1}))
    assert stale.status_code == 409 and live() == before

    applied = upload(staff, "sua.csv", edited, dry_run=False, revisions=json.dumps({SLUG: change["revision"]}))
    assert applied.status_code == 200, applied.text
    assert applied.json()["changes"][0]["new_revision"] == before[SLUG][0] + 1
    after = live()
    assert after[SLUG][1]["documents"][-1] == {"name": NEW_DOCUMENT, "note": None, "confirm": True}
    assert {s: r for s, (r, _) in after.items() if s != SLUG} == {s: r for s, (r, _) in before.items() if s != SLUG}
    with session_scope() as session:
        published = session.scalar(
            select(KnowledgeRevision).where(
                KnowledgeRevision.slug == SLUG, KnowledgeRevision.revision == before[SLUG][0] + 1
            )
        )
        assert (published.origin, published.author) == ("staff", "Lan")
        assert session.get(KnowledgeEntry, SLUG).origin == "staff"
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.target == SLUG, AuditEntry.actor_id == staff.id)
        ).all()
        assert ("knowledge.import", before[SLUG][0] + 1) in [(a.action, a.detail["revision"]) for a in audit]


def test_a_bad_spreadsheet_is_refused_with_its_rows_and_changes_nothing(staff):
    before = live()
    rows = csv_rows(exported(staff, "csv"))
    header, body = rows[0], rows[1:]
    other = next(r for r in body if r[0] != SLUG and r[1] == "faq")
    other[4] = NEW_ANSWER  # a valid change of another procedure: not applied either
    faq_rows = [r for r in body if r[:2] == [SLUG, "faq"]]
    faq_rows[0][3] = "chỉ một cách hỏi"
    faq_rows[1][2] = faq_rows[0][2]
    document = next(r for r in body if r[:2] == [SLUG, "document"])
    document[4] = ""
    body.append(["khong-co-thu-tuc", "faq", "moi", "hỏi 1\nhỏi 2", "đáp", "", "", "general"])
    body.append([SLUG, "bảng", "", "", "", "", "", ""])
    numbered = {id(r): n for n, r in enumerate(body, start=2)}

    for dry_run in (True, False):
        response = upload(staff, "sai.csv", csv_of([header, *body]), dry_run=dry_run)
        assert response.status_code == 422
        refused = response.json()
        assert refused["error"]
        assert [(e["row"], e["column"]) for e in refused["errors"]] == sorted(
            [
                (numbered[id(faq_rows[0])], "questions"),
                (numbered[id(faq_rows[1])], "id"),
                (numbered[id(document)], "text"),
                (len(body), "slug"),
                (len(body) + 1, "kind"),
            ]
        )
    assert live() == before


def test_files_that_cannot_be_read_are_refused_with_a_4xx(staff):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("procedures/bhyt.yaml", b"\0" * (transfer.MAX_UNPACKED_BYTES + 1))
    assert upload(staff, "bom.zip", bomb.getvalue()).status_code == 422
    assert upload(staff, "bom.xlsx", bomb.getvalue()).status_code == 422
    assert upload(staff, "hong.zip", b"not a zip at all").status_code == 422
    assert upload(staff, "hong.xlsx", b"PK\x03\x04 not an xlsx").status_code == 422
    assert upload(staff, "hong.csv", b"\xff\xfe\x00 not utf-8").status_code == 422
    assert upload(staff, "tai-lieu.pdf", b"%PDF-1.4").status_code == 415
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").close()
    assert upload(staff, "trong.zip", empty.getvalue()).status_code == 422
    not_multipart = staff.http.post(
        "/admin/api/import", content=b"slug,kind", headers={"X-CSRF-Token": staff.csrf, "Content-Type": "text/csv"}
    )
    assert not_multipart.status_code == 415
    no_file = staff.http.post(
        "/admin/api/import", data={"x": "1"}, files={"other": ("a.csv", b"")}, headers={"X-CSRF-Token": staff.csrf}
    )
    assert no_file.status_code == 422


def test_a_mangled_zip_is_refused_never_a_crash():
    """Bytes flipped anywhere in a zip of the knowledge/ layout: a TransferError (a 4xx), whatever breaks."""
    original = io.BytesIO()
    with zipfile.ZipFile(original, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.write(ROOT / "knowledge" / "procedures" / f"{SLUG}.yaml", f"knowledge/procedures/{SLUG}.yaml")
        archive.write(ROOT / "knowledge" / "offices.yaml", "knowledge/offices.yaml")
    rng = random.Random(13)
    for _ in range(60):
        mangled = bytearray(original.getvalue())
        for _ in range(4):
            mangled[rng.randrange(len(mangled))] = rng.randrange(256)
        with pytest.raises(transfer.TransferError) as refused:
            transfer.drafts_of(transfer.Upload("k.zip", bytes(mangled), None), live={})
        assert 400 <= refused.value.status < 500


def test_an_oversize_upload_is_refused_with_413(staff):
    before = revisions()
    response = upload(staff, "lon.csv", b"a" * (transfer.MAX_UPLOAD_BYTES + 1024), dry_run=False)
    assert response.status_code == 413
    assert revisions() == before


def test_who_may_export_and_import(stack, staff):
    content = sheets.write_csv([])
    exports = [f"/admin/api/export.{kind}" for kind in ("csv", "xlsx", "zip")]
    with httpx.Client(base_url=stack.gateway_url) as anonymous:
        assert [anonymous.get(path).status_code for path in exports] == [401] * 3
        assert anonymous.post("/admin/api/import", files={"file": ("a.csv", content)}).status_code == 401
    volunteer = Console(stack.gateway_url, "Minh", role="volunteer", online=False)
    assert [volunteer.http.get(path).status_code for path in exports] == [403] * 3
    assert upload(volunteer, "a.csv", content).status_code == 403
    admin = Console(stack.gateway_url, "Quan", role="admin", online=False)
    assert [admin.http.get(path).status_code for path in exports] == [200] * 3
    assert upload(admin, "a.csv", content).json() == {"changes": [], "unchanged": [], "errors": []}
    without_csrf = staff.http.post("/admin/api/import", files={"file": ("a.csv", content)})
    assert without_csrf.status_code == 403
    assert staff.http.get("/admin/api/export.pdf").status_code == 422
