"""Alembic environment: the URL comes from the caller (bot.storage.db.upgrade) or settings."""

from alembic import context
from sqlalchemy import create_engine

from bot.settings import get_settings
from bot.storage.models import Base

url = context.config.get_main_option("sqlalchemy.url") or get_settings().db_url
connectable = create_engine(url)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=url.startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
