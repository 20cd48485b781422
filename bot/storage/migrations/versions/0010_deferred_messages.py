"""messages kept while Rasa or the action server is down: what to ask Rasa, and an index on status

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("messages") as batch_op:
        batch_op.add_column(sa.Column("rasa_request", sa.JSON(), nullable=True))
    op.create_index("ix_messages_status", "messages", ["status"])


def downgrade() -> None:
    op.drop_index("ix_messages_status", table_name="messages")
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_column("rasa_request")
