"""a channel's message id is unique per citizen; ids that reach links are never reused on SQLite

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# SQLite hands a deleted table's last rowid to the next row unless the table is AUTOINCREMENT: console
# and media links, rating buttons and messages' citizen carry these ids. PostgreSQL sequences never go back.
NEVER_REUSED = ("citizens", "conversations", "messages", "handoffs")


def _recreate(table: str, autoincrement: bool):
    sqlite = op.get_bind().dialect.name == "sqlite"
    return op.batch_alter_table(
        table, recreate="always" if sqlite else "auto", table_kwargs={"sqlite_autoincrement": autoincrement}
    )


def upgrade() -> None:
    for table in NEVER_REUSED:
        if table != "messages":
            with _recreate(table, True):
                pass
    with _recreate("messages", True) as batch_op:
        batch_op.add_column(sa.Column("citizen_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_messages_citizen_id", "citizens", ["citizen_id"], ["id"])
        batch_op.drop_constraint("uq_message_channel_id", type_="unique")
        batch_op.create_unique_constraint("uq_message_citizen_id", ["citizen_id", "direction", "channel_message_id"])
    op.execute(
        "UPDATE messages SET citizen_id = (SELECT conversations.citizen_id FROM conversations "
        "WHERE conversations.id = messages.conversation_id) WHERE direction = 'in'"
    )


def downgrade() -> None:
    with _recreate("messages", False) as batch_op:
        batch_op.drop_constraint("uq_message_citizen_id", type_="unique")
        batch_op.create_unique_constraint("uq_message_channel_id", ["channel", "direction", "channel_message_id"])
        batch_op.drop_constraint("fk_messages_citizen_id", type_="foreignkey")
        batch_op.drop_column("citizen_id")
    for table in NEVER_REUSED:
        if table != "messages":
            with _recreate(table, False):
                pass
