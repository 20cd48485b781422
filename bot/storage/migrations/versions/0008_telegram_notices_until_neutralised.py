"""volunteer notices on Telegram are kept until edited to a neutral text, detached from deleted handoffs

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("telegram_notices") as batch_op:
        batch_op.add_column(sa.Column("handoff_number", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("neutralise", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.alter_column("handoff_id", existing_type=sa.Integer(), nullable=True)
    op.execute("UPDATE telegram_notices SET handoff_number = handoff_id")
    with op.batch_alter_table("telegram_notices") as batch_op:
        batch_op.alter_column("handoff_number", existing_type=sa.Integer(), nullable=False)


def downgrade() -> None:
    op.execute("DELETE FROM telegram_notices WHERE handoff_id IS NULL")
    with op.batch_alter_table("telegram_notices") as batch_op:
        batch_op.alter_column("handoff_id", existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column("neutralise")
        batch_op.drop_column("handoff_number")
