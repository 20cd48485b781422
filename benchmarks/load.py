"""Load: simulated citizens on the web chat, Telegram and Zalo at once, all through nginx, on the
single-machine layout (one gateway, one Rasa, SQLite) or the city layout (PostgreSQL, Redis, two
gateways, two Rasa replicas): throughput, p50/p95/p99 latency per channel, errors, memory per
process kind, and the check that every citizen got every reply exactly once, in order.

    .venv/bin/python benchmarks/load.py [--layout single|city] [--duration 60] [--conversations 200]
        [--per-conversation 3] [--think 10] [--json FILE]

Each of `--conversations` slots holds one conversation at a time (web, Telegram and Zalo in
turn): a citizen asks `--per-conversation` questions of tests/data/answers_dev.tsv, each after
reading and typing for about `--think` seconds (0: closed loop, to measure capacity) and after
the answer to the previous one; then a new citizen takes the slot. New questions stop after
`--duration` seconds; the run ends when the last answers are delivered. Telegram's and Zalo's
replies go to local servers implementing their published API contracts (tests/fakes).

Traffic stays on loopback; every loop is bounded in time. Exits 1 when the check fails.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.crowd import (
    CHANNELS,
    ContractServers,
    check_exactly_once,
    deployment_settings,  # noqa: E402
    figures,
    load_questions,
    run_load,
)
from bot.city import City  # noqa: E402
from bot.router import ANSWER_COMING  # noqa: E402

LAYOUTS = {  # City's keyword arguments
    "single": {"gateways": 1, "rasa_replicas": 1, "postgres": False, "redis": False},
    "city": {},
}


class MemoryPeaks(threading.Thread):
    """Samples City.memory() every few seconds; keeps the highest resident size of each process kind."""

    def __init__(self, city: City, period_s: float = 2.0):
        super().__init__(daemon=True)
        self.city, self.period_s = city, period_s
        self.peaks: dict[str, int] = {}
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.wait(self.period_s):
            self.sample()

    def sample(self) -> None:
        for name, rss in self.city.memory().items():
            self.peaks[name] = max(self.peaks.get(name, 0), rss)

    def __enter__(self) -> MemoryPeaks:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.done.set()
        self.join()
        self.sample()


def megabytes(sizes: dict[str, int]) -> dict[str, int]:
    return {name: round(size / 2**20) for name, size in sorted(sizes.items())}


def summary(report: dict) -> str:
    """The report for a person: one line per figure."""
    run, check = report["run"], report["exactly_once"]
    lines = [
        f"layout {report['layout']}: {report['conversations']} conversations, think ~{report['think_s']} s, "
        f"{run['duration_s']} s",
        f"  throughput  {run['messages_per_s']} messages/s ({run['answered']} of {run['messages']} answered)",
    ]
    for channel, figures_ in run["channels"].items():
        lines.append(
            f"  {channel:<9}   {figures_['answered']} answered; p50 {figures_['p50_ms']} ms, "
            f"p95 {figures_['p95_ms']} ms, p99 {figures_['p99_ms']} ms"
        )
    errors = run["errors"]
    lines.append(
        f"  errors      {errors['failed_attempts']} failed requests {errors['by_kind']}, "
        f"{errors['unanswered']} unanswered, {errors['refused']} refused"
    )
    lines.append(
        f"  exactly once: {'passed' if check['passed'] else 'FAILED'}: {check['replies_received']} of "
        f"{check['replies_stored']} stored replies received, {check['lost']} lost, {check['repeats']} repeats, "
        f"{check['out_of_order']} out of order, {check['unexpected']} unexpected, {check['unanswered']} "
        f"unanswered, {check['unhandled']} never handled, {check['question_mismatch']} citizens whose "
        f"questions were not stored exactly once"
    )
    lines.append("  memory (peak MB)  " + ", ".join(f"{k} {v}" for k, v in report["memory_peak_mb"].items()))
    lines.append(f"  load generator CPU {report['load_generator_cpu_s']} s")
    return "\n".join(lines)


async def warm_up(city: City, servers: ContractServers, questions: list[str]) -> None:
    """One conversation per channel first: models loaded, caches filled, connections open."""
    await run_load(
        city.url,
        city.database_url,
        servers,
        conversations=len(CHANNELS),
        duration_s=1,
        questions=questions,
        notices=(ANSWER_COMING,),
        seed=0,
    )


def measure(args) -> dict:
    var_dir = Path(tempfile.mkdtemp(prefix=f"load-{args.layout}-"))
    os.environ["VAR_DIR"] = str(var_dir)
    layout = LAYOUTS[args.layout]
    questions = load_questions()
    with ContractServers() as servers:
        settings = deployment_settings(var_dir, layout.get("gateways", 2))
        city = City(settings, **layout, env=servers.env())
        started = time.monotonic()
        with city.running():
            ready_s = time.monotonic() - started
            servers.authorise_zalo(city.database_url)
            asyncio.run(warm_up(city, servers, questions))
            cpu = time.process_time()
            with MemoryPeaks(city) as memory:
                run = asyncio.run(
                    run_load(
                        city.url,
                        city.database_url,
                        servers,
                        conversations=args.conversations,
                        duration_s=args.duration,
                        questions=questions,
                        per_conversation=args.per_conversation,
                        think_s=args.think,
                        notices=(ANSWER_COMING,),
                    )
                )
            check = check_exactly_once(city.database_url, run.crowd)
    return {
        "layout": args.layout,
        "conversations": args.conversations,
        "think_s": args.think,
        "per_conversation": args.per_conversation,
        "ready_s": round(ready_s, 1),
        "run": figures(run),
        "exactly_once": check.as_dict(),
        "memory_peak_mb": megabytes(memory.peaks),
        "load_generator_cpu_s": round(time.process_time() - cpu, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layout", choices=sorted(LAYOUTS), default="single")
    parser.add_argument("--duration", type=float, default=60, help="seconds during which new questions are asked")
    parser.add_argument("--conversations", type=int, default=200)
    parser.add_argument("--per-conversation", type=int, default=3)
    parser.add_argument("--think", type=float, default=10, help="mean seconds before each question (0: closed loop)")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    report = measure(args)
    print(summary(report), file=sys.stderr)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    return 0 if report["exactly_once"]["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
