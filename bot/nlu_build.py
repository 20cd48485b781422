"""Build the Rasa training data and train the model when its inputs changed.

`build`: nlu_data/ (written by people, in any register) → build/rasa/, every example normalised
with the same normaliser the gateway applies at run time, so Rasa sees identical text at training
and at run time. Entity markup `[text]{...}` keeps its annotation; only the text is normalised.

`train`: hashes everything the model depends on; runs `rasa train` only when the hash differs
from the one stored beside the model.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

from bot.cli_errors import Fatal, require_rasa_env
from bot.knowledge.files import read_all
from bot.settings import PROJECT_ROOT, get_settings
from bot.text import abbreviate, fold, normalize

SOURCE = PROJECT_ROOT / "nlu_data"
BUILD = PROJECT_ROOT / "build" / "rasa"
TEST_SOURCE = PROJECT_ROOT / "tests" / "rasa"
TEST_BUILD = PROJECT_ROOT / "build" / "rasa-test"
ENTITY_RE = re.compile(r"\[([^\]]+)\](\{[^}]*\}|\([^)]*\))")
# what the trained model depends on (the gateway channel and speed-ups are not part of it)
MODEL_INPUTS = [
    "config.yml",
    "domain.yml",
    "build/rasa",
    "rasa_addons/components.py",
    "bot/text",
    "requirements/rasa.lock",
]


def normalize_example(example: str) -> str:
    """Normalise the text around and inside entity markup, keeping the markup itself."""
    out, last = [], 0
    for match in ENTITY_RE.finditer(example):
        out.append(normalize(example[last : match.start()]))
        out.append(f"[{normalize(match.group(1))}]{match.group(2)}")
        last = match.end()
    out.append(normalize(example[last:]))
    return " ".join(part for part in out if part)


def _examples(block: str) -> list[str]:
    return [line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


class _BlockDumper(yaml.SafeDumper):
    pass


_BlockDumper.add_representer(
    str,
    lambda dumper, value: dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None),
)


def build_file(source: Path, target: Path) -> None:
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    for item in data.get("nlu", []):
        if "examples" in item:
            seen: dict[str, None] = {}
            for example in _examples(item["examples"]):
                seen.setdefault(normalize_example(example))
            item["examples"] = "".join(f"- {e}\n" for e in seen)
    for story in data.get("stories", []):
        for step in story.get("steps", []):
            if "user" in step and not step["user"].startswith("/"):
                step["user"] = normalize_example(step["user"].strip())
    target.write_text(yaml.dump(data, Dumper=_BlockDumper, allow_unicode=True, sort_keys=False), encoding="utf-8")


def procedure_lookups(knowledge_dir: Path) -> dict:
    """A lookup table of every way a procedure is named, and synonyms mapping each to its slug,
    from the knowledge aliases: adding an alias needs no hand edit of the NLU files."""
    entries, _ = read_all(knowledge_dir)
    owners: dict[str, set[str]] = {}
    for entry in entries:
        for name in [entry.title, *entry.aliases]:
            text = normalize(name)
            for variant in (text, fold(text), abbreviate(text)):
                owners.setdefault(variant, set()).add(entry.slug)
    names = sorted(owners)
    synonyms: dict[str, list[str]] = {}
    for name in names:
        if len(owners[name]) == 1:  # a name two procedures share says nothing about which one
            slug = next(iter(owners[name]))
            if name != slug:
                synonyms.setdefault(slug, []).append(name)
    nlu = [{"lookup": "procedure", "examples": "".join(f"- {n}\n" for n in names)}]
    nlu += [{"synonym": slug, "examples": "".join(f"- {n}\n" for n in synonyms[slug])} for slug in sorted(synonyms)]
    return {"version": "3.1", "nlu": nlu}


def build() -> int:
    """Training data into build/rasa, Rasa's test data (held out) into build/rasa-test."""
    for source_dir, target_dir in ((SOURCE, BUILD), (TEST_SOURCE, TEST_BUILD)):
        if target_dir.exists():
            shutil.rmtree(target_dir)
        target_dir.mkdir(parents=True)
        for source in sorted(source_dir.glob("*.yml")):
            build_file(source, target_dir / source.name)
    lookups = yaml.dump(
        procedure_lookups(get_settings().knowledge_dir), Dumper=_BlockDumper, allow_unicode=True, sort_keys=False
    )
    (BUILD / "procedure_lookups.yml").write_text(lookups, encoding="utf-8")
    print(f"built Rasa data in {BUILD.relative_to(PROJECT_ROOT)} and {TEST_BUILD.relative_to(PROJECT_ROOT)}")
    return 0


def fingerprint() -> str:
    digest = hashlib.sha256()
    for name in MODEL_INPUTS:
        path = PROJECT_ROOT / name
        files = (
            sorted(p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
            if path.is_dir()
            else [path]
        )
        for file in files:
            digest.update(str(file.relative_to(PROJECT_ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()


def train() -> int:
    if not BUILD.is_dir():
        raise Fatal(f"{BUILD.relative_to(PROJECT_ROOT)} is missing: run `python -m bot nlu build` first")
    rasa = require_rasa_env() / "bin" / "rasa"
    model_dir = get_settings().model_dir
    model, stamp = model_dir / "current.tar.gz", model_dir / "current.fingerprint"
    wanted = fingerprint()
    if model.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        print(f"model up to date: {model.relative_to(PROJECT_ROOT)}")
        return 0
    started = time.monotonic()
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "RASA_TELEMETRY_ENABLED": "false"}
    result = subprocess.run(
        [
            str(rasa),
            "train",
            "--data",
            str(BUILD),
            "--config",
            "config.yml",
            "--domain",
            "domain.yml",
            "--out",
            str(model_dir),
            "--fixed-model-name",
            "current",
            "--force",
        ],
        cwd=PROJECT_ROOT,
        env=env,
    )
    if result.returncode != 0:
        return result.returncode
    stamp.write_text(wanted)
    print(f"trained {model.relative_to(PROJECT_ROOT)} in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(build())
