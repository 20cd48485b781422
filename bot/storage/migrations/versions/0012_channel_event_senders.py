"""webhook events carry their sender, so one sender's events are processed in arrival order on
every replica

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channel_events") as batch_op:
        batch_op.add_column(sa.Column("sender", sa.String(64), nullable=True))
    op.create_index("ix_channel_events_sender", "channel_events", ["channel", "sender"])


def downgrade() -> None:
    op.drop_index("ix_channel_events_sender", table_name="channel_events")
    with op.batch_alter_table("channel_events") as batch_op:
        batch_op.drop_column("sender")
