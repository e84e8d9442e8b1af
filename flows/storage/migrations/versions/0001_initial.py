"""Workflows, instances, stage statuses, activities, triggers, occurrences, service secrets.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from flows.storage.tables import UTCDateTime

revision = "0001"
down_revision = None


def upgrade() -> None:
    op.create_table(
        "workflows",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("config", sa.JSON, nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("deleted_at", UTCDateTime),
    )
    op.create_index("workflows_created", "workflows", ["created_at", "id"])
    op.create_table(
        "workflow_instances",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("workflow_id", sa.String, sa.ForeignKey("workflows.id"), nullable=False),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("terminated", sa.Boolean, nullable=False),
        sa.Column("terminated_at", UTCDateTime),
        sa.Column("error", sa.Text),
    )
    op.create_index("workflow_instances_created", "workflow_instances", ["created_at", "id"])
    op.create_index("workflow_instances_workflow", "workflow_instances", ["workflow_id"])
    op.create_table(
        "workflow_instance_stage_statuses",
        sa.Column("instance_id", sa.String, sa.ForeignKey("workflow_instances.id"), primary_key=True),
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("temporal_run_id", sa.String, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("terminated_at", UTCDateTime),
        sa.Column("error", sa.Text),
        sa.Column("name", sa.String),
        sa.Column("input", sa.JSON),
    )
    op.create_table(
        "workflow_instance_activities",
        sa.Column("instance_id", sa.String, sa.ForeignKey("workflow_instances.id"), primary_key=True),
        sa.Column("stage", sa.Integer, primary_key=True),
        sa.Column("activity_id", sa.String, primary_key=True),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("input", sa.JSON, nullable=False),
        sa.Column("output", sa.JSON),
        sa.Column("error", sa.Text),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", UTCDateTime, nullable=False),
        sa.Column("terminated_at", UTCDateTime),
    )
    op.create_table(
        "triggers",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("workflow_id", sa.String, sa.ForeignKey("workflows.id"), nullable=False),
        sa.Column("name", sa.String, nullable=False),
        sa.Column("event", sa.String, nullable=False),
        sa.Column("version", sa.String),
        sa.Column("filter", sa.Text),
        sa.Column("vars", sa.JSON),
        sa.Column("created_at", UTCDateTime, nullable=False),
        sa.Column("deleted_at", UTCDateTime),
    )
    op.create_index("triggers_created", "triggers", ["created_at", "id"])
    op.create_table(
        "triggers_occurrences",
        sa.Column("id", sa.String, primary_key=True),
        sa.Column("trigger_id", sa.String, sa.ForeignKey("triggers.id"), nullable=False),
        sa.Column("workflow_instance_id", sa.String, sa.ForeignKey("workflow_instances.id")),
        sa.Column("date", UTCDateTime, nullable=False),
        sa.Column("event", sa.JSON, nullable=False),
        sa.Column("error", sa.Text),
    )
    op.create_index("triggers_occurrences_trigger", "triggers_occurrences", ["trigger_id", "date", "id"])
    op.create_table(
        "service_secrets",
        sa.Column("name", sa.String, primary_key=True),
        sa.Column("value", sa.LargeBinary, nullable=False),
    )
