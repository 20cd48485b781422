"""turn decisions, how a citizen is addressed, when a waiting citizen was last told

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("procedure", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("aspect", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("outcome", sa.String(length=16), nullable=True))
        batch_op.alter_column("latency_ms", existing_type=sa.Integer(), nullable=True)
        batch_op.create_index("ix_turns_outcome", ["outcome"])
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address_as", sa.String(length=10), nullable=True))
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("citizen_told_waiting_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_column("citizen_told_waiting")


def downgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("citizen_told_waiting", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.drop_column("citizen_told_waiting_at")
    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("address_as")
    with op.batch_alter_table("turns", schema=None) as batch_op:
        batch_op.drop_index("ix_turns_outcome")
        batch_op.alter_column("latency_ms", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("outcome")
        batch_op.drop_column("aspect")
        batch_op.drop_column("procedure")
