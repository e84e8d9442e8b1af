"""Dead letters: events that could not be processed, kept to be seen (flows.triggers.listener).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from flows.storage.tables import UTCDateTime

revision = "0004"
down_revision = "0003"


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("source", sa.String, nullable=False),
        sa.Column("message_id", sa.String, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("raw", sa.Text, nullable=False),
        sa.Column("raw_size", sa.Integer, nullable=False),
    )
    op.create_index("dead_letters_received", "dead_letters", ["received_at", "id"])


def downgrade() -> None:
    op.drop_index("dead_letters_received", table_name="dead_letters")
    op.drop_table("dead_letters")
