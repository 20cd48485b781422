"""Search quality and speed on the dev set (tests/data/search_dev.tsv).

    .venv/bin/python benchmarks/search.py [--dev tests/data/search_dev.tsv] [--json]

Reports, for BM25 only, dense only and hybrid: hit@1, hit@3, MRR over in-catalogue questions
(by register, and for diacritic-stripped copies of the accented ones), abstain precision and
recall (out-of-catalogue questions are the positives); warm p50/p95 latency of a hybrid query;
index build time; re-indexing one edited entry; resident memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("VAR_DIR", tempfile.mkdtemp(prefix="bench-search-"))

from bot.knowledge.embedding import procedure_texts  # noqa: E402
from bot.knowledge.files import read_all  # noqa: E402
from bot.knowledge.search import KnowledgeIndex, default_calibration, default_encoder  # noqa: E402
from bot.text import fold  # noqa: E402


def read_dev(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def evaluate(index: KnowledgeIndex, rows: list[dict], mode: str) -> dict:
    inside = [r for r in rows if r["slug"] != "-"]
    outside = [r for r in rows if r["slug"] == "-"]
    by_register: dict[str, list[float]] = defaultdict(list)
    hit1 = hit3 = rr = 0.0
    abstained_inside = 0
    for row in inside:
        result = index.search(row["query"], k=3, mode=mode)
        slugs = [h.slug for h in result.hits]
        rank = slugs.index(row["slug"]) + 1 if row["slug"] in slugs else None
        hit1 += rank == 1
        hit3 += rank is not None
        rr += 1 / rank if rank else 0
        by_register[row["register"]].append(float(rank == 1))
        abstained_inside += result.abstain
    abstained_outside = sum(index.search(r["query"], k=3, mode=mode).abstain for r in outside)
    abstained = abstained_inside + abstained_outside
    accented = [r for r in inside if r["register"] in ("formal", "informal")]
    stripped = sum(index.search(fold(r["query"]), k=1, mode=mode).hits[0].slug == r["slug"] for r in accented)
    accented_hit = sum(index.search(r["query"], k=1, mode=mode).hits[0].slug == r["slug"] for r in accented)
    n = len(inside)
    return {
        "hit@1": round(hit1 / n, 3),
        "hit@3": round(hit3 / n, 3),
        "mrr": round(rr / n, 3),
        "hit@1_by_register": {k: round(statistics.mean(v), 3) for k, v in sorted(by_register.items())},
        "hit@1_accented": round(accented_hit / len(accented), 3),
        "hit@1_accented_stripped": round(stripped / len(accented), 3),
        "out_of_catalogue_abstained": round(abstained_outside / max(1, len(outside)), 3),
        "in_catalogue_abstained": round(abstained_inside / n, 3),
        "abstain_precision": round(abstained_outside / abstained, 3) if abstained else None,
        "abstain_recall": round(abstained_outside / max(1, len(outside)), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--dev", type=Path, default=ROOT / "tests" / "data" / "search_dev.tsv")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    rows = read_dev(args.dev)
    entries, _ = read_all(ROOT / "knowledge")
    encoder = default_encoder()
    started = time.perf_counter()
    index = KnowledgeIndex(entries, encoder, calibration=default_calibration())
    build_s = time.perf_counter() - started

    report: dict = {
        "questions": {
            "in_catalogue": sum(r["slug"] != "-" for r in rows),
            "out_of_catalogue": sum(r["slug"] == "-" for r in rows),
        }
    }
    for mode in ("bm25", "dense", "hybrid"):
        report[mode] = evaluate(index, rows, mode)

    for row in rows[:20]:  # warm up
        index.search(row["query"])
    times = []
    for row in rows:
        t0 = time.perf_counter()
        index.search(row["query"])
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    report["latency_ms"] = {"p50": round(times[len(times) // 2], 2), "p95": round(times[int(len(times) * 0.95)], 2)}
    report["index_build_s"] = round(build_s, 3)

    edited = entries[0].model_copy(update={"aliases": [*entries[0].aliases, "tên gọi mới do cán bộ thêm"]})
    vectors = {e.slug: index._matrix[index._owner == i] for i, e in enumerate(index.entries)}
    started = time.perf_counter()
    vectors[edited.slug] = encoder.encode(procedure_texts(edited))
    KnowledgeIndex([edited, *entries[1:]], encoder, vectors, index.calibration)
    report["reindex_one_entry_s"] = round(time.perf_counter() - started, 3)
    report["max_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
