"""The knowledge entries against their sources (`../shared/sources/procedure_facts.yaml`).

Every check is a plain function over (entry, facts text) so that each test can also feed it a
deliberately wrong value and show that the check catches it:
- `online.level` is `full` exactly where the facts say the procedure is "toàn trình";
- every fee amount and every day/hour/month/year count of an entry appears in its facts;
- every entry has a `spoken_name`;
- the outside topics validate and none of their terms is how citizens name one of our entries.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from bot.knowledge.files import read_procedure
from bot.knowledge.schema import Outside, Procedure
from bot.text import fold, normalize

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared"
PROCEDURES = ROOT / "knowledge" / "procedures"
TOPICS = ROOT / "knowledge" / "outside" / "topics.yaml"

# A facts text "says toàn trình" when it names it and does not also say it is partial, unconfirmed
# or contradicted (dang_ky_xe: first registration toàn trình, transfer MỘT PHẦN → not full).
_NOT_FULL = ("mot phan", "chua xac nhan", "mau thuan", "chua thong nhat", "khong truc tuyen")
_MONEY = re.compile(r"(?<![\d.,])\d{1,3}(?:\.\d{3})+(?![\d.,])")
_DURATION = re.compile(r"(?<![\d.,/])(\d+)\s+(ngày|giờ|tháng|năm)(?!\w)")
_LEADING_ZERO = re.compile(r"(?<![\d.,])0+(?=\d)")


# --- reading ---------------------------------------------------------------------------------


def _shared(name: str) -> Path:
    path = SHARED / name
    if not path.exists():
        pytest.skip(f"shared/{name} is not beside the repository")
    return path


@lru_cache(maxsize=1)
def _facts_by_id() -> dict[str, dict]:
    data = yaml.safe_load(_shared("sources/procedure_facts.yaml").read_text(encoding="utf-8"))
    return {record["id"]: record for record in data["procedures"]}


@lru_cache(maxsize=1)
def _facts_ids() -> dict[str, list[str]]:
    """Catalogue slug → facts ids (empty for `-`)."""
    with _shared("catalogue.tsv").open(encoding="utf-8") as handle:
        rows = csv.DictReader(handle, delimiter="\t")
        return {
            row["slug"]: [i.strip() for i in row["facts_id"].split(";") if i.strip() not in ("", "-")] for row in rows
        }


@lru_cache(maxsize=1)
def _entries() -> tuple[Procedure, ...]:
    return tuple(read_procedure(p) for p in sorted(PROCEDURES.glob("*.yaml")))


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, (list, tuple)):
        return [s for v in value for s in _strings(v)]
    return []


def facts_text(slug: str) -> str:
    return "\n".join(s for i in _facts_ids().get(slug, []) for s in _strings(_facts_by_id()[i]))


def online_facts(slug: str) -> str:
    return "\n".join(_facts_by_id()[i].get("muc_do_truc_tuyen") or "" for i in _facts_ids().get(slug, []))


def entry_text(entry: Procedure) -> str:
    """Every text a citizen may be shown (sources, codes and dates left out)."""
    data = entry.model_dump(mode="python", exclude={"sources", "codes", "reviewed_at", "slug"})
    return "\n".join(_strings(data))


def _plain(text: str) -> str:
    """NFC, single spaces, no leading zeros in counts ("03 ngày" = "3 ngày"), en dashes as hyphens."""
    text = unicodedata.normalize("NFC", text).replace("\u00a0", " ").replace("–", "-")
    return _LEADING_ZERO.sub("", re.sub(r"\s+", " ", text))


def _folded(text: str) -> str:
    return f" {fold(normalize(text))} "


# --- checks ----------------------------------------------------------------------------------


def says_full(online_text: str) -> bool:
    folded = _folded(online_text)
    return " toan trinh " in folded and not any(f" {n} " in folded for n in _NOT_FULL)


def online_level_problem(entry: Procedure, facts_online: str) -> str | None:
    full = says_full(facts_online)
    if entry.online.level == "full" and not full:
        return f"{entry.slug}: online.level is full but the facts do not say toàn trình: {facts_online[:120]!r}"
    if full and entry.online.level != "full":
        return f"{entry.slug}: the facts say toàn trình but online.level is {entry.online.level}"
    return None


def online_wording_problem(entry: Procedure) -> str | None:
    """The online text must not contradict the level."""
    folded = _folded(" ".join(filter(None, [entry.online.text, entry.online.in_person_reason])))
    if entry.online.level == "full" and any(f" {w} " in folded for w in ("mot phan", "chua xac nhan")):
        return f"{entry.slug}: a full level worded as partial or unconfirmed"
    if entry.online.level != "full" and " toan trinh " in folded:
        return f"{entry.slug}: a {entry.online.level} level worded as toàn trình"
    return None


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".")


def missing_amounts(entry: Procedure, facts: str) -> list[str]:
    """Fee amounts of the entry (amounts_vnd and money figures in any text) that its facts lack."""
    plain, folded = _plain(facts), _folded(facts)
    missing = []
    for label, amount in entry.fee.amounts_vnd.items():
        if amount == 0:
            if not (" 0 dong " in folded or " mien" in folded or " khong thu" in folded):
                missing.append(f"{label}: 0")
        elif _vnd(amount) not in plain:
            missing.append(f"{label}: {_vnd(amount)}")
    for figure in _MONEY.findall(_plain(entry_text(entry))):
        if figure not in plain:
            missing.append(figure)
    return missing


def _stated(count: str, unit: str, plain_facts: str) -> bool:
    """ "17 ngày" is stated by "17 ngày" or by a list sharing one unit ("trực tuyến 17, bưu chính 20,
    trực tiếp 27 ngày"; "9/15/19/26 ngày")."""
    number = rf"(?<![\d.,/]){count}"
    if re.search(rf"{number}\s+{unit}(?!\w)", plain_facts):
        return True
    return bool(re.search(rf"{number}(?=[,/-])[^.;\n]{{0,40}}?(?<![\d.,])\d+\s+{unit}(?!\w)", plain_facts))


def missing_durations(entry: Procedure, facts: str) -> list[str]:
    """Day/hour/month/year counts of the entry that its facts lack."""
    plain = _plain(facts)
    found = set(_DURATION.findall(_plain(entry_text(entry))))
    return sorted(f"{n} {unit}" for n, unit in found if not _stated(n, unit, plain))


def term_clashes(outside: Outside, entries: tuple[Procedure, ...]) -> list[str]:
    """Topic terms that are (or are part of) the way citizens name one of our entries."""
    names = [(e.slug, _folded(n)) for e in entries for n in [e.title, *e.aliases, e.spoken_name or ""] if n.strip()]
    clashes = []
    for topic in outside.topics:
        for term in topic.terms:
            folded = _folded(term)
            for slug, name in names:
                if folded == name or folded in name:
                    clashes.append(f"{topic.name}: {term!r} names {slug} ({name.strip()!r})")
    return clashes


def in_scope_hits(phrases: list[tuple[str, str]], entries: tuple[Procedure, ...]) -> list[str]:
    """Exclusion phrases (a topic's term, an entry's `not_covered`) found inside a question one of
    our entries answers (its title, aliases and FAQ questions). Both kinds decline any question that
    contains them, whichever entry it is about, so such a phrase would decline an in-scope question."""
    asked = [
        (e.slug, _folded(q)) for e in entries for q in [e.title, *e.aliases, *(q for f in e.faq for q in f.questions)]
    ]
    hits = []
    for owner, phrase in phrases:
        folded = _folded(phrase)
        hits += [
            f"{owner}: {phrase!r} is in a question {slug} answers: {q.strip()!r}" for slug, q in asked if folded in q
        ]
    return hits


def exclusion_phrases(entries: tuple[Procedure, ...], outside: Outside) -> list[tuple[str, str]]:
    return [(f"topic {t.name}", term) for t in outside.topics for term in t.terms] + [
        (f"{e.slug} not_covered", p) for e in entries for p in e.not_covered
    ]


# --- the tests -------------------------------------------------------------------------------


def test_every_catalogue_slug_has_facts_or_none():
    ids = _facts_ids()
    assert {e.slug for e in _entries()} == set(ids)
    unknown = {i for found in ids.values() for i in found} - set(_facts_by_id())
    assert not unknown, f"catalogue facts ids missing from procedure_facts.yaml: {unknown}"


def test_online_level_is_full_exactly_where_the_facts_say_toan_trinh():
    problems = [p for e in _entries() if (p := online_level_problem(e, online_facts(e.slug)))]
    assert not problems, "\n".join(problems)


def test_entries_without_facts_are_never_full():
    for entry in _entries():
        if not _facts_ids()[entry.slug]:
            assert entry.online.level != "full", entry.slug


def test_online_text_agrees_with_the_level():
    problems = [p for e in _entries() if (p := online_wording_problem(e))]
    assert not problems, "\n".join(problems)


def test_online_checks_catch_a_wrong_level():
    entry = next(e for e in _entries() if e.slug == "ly-lich-tu-phap")
    wrong = entry.model_copy(update={"online": entry.online.model_copy(update={"level": "full"})})
    assert online_level_problem(wrong, online_facts("ly-lich-tu-phap"))  # "toàn trình chưa xác nhận"
    assert online_level_problem(wrong, "Trực tuyến MỘT PHẦN (isFullProcess = false).")
    tam_tru = next(e for e in _entries() if e.slug == "tam-tru")
    demoted = tam_tru.model_copy(
        update={
            "online": tam_tru.online.model_copy(
                update={"level": "partial", "in_person_reason": "x", "text": "Dịch vụ công trực tuyến toàn trình."}
            )
        }
    )
    assert online_level_problem(demoted, online_facts("tam-tru"))
    assert online_wording_problem(demoted)
    assert says_full("TOÀN TRÌNH (isFullProcess = true)")
    assert not says_full("Đăng ký lần đầu: TOÀN TRÌNH. Sang tên: MỘT PHẦN hoặc trực tiếp.")


def test_fee_amounts_come_from_the_facts():
    problems = [f"{e.slug}: {m}" for e in _entries() if (m := missing_amounts(e, facts_text(e.slug)))]
    assert not problems, "\n".join(problems)


def test_fee_check_catches_an_invented_amount():
    entry = next(e for e in _entries() if e.slug == "trich-luc-ho-tich")
    facts = facts_text(entry.slug)
    assert not missing_amounts(entry, facts)
    wrong_amount = entry.model_copy(update={"fee": entry.fee.model_copy(update={"amounts_vnd": {"mỗi bản": 9000}})})
    assert missing_amounts(wrong_amount, facts) == ["mỗi bản: 9.000"]
    wrong_text = entry.model_copy(update={"fee": entry.fee.model_copy(update={"text": "Phí 12.000 đồng/bản."})})
    assert "12.000" in missing_amounts(wrong_text, facts)


def test_day_and_hour_counts_come_from_the_facts():
    problems = [f"{e.slug}: {m}" for e in _entries() if (m := missing_durations(e, facts_text(e.slug)))]
    assert not problems, "\n".join(problems)


def test_duration_check_catches_an_invented_count():
    entry = next(e for e in _entries() if e.slug == "khai-sinh")
    facts = facts_text(entry.slug)
    assert not missing_durations(entry, facts)
    assert "60 ngày" in _plain(facts) and "1 ngày" in _plain(facts)  # "01 ngày" read as "1 ngày"
    wrong = entry.model_copy(
        update={
            "processing_time": entry.processing_time.model_copy(update={"text": "05 ngày làm việc; trả trước 17 giờ."})
        }
    )
    assert missing_durations(wrong, facts) == ["17 giờ", "5 ngày"]


def test_every_entry_has_a_spoken_name():
    missing = [e.slug for e in _entries() if not (e.spoken_name or "").strip()]
    assert not missing, f"entries without spoken_name: {missing}"
    for entry in _entries():
        name = entry.spoken_name or ""
        assert name[:1] == name[:1].lower(), f"{entry.slug}: spoken_name starts lower-case: {name!r}"


def test_spoken_name_check_catches_a_missing_name():
    entry = _entries()[0].model_copy(update={"spoken_name": None})
    assert not (entry.spoken_name or "").strip()
    assert entry.name == entry.title  # what the answers would fall back to


def _topics() -> Outside:
    return Outside.model_validate(yaml.safe_load(TOPICS.read_text(encoding="utf-8")))


def test_topics_validate_and_do_not_name_our_entries():
    outside = _topics()
    clashes = term_clashes(outside, _entries())
    assert not clashes, "\n".join(clashes)
    names = [t.name for t in outside.topics]
    assert len(names) == len(set(names)), "topic names must be unique"


def test_topic_codes_are_national_procedures_outside_the_catalogue():
    with _shared("sources/national_procedures.tsv").open(encoding="utf-8") as handle:
        national = {
            row["code"]: (row.get("catalogue_slug") or "").strip() for row in csv.DictReader(handle, delimiter="\t")
        }
    ours = {c for e in _entries() for c in e.codes}
    for topic in _topics().topics:
        if topic.code:
            assert topic.code in national, f"{topic.name}: unknown code {topic.code}"
            assert not national[topic.code] and topic.code not in ours, f"{topic.name}: {topic.code} is ours"


def test_term_check_catches_a_clash():
    bad = Outside.model_validate(
        {
            "topics": [
                {"name": "thử", "terms": ["sang tên sổ đỏ"]},  # an alias of bien-dong-dat
                {"name": "thử 2", "terms": ["so do"]},  # part of an alias, unaccented
            ]
        }
    )
    clashes = term_clashes(bad, _entries())
    assert any("sang tên sổ đỏ" in c for c in clashes)
    assert any("'so do'" in c for c in clashes)


def test_exclusions_never_match_a_question_we_answer():
    hits = in_scope_hits(exclusion_phrases(_entries(), _topics()), _entries())
    assert not hits, "\n".join(hits)


def test_exclusion_check_catches_a_broad_phrase():
    broad = Outside.model_validate({"topics": [{"name": "ly hôn", "terms": ["ly hôn"]}]})
    hits = in_scope_hits(exclusion_phrases((), broad), _entries())
    assert any("ket-hon" in h for h in hits)  # "Tôi đã ly hôn ở nước ngoài…" is a ket-hon FAQ
