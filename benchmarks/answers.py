"""End-to-end answer quality through the real stack's `POST /api/chat`.

    .venv/bin/python benchmarks/answers.py [--questions FILE] [--json] [--no-extra]

Every question is asked in a fresh conversation. The turn's decision comes back in the response
as `about` ({procedure, aspect, outcome}); a question counts as
- right procedure: `about.procedure` is the expected slug;
- right aspect: right procedure and `about.aspect` is the expected aspect (rows that give one);
- fact found: the replies contain the row's `fact` (accent- and case-insensitive);
- declined: `about.outcome` is `decline` (the goal for `NONE` rows; a miss for the others).

The default set is `tests/data/answers_dev.tsv` plus the informal, abbreviated and unaccented rows
of `tests/data/search_dev.tsv`, and a diacritic-free copy of every accented question (register
`folded`). `--questions FILE` scores any TSV with columns `question, slug, aspect` (`slug` may be
`NONE`; `register` and `fact` are optional).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from common import ROOT, open_conversation, percentile, scratch_stack

from bot.text import fold  # noqa: E402

DEV = ROOT / "tests" / "data" / "answers_dev.tsv"
SEARCH_DEV = ROOT / "tests" / "data" / "search_dev.tsv"
SEARCH_REGISTERS = ("informal", "abbreviated", "unaccented")


@dataclass
class Row:
    question: str
    slug: str  # NONE: outside the catalogue
    aspect: str = ""
    register: str = ""
    fact: str = ""
    copy_of: int | None = None  # a diacritic-free copy of row number …


@dataclass
class Outcome:
    row: Row
    about: dict
    text: str
    latency_ms: float

    @property
    def inside(self) -> bool:
        return self.row.slug != "NONE"

    @property
    def right_procedure(self) -> bool:
        return self.about.get("procedure") == self.row.slug

    @property
    def right_aspect(self) -> bool:
        return self.right_procedure and self.about.get("aspect") == self.row.aspect

    @property
    def declined(self) -> bool:
        return self.about.get("outcome") == "decline"

    @property
    def fact_found(self) -> bool:
        return squeeze(self.row.fact) in squeeze(self.text)


def squeeze(text: str) -> str:
    return re.sub(r"\s+", " ", fold(text.lower())).strip()


def read_rows(path: Path) -> list[Row]:
    with path.open(encoding="utf-8") as handle:
        return [
            Row(r["question"], r["slug"], r.get("aspect") or "", r.get("register") or "", r.get("fact") or "")
            for r in csv.DictReader(handle, delimiter="\t")
        ]


def default_rows() -> list[Row]:
    rows = read_rows(DEV)
    with SEARCH_DEV.open(encoding="utf-8") as handle:
        rows += [
            Row(r["query"], "NONE" if r["slug"] == "-" else r["slug"], register=f"search-{r['register']}")
            for r in csv.DictReader(handle, delimiter="\t")
            if r["register"] in SEARCH_REGISTERS
        ]
    return rows


def with_folded_copies(rows: list[Row]) -> list[Row]:
    copies = [
        Row(fold(r.question), r.slug, r.aspect, "folded", r.fact, copy_of=i)
        for i, r in enumerate(rows)
        if fold(r.question) != r.question
    ]
    return rows + copies


@dataclass
class Tally:
    inside: int = 0
    outside: int = 0
    procedure: int = 0
    with_aspect: int = 0
    aspect: int = 0
    with_fact: int = 0
    fact: int = 0
    declined: int = 0
    wrongly_declined: int = 0
    latencies: list[float] = field(default_factory=list)

    def add(self, o: Outcome) -> None:
        self.latencies.append(o.latency_ms)
        if not o.inside:
            self.outside += 1
            self.declined += o.declined
            return
        self.inside += 1
        self.procedure += o.right_procedure
        self.wrongly_declined += o.declined
        if o.row.aspect:
            self.with_aspect += 1
            self.aspect += o.right_aspect
        if o.row.fact:
            self.with_fact += 1
            self.fact += o.fact_found

    def figures(self) -> dict:
        share = lambda n, d: round(n / d, 3) if d else None  # noqa: E731
        return {
            "questions": self.inside + self.outside,
            "right_procedure": share(self.procedure, self.inside),
            "right_aspect": share(self.aspect, self.with_aspect),
            "fact_found": share(self.fact, self.with_fact),
            "declined": share(self.declined, self.outside),
            "wrongly_declined": share(self.wrongly_declined, self.inside),
            "p50_ms": round(percentile(self.latencies, 50), 1) if self.latencies else None,
            "p95_ms": round(percentile(self.latencies, 95), 1) if self.latencies else None,
        }


def ask_all(base_url: str, rows: list[Row]) -> list[Outcome]:
    outcomes = []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for row in rows:
            sender = open_conversation(client)  # each question in a conversation of its own
            started = time.perf_counter()
            response = client.post("/api/chat", json={"sender_id": sender, "text": row.question})
            latency = (time.perf_counter() - started) * 1000
            response.raise_for_status()
            body = response.json()
            text = "\n".join(r["text"] for r in body["replies"])
            outcomes.append(Outcome(row, body.get("about") or {}, text, latency))
    return outcomes


def report(outcomes: list[Outcome]) -> dict:
    overall, by_register, by_slug = Tally(), defaultdict(Tally), defaultdict(Tally)
    for o in outcomes:
        if o.row.register != "folded":
            overall.add(o)
            by_slug[o.row.slug].add(o)
        by_register[o.row.register or "-"].add(o)
    # copies follow the originals, whose positions they keep in `copy_of`
    pairs = [(outcomes[o.row.copy_of], o) for o in outcomes if o.row.copy_of is not None]
    accented = sum(a.right_procedure for a, _ in pairs if a.inside)
    stripped = sum(b.right_procedure for a, b in pairs if a.inside)
    inside_pairs = sum(a.inside for a, _ in pairs)
    return {
        "overall": overall.figures(),
        "diacritics": {
            "pairs": inside_pairs,
            "accented_right_procedure": round(accented / inside_pairs, 3) if inside_pairs else None,
            "folded_right_procedure": round(stripped / inside_pairs, 3) if inside_pairs else None,
        },
        "by_register": {k: t.figures() for k, t in sorted(by_register.items())},
        "by_slug": {k: t.figures() for k, t in sorted(by_slug.items())},
        "misses": [
            {"question": o.row.question, "expected": [o.row.slug, o.row.aspect, o.row.fact], "about": o.about}
            for o in outcomes
            if (
                o.inside
                and (
                    not o.right_procedure or (o.row.aspect and not o.right_aspect) or (o.row.fact and not o.fact_found)
                )
            )
            or (not o.inside and not o.declined)
        ],
    }


def print_table(result: dict) -> None:
    columns = [
        "questions",
        "right_procedure",
        "right_aspect",
        "fact_found",
        "declined",
        "wrongly_declined",
        "p50_ms",
        "p95_ms",
    ]
    print(f"{'':28}" + "".join(f"{c:>17}" for c in columns))
    lines = [("overall", result["overall"])] + list(result["by_register"].items()) + list(result["by_slug"].items())
    for name, figures in lines:
        print(f"{name[:28]:28}" + "".join(f"{'-' if figures[c] is None else figures[c]:>17}" for c in columns))
    d = result["diacritics"]
    print(
        f"diacritics: {d['pairs']} in-catalogue pairs, right procedure accented {d['accented_right_procedure']} "
        f"vs folded {d['folded_right_procedure']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=Path, help="TSV with columns question, slug, aspect")
    parser.add_argument("--json", action="store_true", help="print the whole result as JSON")
    parser.add_argument("--misses", type=Path, help="write the questions answered wrongly to this JSON file")
    args = parser.parse_args()
    rows = with_folded_copies(read_rows(args.questions) if args.questions else default_rows())
    with scratch_stack() as stack:
        ask_all(stack.gateway_url, rows[:3])  # warm-up: first requests load models and caches
        outcomes = ask_all(stack.gateway_url, rows)
    result = report(outcomes)
    if args.misses:
        args.misses.write_text(json.dumps(result["misses"], ensure_ascii=False, indent=1), encoding="utf-8")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "misses"}, ensure_ascii=False, indent=1))
    else:
        print_table(result)


if __name__ == "__main__":
    main()
