"""Log lines an operator can read: time, level, logger and, while a conversation is handled, its
number in our database (never a channel's user id) on every line. `LOG_FORMAT=json` gives one JSON
object per line for machines; a message that is itself a JSON object (the router's "turn" lines)
has its fields merged into that object instead of nested as a string.

Lines go to stderr and to a rotated `var/log/<process>.log` (10 MB, 5 old files) — unless stderr
already is a file: the supervisor captures each service's output in `var/log/<service>.log`
(Rasa's own lines and a crash's traceback before logging starts included) and rotates it, so a
second handler on that file would write every line twice.

Never log message text, tokens or a citizen's channel id: conversation numbers only.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import json
import logging
import os
import stat
import sys
from logging.handlers import RotatingFileHandler
from pathlib import Path

from bot.settings import Settings

ROTATE_AT_BYTES = 10 * 1024 * 1024
ROTATED_FILES = 5
QUIET_LIBRARIES = ("alembic", "httpx")  # their INFO lines tell an operator nothing

_conversation: contextvars.ContextVar[int | None] = contextvars.ContextVar("conversation", default=None)
_installed: list[logging.Handler] = []  # what configure() added, replaced by its next call


def set_conversation(conversation_id: int) -> None:
    """The conversation the following lines of this `conversation_scope` concern."""
    _conversation.set(conversation_id)


def conversation_scope(handler):
    """For a coroutine that handles conversations: what it sets is forgotten when it returns, so
    the caller's later lines (a polling loop, a periodic job) never name a conversation."""

    @functools.wraps(handler)
    async def scoped(*args, **kwargs):
        token = _conversation.set(None)
        try:
            return await handler(*args, **kwargs)
        finally:
            _conversation.reset(token)

    return scoped


class ConversationFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "conversation"):
            record.conversation = _conversation.get()
        return True


def timestamp(record: logging.LogRecord) -> str:
    return dt.datetime.fromtimestamp(record.created).astimezone().isoformat(timespec="milliseconds")


class TextFormatter(logging.Formatter):
    """`2026-01-31T08:00:00.123+07:00 INFO bot.turn [conversation 42] message`"""

    def format(self, record: logging.LogRecord) -> str:
        conversation = getattr(record, "conversation", None)
        about = f" [conversation {conversation}]" if conversation is not None else ""
        line = f"{timestamp(record)} {record.levelname} {record.name}{about} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


class JsonFormatter(logging.Formatter):
    """`{"time": …, "level": …, "logger": …, "conversation": 42 or null, "message": …}`"""

    def format(self, record: logging.LogRecord) -> str:
        head = {"time": timestamp(record), "level": record.levelname, "logger": record.name}
        message = record.getMessage()
        body = json_object(message) or {"message": message}
        # the message's own fields (a turn's conversation too), but never over time, level and logger
        line = {**head, "conversation": getattr(record, "conversation", None), **body, **head}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


def json_object(message: str) -> dict | None:
    if not message.startswith("{"):
        return None
    try:
        parsed = json.loads(message)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


class CurrentStderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is written (a test's capture replaces it)."""

    def __init__(self):
        logging.Handler.__init__(self)

    @property
    def stream(self):
        return sys.stderr


class PrivateRotatingFile(RotatingFileHandler):
    """Like everything under var/: readable by its owner only, whatever the umask."""

    def _open(self):
        os.close(os.open(self.baseFilename, os.O_WRONLY | os.O_CREAT, 0o600))
        return super()._open()


def in_format(handler: logging.Handler, settings: Settings) -> logging.Handler:
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(ConversationFilter())
    return handler


def file_handler(settings: Settings, path: Path) -> logging.Handler:
    """A rotated, private log file in the configured format."""
    settings.ensure_var_dir()
    path.parent.mkdir(mode=0o700, exist_ok=True)
    return in_format(
        PrivateRotatingFile(path, maxBytes=ROTATE_AT_BYTES, backupCount=ROTATED_FILES, encoding="utf-8"), settings
    )


def written_by_root(path: Path) -> bool:
    """Whether this process's configured logging already writes `path`."""
    return any(
        getattr(handler, "baseFilename", None) == os.path.abspath(path) for handler in logging.getLogger().handlers
    )


def stderr_is_a_file() -> bool:
    try:
        return stat.S_ISREG(os.fstat(sys.stderr.fileno()).st_mode)
    except (AttributeError, OSError, ValueError):  # no descriptor behind it (a test's capture)
        return False


def configure(settings: Settings, process_name: str) -> None:
    """Every line of this process in the project's format, on stderr and (unless stderr already
    is a file) in var/log/<process_name>.log. Called again, it replaces only what it added."""
    handlers = [in_format(CurrentStderr(), settings)]
    if not stderr_is_a_file():
        handlers.append(file_handler(settings, settings.var_dir / "log" / f"{process_name}.log"))
    root = logging.getLogger()
    for handler in _installed:
        root.removeHandler(handler)
        handler.close()
    _installed[:] = handlers
    for handler in handlers:
        handler.setLevel(settings.log_level)  # also for libraries that set their own loggers to DEBUG
        root.addHandler(handler)
    root.setLevel(settings.log_level)
    for name in QUIET_LIBRARIES:
        logging.getLogger(name).setLevel(logging.WARNING)
    # uvicorn's own handler prints neither time nor logger (its access log, off in the gateway, is left alone)
    logging.getLogger("uvicorn").handlers.clear()
    logging.getLogger("uvicorn").propagate = True
