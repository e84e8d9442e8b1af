"""An activity's last failed attempt, kept past the end of its retries (flows.stack.activities).

While Temporal retries an activity, the live retry state says why the last attempt failed; once
the instance is aborted that state is gone, and the history would forget why the stage was stuck.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"


def upgrade() -> None:
    op.add_column("workflow_instance_activities", sa.Column("last_failure", sa.Text))


def downgrade() -> None:
    op.drop_column("workflow_instance_activities", "last_failure")
