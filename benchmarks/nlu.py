"""NLU figures on the held-out test set (tests/rasa/nlu_test.yml), as written and with every
diacritic stripped: intent accuracy and macro-F1, procedure accuracy of the turn's decision
(bot.knowledge.decide: Rasa's intent and entity are two of its signals), parse latency.

    .venv/bin/python benchmarks/nlu.py
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import Counter

import httpx
import yaml
from sklearn.metrics import f1_score

from common import ROOT, percentile, scratch_stack

from bot.knowledge.decide import Evidence, decide  # noqa: E402
from bot.knowledge.search import build_live_index  # noqa: E402
from bot.text import fold, normalize  # noqa: E402

MARKUP = re.compile(r"\[([^\]]+)\]\{\"entity\": \"procedure\", \"value\": \"([a-z0-9-]+)\"\}")


def held_out() -> list[tuple[str, str, str | None]]:
    rows = []
    for item in yaml.safe_load((ROOT / "tests/rasa/nlu_test.yml").read_text(encoding="utf-8"))["nlu"]:
        for line in item["examples"].splitlines():
            if line.strip().startswith("- "):
                text = line.strip()[2:]
                slugs = [m.group(2) for m in MARKUP.finditer(text)]
                rows.append((MARKUP.sub(r"\1", text), item["intent"], slugs[0] if slugs else None))
    return rows


def main() -> int:
    rows = held_out()
    report: dict = {"examples": len(rows)}
    with scratch_stack() as stack:
        rasa = httpx.Client(
            base_url=stack.settings.rasa_url, timeout=30, params={"token": stack.settings.ensure_rasa_token()}
        )
        index = build_live_index()
        latencies = []
        for variant, prepare in (("as_written", lambda t: t), ("diacritics_stripped", fold)):
            gold, predicted, resolved, confusions = [], [], [], Counter()
            for text, intent, slug in rows:
                message = normalize(prepare(text))
                started = time.perf_counter()
                parse = rasa.post("/model/parse", json={"text": message}).json()
                latencies.append((time.perf_counter() - started) * 1000)
                guess = parse["intent"]["name"]
                gold.append(intent)
                predicted.append(guess)
                if guess != intent:
                    confusions[(intent, guess)] += 1
                if slug:
                    hint = next((e["value"] for e in parse["entities"] if e["entity"] == "procedure"), None)
                    evidence = Evidence(prepare(text), guess, parse["intent"]["confidence"], entity=hint)
                    resolved.append(decide(index, evidence).about.procedure == slug)
            report[variant] = {
                "intent_accuracy": round(sum(g == p for g, p in zip(gold, predicted)) / len(gold), 3),
                "intent_macro_f1": round(f1_score(gold, predicted, average="macro", labels=sorted(set(gold))), 3),
                "procedure_accuracy_resolved": round(statistics.mean(resolved), 3),
                "procedure_examples": len(resolved),
                "confusions": {f"{g} → {p}": n for (g, p), n in confusions.most_common(8)},
            }
        report["parse_ms"] = {"p50": round(percentile(latencies, 50), 1), "p95": round(percentile(latencies, 95), 1)}
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
