"""Trigger occurrences de-duplication: `dedup_key`, unique per trigger.

An occurrence carries the key that makes a trigger fire at most once for it: the payload `id` of
SAVED_PAYMENT / SAVED_ACCOUNT events, otherwise the broker's message id (a redelivered message is
processed once). NULL for occurrences recorded before this revision (NULLs never collide).

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"


def upgrade() -> None:
    with op.batch_alter_table("triggers_occurrences") as batch:
        batch.add_column(sa.Column("dedup_key", sa.String, nullable=True))
        batch.create_unique_constraint("triggers_occurrences_dedup", ["trigger_id", "dedup_key"])


def downgrade() -> None:
    with op.batch_alter_table("triggers_occurrences") as batch:
        batch.drop_constraint("triggers_occurrences_dedup", type_="unique")
        batch.drop_column("dedup_key")
