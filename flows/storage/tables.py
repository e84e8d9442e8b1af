"""The database schema. Table and column names follow the reference implementation's schema."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)


class UTCDateTime(TypeDecorator[datetime]):
    """Naive UTC in the database (as the reference stores it), aware UTC in Python."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)

    def result_processor(self, dialect: Any, coltype: Any) -> Any:
        # SQLite keeps the ISO text SQLAlchemy wrote; the C parser reads it ten times faster
        # than the dialect's regular expression, and every timestamp of every read passes here.
        if dialect.name == "sqlite":
            return utc_from_sqlite
        return super().result_processor(dialect, coltype)


# The same times come back read after read (an instance's stages share its last update; clients
# poll an instance until it ends), and a datetime never changes: a cache is always right.
@functools.lru_cache(maxsize=4096)
def utc_from_sqlite(value: str | None) -> datetime | None:
    # Parsed with its zone: `datetime.replace` would cost more than the parse.
    return None if value is None else datetime.fromisoformat(value + "+00:00")


metadata = MetaData()

workflows = Table(
    "workflows",
    metadata,
    Column("id", String, primary_key=True),
    # JSON rather than JSONB so the config comes back with its keys in the order submitted.
    Column("config", JSON, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    Index("workflows_created", "created_at", "id"),
)

workflow_instances = Table(
    "workflow_instances",
    metadata,
    Column("id", String, primary_key=True),
    Column("workflow_id", String, ForeignKey("workflows.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("terminated", Boolean, nullable=False, default=False),
    Column("terminated_at", UTCDateTime),
    Column("error", Text),
    # One per listing (repository.instances_listing), each in the listing's order, so that a
    # page reads its own rows however many instances there are (migration 0006); the running
    # ones are partial: they hold only the instances still running.
    Index("workflow_instances_created", "created_at", "id"),
    Index("workflow_instances_workflow_created", "workflow_id", "created_at", "id"),
)
RUNNING = workflow_instances.c.terminated.is_(False)
Index(
    "workflow_instances_running", workflow_instances.c.created_at, workflow_instances.c.id, sqlite_where=RUNNING, postgresql_where=RUNNING
)
Index(
    "workflow_instances_workflow_running",
    workflow_instances.c.workflow_id,
    workflow_instances.c.created_at,
    workflow_instances.c.id,
    sqlite_where=RUNNING,
    postgresql_where=RUNNING,
)

# One row per stage reached. `name` and `input` are set once the stage has been resolved and
# started: they make the instance history, which must outlive Temporal's retention.
workflow_instance_stage_statuses = Table(
    "workflow_instance_stage_statuses",
    metadata,
    Column("instance_id", String, ForeignKey("workflow_instances.id"), primary_key=True),
    Column("stage", Integer, primary_key=True),
    Column("temporal_run_id", String, nullable=False, default=""),
    Column("started_at", UTCDateTime, nullable=False),
    Column("terminated_at", UTCDateTime),
    Column("error", Text),
    Column("name", String),
    Column("input", JSON),
)

# One row per activity of a stage, recorded by the activity itself as it runs.
workflow_instance_activities = Table(
    "workflow_instance_activities",
    metadata,
    Column("instance_id", String, ForeignKey("workflow_instances.id"), primary_key=True),
    Column("stage", Integer, primary_key=True),
    Column("activity_id", String, primary_key=True),
    Column("name", String, nullable=False),
    Column("input", JSON, nullable=False),
    Column("output", JSON),
    Column("error", Text),
    Column("attempt", Integer, nullable=False, default=1),
    Column("started_at", UTCDateTime, nullable=False),
    Column("terminated_at", UTCDateTime),
    Column("last_failure", Text),
)

triggers = Table(
    "triggers",
    metadata,
    Column("id", String, primary_key=True),
    Column("workflow_id", String, ForeignKey("workflows.id"), nullable=False),
    Column("name", String, nullable=False, default=""),
    Column("event", String, nullable=False),
    Column("version", String),
    Column("filter", Text),
    Column("vars", JSON),
    Column("created_at", UTCDateTime, nullable=False),
    Column("deleted_at", UTCDateTime),
    Index("triggers_created", "created_at", "id"),
)

triggers_occurrences = Table(
    "triggers_occurrences",
    metadata,
    Column("id", String, primary_key=True),
    Column("trigger_id", String, ForeignKey("triggers.id"), nullable=False),
    Column("workflow_instance_id", String, ForeignKey("workflow_instances.id")),
    Column("date", UTCDateTime, nullable=False),
    Column("event", JSON, nullable=False),
    Column("error", Text),
    # What makes a trigger fire at most once for an event (payload id or message id).
    Column("dedup_key", String),
    Index("triggers_occurrences_trigger", "trigger_id", "date", "id"),
    UniqueConstraint("trigger_id", "dedup_key", name="triggers_occurrences_dedup"),
)

# Events that could not be processed, kept to be seen (flows.triggers.listener): the id derives
# from source and message id (one row per message however often it is redelivered); `raw` is the
# message cut to a bounded size, escaped where a text column could not hold it (invalid UTF-8,
# NUL); `raw_size` its size in bytes as received.
dead_letters = Table(
    "dead_letters",
    metadata,
    Column("id", String, primary_key=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("source", String, nullable=False),
    Column("message_id", String, nullable=False),
    Column("reason", Text, nullable=False),
    Column("raw", Text, nullable=False),
    Column("raw_size", Integer, nullable=False),
    Index("dead_letters_received", "received_at", "id"),
)

# Small service-wide secrets shared by every process of a deployment (the token signing key).
service_secrets = Table(
    "service_secrets",
    metadata,
    Column("name", String, primary_key=True),
    Column("value", LargeBinary, nullable=False),
)
