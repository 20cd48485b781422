"""`python -m bot` says what an operator can fix in one line on stderr with a non-zero exit code,
never a traceback, and never a password; `db upgrade` says what it did."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
UNREACHABLE = "postgresql+psycopg://u:geheim-pw@127.0.0.1:1/x"


def bot(*args: str, cwd: Path = ROOT, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=cwd,
        env={**os.environ, **env},
        input="",
        capture_output=True,
        text=True,
        timeout=120,
    )


def one_error_line(done: subprocess.CompletedProcess) -> str:
    """The single line on stderr of a command that failed."""
    assert done.returncode != 0, done
    assert "Traceback" not in done.stderr, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture
def fresh_clone(tmp_path) -> Path:
    """The code alone, as in a fresh clone before `make setup`: no .venv-rasa, no build/."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "bot", project / "bot", ignore=shutil.ignore_patterns("__pycache__"))
    return project


@pytest.mark.parametrize("command", [["db", "upgrade"], ["kb", "load"], ["run"]])
def test_an_unreachable_database(command, tmp_path):
    line = one_error_line(bot(*command, VAR_DIR=str(tmp_path), DATABASE_URL=UNREACHABLE))
    assert line.startswith("error: the database at postgresql+psycopg://u:***@127.0.0.1:1/x is not reachable: ")
    assert "geheim-pw" not in line


@pytest.mark.parametrize("command", [["run"], ["nlu", "train"]])
def test_a_missing_rasa_environment(command, fresh_clone, tmp_path):
    (fresh_clone / "build" / "rasa").mkdir(parents=True)  # `nlu build` was run
    line = one_error_line(bot(*command, cwd=fresh_clone, VAR_DIR=str(tmp_path / "var")))
    assert line == f"error: {fresh_clone / '.venv-rasa'} is missing: `make setup` creates it (Rasa needs Python 3.10)"


def test_training_before_building(fresh_clone, tmp_path):
    line = one_error_line(bot("nlu", "train", cwd=fresh_clone, VAR_DIR=str(tmp_path / "var")))
    assert line == "error: build/rasa is missing: run `python -m bot nlu build` first"


@pytest.mark.parametrize("k", ["0", "-1"])
def test_search_wants_at_least_one_result(k):
    done = bot("kb", "search", f"-k{k}")
    assert done.returncode == 2
    assert one_error_line(done) == f"python -m bot kb search: error: argument -k: must be 1 or more, not {k}"


def test_db_upgrade_says_what_it_did(tmp_path):
    database = tmp_path / "app.db"
    first, again = (bot("db", "upgrade", VAR_DIR=str(tmp_path)) for _ in range(2))
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    latest = sorted(p.name[:4] for p in (ROOT / "bot" / "storage" / "migrations" / "versions").glob("[0-9]*.py"))[-1]
    assert f"database at sqlite:///{database}: upgraded from an empty database to {latest}" in first.stdout.splitlines()
    assert f"database at sqlite:///{database}: already at {latest}" in again.stdout.splitlines()


def test_a_malformed_data_key(tmp_path):
    line = one_error_line(
        bot("db", "upgrade", VAR_DIR=str(tmp_path), DATABASE_URL=f"sqlite:///{tmp_path}/app.db", DATA_KEY="not-a-key")
    )
    assert "not a valid key" in line and "not-a-key" not in line
