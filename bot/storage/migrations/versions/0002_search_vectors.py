"""search vectors

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "search_vectors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model", sa.String(length=64), nullable=False),
        sa.Column("slug", sa.String(length=80), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("vector", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("model", "slug", "position"),
    )
    with op.batch_alter_table("search_vectors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_search_vectors_slug"), ["slug"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("search_vectors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_search_vectors_slug"))

    op.drop_table("search_vectors")
