"""Failures an operator can fix are said in one line on stderr with exit code 1, not a traceback;
anything else is a bug and keeps its traceback."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from bot.settings import PROJECT_ROOT, get_settings
from bot.storage.crypto import DataKeyError
from bot.storage.db import DATABASE_DOWN, shown_url

RASA_ENV = PROJECT_ROOT / ".venv-rasa"


class Fatal(Exception):
    """A command cannot go on; the message says why and what to do."""


def require_rasa_env() -> Path:
    if not (RASA_ENV / "bin" / "python").exists():
        raise Fatal(f"{RASA_ENV} is missing: `make setup` creates it (Rasa needs Python 3.10)")
    return RASA_ENV


def explained(error: Exception) -> str | None:
    """The line an operator reads for a failure they can fix; None for a bug."""
    if isinstance(error, (Fatal, DataKeyError)):
        return str(error)
    if isinstance(error, DATABASE_DOWN):
        reason = str(getattr(error, "orig", error)).strip().splitlines()[0]
        return f"the database at {shown_url(get_settings().db_url)} is not reachable: {reason}"
    return None


def exit_code(command: Callable[[], int]) -> int:
    """Run a command; a failure an operator can fix becomes one line on stderr and exit code 1."""
    try:
        return command()
    except Exception as error:
        line = explained(error)
        if line is None:
            raise
        print(f"error: {line}", file=sys.stderr)
        return 1
