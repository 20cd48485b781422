"""what citizens and volunteers wrote, encrypted at rest: rows stored in clear are encrypted

JSON columns become text columns (they hold a token); their values stay JSON once decrypted.

Revision ID: 0011
Revises: 0010
"""

from contextlib import nullcontext

import sqlalchemy as sa
from alembic import op

from bot.storage import crypto

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

TEXT_COLUMNS = [("messages", "text"), ("handoff_notes", "text"), ("faq_drafts", "question"), ("faq_drafts", "answer")]
JSON_COLUMNS = [
    ("messages", "buttons"),
    ("messages", "media"),
    ("messages", "rasa_request"),
    ("turns", "entities"),
    ("handoffs", "packet"),
    ("channel_events", "payload"),
]


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":  # SQLite stores JSON as text already
        for table, column in JSON_COLUMNS:
            op.alter_column(table, column, type_=sa.Text(), postgresql_using=f"{column}::text")
    ring = crypto.current_ring()
    encrypted = sum(
        crypto.reencrypt_column(lambda: nullcontext(bind), table, column, ring, crypto.clear_values)
        for table, column in TEXT_COLUMNS + JSON_COLUMNS
    )
    print(f"encrypted {encrypted} stored values written before encryption")


def downgrade() -> None:
    bind = op.get_bind()
    ring = crypto.current_ring()
    for table, column in TEXT_COLUMNS + JSON_COLUMNS:
        rows = bind.execute(sa.text(f"SELECT id, {column} FROM {table} WHERE {column} LIKE '{crypto.PREFIX}%'")).all()
        for row_id, value in rows:
            bind.execute(
                sa.text(f"UPDATE {table} SET {column} = :clear WHERE id = :id"),
                {"id": row_id, "clear": ring.decrypt(value)},
            )
    if bind.dialect.name == "postgresql":
        for table, column in JSON_COLUMNS:
            op.alter_column(table, column, type_=sa.JSON(), postgresql_using=f"{column}::json")
