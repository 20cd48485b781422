"""guide events

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "guide_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rasa_sender_id", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("event", sa.String(length=24), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("guide_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_guide_events_rasa_sender_id"), ["rasa_sender_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_guide_events_slug"), ["slug"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("guide_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_events_slug"))
        batch_op.drop_index(batch_op.f("ix_guide_events_rasa_sender_id"))

    op.drop_table("guide_events")
