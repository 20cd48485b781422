"""`python -m bot kb model` (`make model`): train the embedding model, then calibrate the search."""

from __future__ import annotations

import time
from pathlib import Path

from bot.knowledge.calibration import calibrate
from bot.knowledge.embedding import Encoder, train
from bot.knowledge.files import read_all
from bot.knowledge.search import KnowledgeIndex
from bot.settings import PROJECT_ROOT, get_settings

OUT = PROJECT_ROOT / "models" / "embedding"


def model_command() -> int:
    settings = get_settings()
    started = time.monotonic()
    train(settings.knowledge_dir, PROJECT_ROOT / "nlu_data", OUT)
    entries, _ = read_all(settings.knowledge_dir)
    index = KnowledgeIndex(entries, Encoder(str(OUT)))
    result = calibrate(index, settings.knowledge_dir, PROJECT_ROOT / "nlu_data", OUT / "calibration.json")
    size = sum(p.stat().st_size for p in Path(OUT).iterdir()) / 1e6
    print(
        f"model in {OUT.relative_to(PROJECT_ROOT)} ({size:.1f} MB), trained and calibrated in "
        f"{time.monotonic() - started:.0f} s; abstain below confidence {result.threshold:.2f}"
    )
    return 0


def calibrate_command() -> int:
    """Calibrate the search for the model the EMBEDDING_MODEL setting names (any model)."""
    settings = get_settings()
    out = settings.search_calibration or settings.var_dir / "calibration.json"
    entries, _ = read_all(settings.knowledge_dir)
    result = calibrate(
        KnowledgeIndex(entries, Encoder(settings.embedding_model)),
        settings.knowledge_dir,
        PROJECT_ROOT / "nlu_data",
        out,
    )
    print(
        f"calibration written to {out}; abstain below confidence {result.threshold:.2f}. "
        f"Set SEARCH_CALIBRATION={out} for the services."
    )
    return 0
