"""Helpers the benchmarks share: a scratch stack of the real services on free ports."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SCRATCH = Path(tempfile.mkdtemp(prefix="bench-"))
os.environ["VAR_DIR"] = str(SCRATCH)  # before any app module reads its settings

from bot.knowledge.loader import load  # noqa: E402
from bot.settings import Settings  # noqa: E402
from bot.storage import db  # noqa: E402
from bot.supervisor import Stack  # noqa: E402
from tests.integration.people import bearer, open_conversation  # noqa: E402,F401  (web conversations are server-issued)
from tests.ports import free_port  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@contextmanager
def scratch_stack(**overrides):
    """Rasa, the action server and the gateway on free ports, with a scratch var/ folder."""
    settings = Settings(
        var_dir=SCRATCH,
        gateway_port=free_port(),
        rasa_port=free_port(consecutive=8),
        actions_port=free_port(),
        **overrides,
    )
    db.upgrade(settings.db_url)
    load(settings.knowledge_dir, settings.offices_path)
    print(json.dumps({"rate_limits": limits_of(settings)}), flush=True)
    with Stack(settings).running() as stack:
        yield stack


def limits_of(settings: Settings) -> dict:
    """The abuse limits a benchmark runs under (issue 12: benchmarks print the limits they set)."""
    return {
        name: getattr(settings, name)
        for name in ("rate_limit_conversation", "rate_limit_ip", "rate_limit_new_conversations", "login_max_failures")
    }
