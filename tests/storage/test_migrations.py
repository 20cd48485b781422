"""The migrations build exactly the tables the models describe: a column or index added to a model
without its migration (or the reverse) fails here, on SQLite, before it fails on a server."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from bot.storage.db import make_engine, upgrade
from bot.storage.models import Base


def test_migrations_and_models_agree(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            differences = compare_metadata(
                MigrationContext.configure(connection, opts={"compare_type": False}), Base.metadata
            )
    finally:
        engine.dispose()
    assert differences == []
