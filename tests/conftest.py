"""Test settings: every test session gets its own var/ folder (databases, logs, PID files) and
free ports, set in the environment before any app module reads its settings."""

from __future__ import annotations

import importlib.util
import os
import tempfile
from pathlib import Path

import httpx
import pytest

from tests.ports import free_port

# tests/model runs in the model environment (`make model-test`): the app's own has no torch.
collect_ignore = [] if importlib.util.find_spec("sentence_transformers") else ["model"]

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"


_VAR = Path(tempfile.mkdtemp(prefix="bot-test-var-"))
os.environ.update(
    {
        "VAR_DIR": str(_VAR),
        "GATEWAY_PORT": str(free_port()),
        "RASA_PORT": str(free_port(consecutive=8)),
        "ACTIONS_PORT": str(free_port()),
        "RASA_TELEMETRY_ENABLED": "false",
        "VOLUNTEER_HOURS": "00:00-00:00",  # the desk is open whenever the tests run
    }
)
for leaked in ("DATABASE_URL", "RASA_TRACKER_URL", "RASA_TOKEN", "OFFICES_FILE", "KNOWLEDGE_DIR"):
    os.environ.pop(leaked, None)


@pytest.fixture(scope="session")
def var_dir() -> Path:
    return _VAR


@pytest.fixture(scope="session")
def loaded_db(var_dir):
    """The session's database, migrated, with the repository's knowledge loaded."""
    from bot.knowledge.loader import load
    from bot.settings import get_settings
    from bot.storage.db import upgrade

    upgrade()
    settings = get_settings()
    load(settings.knowledge_dir, settings.offices_path)
    return settings


@pytest.fixture(scope="session")
def stack(loaded_db):
    """The real services (Rasa, action server, gateway), started once for the whole session."""
    from bot.supervisor import Stack

    model = loaded_db.model_dir / "current.tar.gz"
    if not model.exists():
        pytest.fail(f"no trained model at {model}: run `make train` (make test does)")
    with Stack(loaded_db).running() as services:
        yield services


@pytest.fixture(params=["sqlite", "postgresql"])
def tracker_url(request, tmp_path) -> tuple[str, str]:
    """(SQLAlchemy URL, dialect) of an empty database for Rasa's tracker store, on both databases
    a deployment may use (Rasa's environment speaks to PostgreSQL through psycopg2)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'tracker.db'}", "sqlite"
        return
    from tests import postgres
    from tests.system import require

    require(postgres.available(), "postgresql")
    with postgres.postgres_server() as url:
        yield url.replace("+psycopg", "+psycopg2"), "postgresql"


@pytest.fixture(scope="module")
def telegram():
    """A local server of Telegram's Bot API contract (tests/fakes), one per test module; a module
    that needs users or chats in it overrides this."""
    from tests.fakes.telegram_api import FakeTelegramAPI

    with FakeTelegramAPI() as api:
        yield api


@pytest.fixture
def restores(loaded_db):
    """`restores(slug)` remembers a knowledge entry as it is now (and returns `{"revision", "entry"}`);
    when the test ends, any remembered entry left changed gets its original content published
    back. Every test shares one database, and later tests read these answers."""
    from bot.knowledge.publish import publish
    from bot.storage.db import session_scope
    from bot.storage.models import KnowledgeEntry

    originals: dict[str, dict] = {}

    def remember(slug: str) -> dict:
        with session_scope() as session:
            row = session.get(KnowledgeEntry, slug)
            originals.setdefault(slug, row.data)
            return {"revision": row.revision, "entry": row.data}

    yield remember
    with session_scope() as session:
        for slug, data in originals.items():
            if session.get(KnowledgeEntry, slug).data != data:
                publish(session, slug, data, actor_id=None, author="tests", expected_revision=None)


@pytest.fixture(scope="session")
def gateway(stack):
    with httpx.Client(base_url=stack.gateway_url, timeout=60) as client:
        yield client


@pytest.fixture
def chat(gateway):
    """A fresh citizen in a server-issued conversation: chat("text") → list of replies."""
    from tests.integration.people import open_conversation

    sender = open_conversation(gateway)

    def send(text: str, **extra) -> list[dict]:
        response = gateway.post("/api/chat", json={"sender_id": sender, "text": text, **extra})
        assert response.status_code == 200, response.text
        return response.json()["replies"]

    send.sender = sender
    return send
