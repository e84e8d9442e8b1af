"""Indexes in the order of the instance listings (flows.storage.repository.instances_listing).

A page of one workflow's instances read them all and sorted them; a page of the running ones
walked every instance in creation order, skipping the terminated. Now each listing has an index
in its own order, and the running ones are partial (only the instances still running, small
and cheap to keep): a page reads its own rows, and the look for running instances
(flows.engine.reconcile) no longer scans the table.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

TABLE = "workflow_instances"
# The same expression as the listings' filter (tables.RUNNING): a planner uses a partial
# index only for a query whose condition matches the index's.
RUNNING = sa.column("terminated", sa.Boolean).is_(False)


def upgrade() -> None:
    op.create_index("workflow_instances_workflow_created", TABLE, ["workflow_id", "created_at", "id"])
    for name, columns in (
        ("workflow_instances_running", ["created_at", "id"]),
        ("workflow_instances_workflow_running", ["workflow_id", "created_at", "id"]),
    ):
        op.create_index(name, TABLE, columns, sqlite_where=RUNNING, postgresql_where=RUNNING)
    # Its column leads workflow_instances_workflow_created, which the foreign key's lookups use now.
    op.drop_index("workflow_instances_workflow", table_name=TABLE)


def downgrade() -> None:
    op.create_index("workflow_instances_workflow", TABLE, ["workflow_id"])
    for name in ("workflow_instances_workflow_running", "workflow_instances_running", "workflow_instances_workflow_created"):
        op.drop_index(name, table_name=TABLE)
