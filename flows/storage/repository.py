"""Reading and writing the service's rows. Every list is ordered by creation time, then id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping

from flows.storage.database import Database, PreparedRead
from flows.storage.nested import nested_rows
from flows.storage.records import (
    ActivityRecord,
    DeadLetterRecord,
    InstanceCounts,
    InstanceRecord,
    OccurrenceRecord,
    Page,
    StageStatusRecord,
    TriggerRecord,
    WorkflowRecord,
)
from flows.storage.tables import (
    RUNNING,
    dead_letters,
    service_secrets,
    triggers,
    triggers_occurrences,
    workflow_instance_activities,
    workflow_instance_stage_statuses,
    workflow_instances,
    workflows,
)


@dataclass(frozen=True)
class PriorProgress:
    """An instance's rows before a progress write: terminated, and each stage row's number →
    whether it was terminated."""

    instance_terminated: bool
    stages: dict[int, bool]


def _upsert(insert: Any, table: Any, key: list[str], replaced: list[str], kept: list[str] | None = None) -> Any:
    """`insert` of one row of `table` from bind parameters named as its columns, replacing the
    `replaced` columns of the row with the same `key` (none: the row is kept as it is), and the
    `kept` columns only with a value that is not null."""
    statement = insert(table).values({column.name: bindparam(column.name) for column in table.c})
    if not replaced:
        return statement.on_conflict_do_nothing()
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[table.c[name] for name in key],
        set_={
            **{name: excluded[name] for name in replaced},
            **{name: func.coalesce(excluded[name], table.c[name]) for name in kept or []},
        },
    )


class _Writes:
    """The worker's writes, each built once for the dialect from bind parameters: building an
    upsert per call (its values, its `excluded` columns, its cache key) cost SQLAlchemy twice
    what the write itself costs, on every stage and stack call."""

    def __init__(self, insert: Any) -> None:
        instances, stages, activities = workflow_instances, workflow_instance_stage_statuses, workflow_instance_activities
        self.insert_instance = _upsert(insert, instances, ["id"], [])
        self.upsert_instance = _upsert(insert, instances, ["id"], ["updated_at", "terminated", "terminated_at", "error"])
        self.upsert_stage = _upsert(
            insert, stages, ["instance_id", "stage"], ["temporal_run_id", "terminated_at", "error", "name", "input"]
        )
        self.save_activity = _upsert(
            insert,
            activities,
            ["instance_id", "stage", "activity_id"],
            ["output", "error", "attempt", "terminated_at"],
            # An attempt starting does not know why the previous one failed: keep that.
            kept=["last_failure"],
        )
        self.prior_terminated = select(instances.c.terminated).where(instances.c.id == bindparam("instance_id"))
        self.prior_stages = select(stages.c.stage, stages.c.terminated_at).where(stages.c.instance_id == bindparam("instance_id"))


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._writes = _Writes(sqlite.insert if db.is_sqlite else postgresql.insert)

    def _insert(self, table: Any) -> Any:
        dialect = sqlite if self.db.is_sqlite else postgresql
        return dialect.insert(table)

    # -- workflows ----------------------------------------------------------------------------

    async def create_workflow(self, record: WorkflowRecord) -> None:
        async with self.db.write() as conn:
            await conn.execute(workflows.insert().values(**asdict(record)))

    async def get_workflow(self, workflow_id: str) -> WorkflowRecord | None:
        if not _storable(workflow_id):
            return None
        rows = await self.db.fetch(_WORKFLOW, {"workflow_id": workflow_id})
        return WorkflowRecord(*rows[0]) if rows else None

    async def list_workflows(self, offset: int, limit: int | None) -> Page[WorkflowRecord]:
        query = select(workflows).where(workflows.c.deleted_at.is_(None))
        query = query.order_by(workflows.c.created_at, workflows.c.id)
        rows, has_more = await self._page(query, offset, limit)
        return Page([_workflow(row) for row in rows], has_more)

    async def delete_workflow(self, workflow_id: str, now: datetime) -> bool:
        """Soft-delete; False when there is no such workflow or it is already deleted."""
        if not _storable(workflow_id):
            return False
        async with self.db.write() as conn:
            result = await conn.execute(
                update(workflows).where(workflows.c.id == workflow_id, workflows.c.deleted_at.is_(None)).values(deleted_at=now)
            )
        return result.rowcount == 1

    # -- instances ----------------------------------------------------------------------------

    async def insert_instance(self, record: InstanceRecord) -> None:
        """Record a started instance unless the worker already did (it may be faster)."""
        values = _instance_values(record)
        await self.db.transaction(lambda conn: conn.execute(self._writes.insert_instance, values))

    async def save_progress(
        self, instance: InstanceRecord, stages: list[StageStatusRecord], activity: ActivityRecord | None = None
    ) -> PriorProgress:
        """Upsert an instance row and some of its stage rows in one transaction (idempotent), and
        `activity`'s record with them (a stack call's first write, flows/stack/activities.py);
        what those rows said before (lifecycle events are the difference).

        An instance row that says ended is final: a write that comes after the end (a stack
        call's attempt starting as an abort ends the instance) leaves it and its stages as they are."""
        writes, key, values = self._writes, {"instance_id": instance.id}, _instance_values(instance)
        rows = [asdict(stage) for stage in stages]
        activity_values = asdict(activity) if activity is not None else None

        def progress(conn: Connection) -> PriorProgress:
            prior_terminated = bool(conn.execute(writes.prior_terminated, key).scalar())
            prior_stages = {row.stage: row.terminated_at is not None for row in conn.execute(writes.prior_stages, key)}
            if not prior_terminated:
                conn.execute(writes.upsert_instance, values)
                if rows:
                    conn.execute(writes.upsert_stage, rows)
            if activity_values is not None:
                conn.execute(writes.save_activity, activity_values)
            return PriorProgress(prior_terminated, prior_stages)

        return await self.db.transaction(progress)

    async def get_instance(self, instance_id: str) -> InstanceRecord | None:
        """The instance with its workflow and stage rows."""
        if not _storable(instance_id):
            return None
        rows = await self.db.fetch(_INSTANCE, {"instance_id": instance_id})
        if not rows:
            return None
        # The columns are the records' fields in order (_INSTANCE): the instance's, its workflow's, its stages.
        id_, workflow_id, created_at, updated_at, terminated, terminated_at, error, *workflow, stages = rows[0]
        return InstanceRecord(
            id_,
            workflow_id,
            created_at,
            updated_at,
            terminated,
            terminated_at,
            error,
            WorkflowRecord(*workflow),
            [StageStatusRecord(id_, *stage) for stage in stages],
        )

    async def list_instances(
        self, workflow_id: str, running: bool, offset: int, limit: int | None, *, ended: str = "", newest_first: bool = False
    ) -> Page[InstanceRecord]:
        """`ended`: "terminated" or "failed" (terminated with an error) keeps only those."""
        if not _storable(workflow_id):
            return Page([], False)
        rows, has_more = await self._page(instances_listing(workflow_id, running, ended, newest_first), offset, limit)
        return Page([_instance(row) for row in rows], has_more)

    async def count_instances(self, workflow_ids: list[str]) -> dict[str, InstanceCounts]:
        """How many instances each workflow has, running and failed among them (none: absent)."""
        table = workflow_instances
        query = (
            select(
                table.c.workflow_id,
                func.count(),
                func.count().filter(RUNNING),
                func.count().filter(table.c.terminated.is_(True), table.c.error.is_not(None)),
            )
            .where(table.c.workflow_id.in_([id_ for id_ in workflow_ids if _storable(id_)]))
            .group_by(table.c.workflow_id)
        )
        async with self.db.read() as conn:
            rows: list[Any] = list((await conn.execute(query)).all())
        return {row[0]: InstanceCounts(total=row[1], running=row[2], failed=row[3]) for row in rows}

    async def running_instance_ids(self) -> list[str]:
        async with self.db.read() as conn:
            return list((await conn.execute(running_ids())).scalars())

    async def list_activities(self, instance_id: str, stage: int) -> list[ActivityRecord]:
        if not _storable(instance_id):
            return []
        table = workflow_instance_activities
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(table)
                    .where(table.c.instance_id == instance_id, table.c.stage == stage)
                    .order_by(table.c.started_at, table.c.activity_id)
                )
            ).mappings()
            return [ActivityRecord(**row) for row in rows]

    async def save_activity(self, record: ActivityRecord) -> None:
        """Record an activity's start or outcome; a later write for the same id replaces it."""
        values = asdict(record)
        await self.db.transaction(lambda conn: conn.execute(self._writes.save_activity, values))

    async def end_activities(self, instance_id: str, error: str, at: datetime) -> None:
        """Mark the instance's activities that never ended as ended with `error` (an abort)."""
        table = workflow_instance_activities
        async with self.db.write() as conn:
            await conn.execute(
                update(table)
                .where(table.c.instance_id == instance_id, table.c.terminated_at.is_(None))
                .values(terminated_at=at, error=error)
            )

    # -- triggers -----------------------------------------------------------------------------

    async def create_trigger(self, record: TriggerRecord) -> None:
        async with self.db.write() as conn:
            await conn.execute(triggers.insert().values(**asdict(record)))

    async def get_trigger(self, trigger_id: str) -> TriggerRecord | None:
        if not _storable(trigger_id):
            return None
        query = select(triggers).where(triggers.c.id == trigger_id, triggers.c.deleted_at.is_(None))
        async with self.db.read() as conn:
            row = (await conn.execute(query)).mappings().first()
        return TriggerRecord(**row) if row else None

    async def list_triggers(self, name: str, offset: int, limit: int | None) -> Page[TriggerRecord]:
        if not _storable(name):
            return Page([], False)
        query = select(triggers).where(triggers.c.deleted_at.is_(None))
        if name:
            pattern = "%" + _escape_like(name.lower()) + "%"
            query = query.where(func.lower(triggers.c.name).like(pattern, escape="\\"))
        query = query.order_by(triggers.c.created_at, triggers.c.id)
        rows, has_more = await self._page(query, offset, limit)
        return Page([TriggerRecord(**row) for row in rows], has_more)

    async def delete_trigger(self, trigger_id: str, now: datetime) -> bool:
        if not _storable(trigger_id):
            return False
        async with self.db.write() as conn:
            result = await conn.execute(
                update(triggers).where(triggers.c.id == trigger_id, triggers.c.deleted_at.is_(None)).values(deleted_at=now)
            )
        return result.rowcount == 1

    async def list_occurrences(self, trigger_id: str, offset: int, limit: int | None) -> Page[OccurrenceRecord]:
        if not _storable(trigger_id):
            return Page([], False)
        occurrence = triggers_occurrences
        query = (
            select(occurrence, *_instance_columns())
            .select_from(
                occurrence.outerjoin(
                    workflow_instances,
                    workflow_instances.c.id == occurrence.c.workflow_instance_id,
                )
            )
            .where(occurrence.c.trigger_id == trigger_id)
            .order_by(occurrence.c.date, occurrence.c.id)
        )
        rows, has_more = await self._page(query, offset, limit)
        return Page([_occurrence(row) for row in rows], has_more)

    async def matching_triggers(self, event_type: str, version: str | None) -> list[TriggerRecord]:
        """Live triggers on `event_type` whose version is unset or `version`, oldest first.

        Triggers of a soft-deleted workflow are left out: deleting a workflow stops its triggers.
        """
        if not _storable(event_type) or (version is not None and not _storable(version)):
            return []
        version_matches = (
            triggers.c.version.is_(None) if version is None else or_(triggers.c.version.is_(None), triggers.c.version == version)
        )
        query = (
            select(triggers)
            .select_from(triggers.join(workflows, workflows.c.id == triggers.c.workflow_id))
            .where(
                triggers.c.deleted_at.is_(None),
                workflows.c.deleted_at.is_(None),
                triggers.c.event == event_type,
                version_matches,
            )
            .order_by(triggers.c.created_at, triggers.c.id)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).mappings()
            return [TriggerRecord(**row) for row in rows]

    async def live_trigger_events(self) -> set[str]:
        """The event types of the triggers not deleted (a superset of what can match)."""
        query = select(triggers.c.event).where(triggers.c.deleted_at.is_(None)).distinct()
        async with self.db.read() as conn:
            return set((await conn.execute(query)).scalars())

    async def has_occurrence(self, trigger_id: str, dedup_key: str) -> bool:
        """Whether the trigger has already fired for that de-duplication key."""
        if not _storable(dedup_key):
            return False
        occurrence = triggers_occurrences
        query = select(occurrence.c.id).where(occurrence.c.trigger_id == trigger_id, occurrence.c.dedup_key == dedup_key)
        async with self.db.read() as conn:
            return (await conn.execute(query)).first() is not None

    async def insert_occurrence(self, record: OccurrenceRecord, dedup_key: str) -> bool:
        """Record an occurrence; False when the trigger already has one for `dedup_key`."""
        values = {
            "id": record.id,
            "trigger_id": record.trigger_id,
            "workflow_instance_id": record.workflow_instance_id,
            "date": record.date,
            "event": record.event,
            "error": record.error,
            "dedup_key": dedup_key,
        }
        async with self.db.write() as conn:
            result = await conn.execute(
                self._insert(triggers_occurrences).values(**values).on_conflict_do_nothing().returning(triggers_occurrences.c.id)
            )
            return result.first() is not None

    # -- dead letters -------------------------------------------------------------------------

    async def insert_dead_letter(self, record: DeadLetterRecord) -> bool:
        """Keep a dead letter; False when one with its id (same source and message) is kept."""
        async with self.db.write() as conn:
            result = await conn.execute(
                self._insert(dead_letters).values(**asdict(record)).on_conflict_do_nothing().returning(dead_letters.c.id)
            )
            return result.first() is not None

    async def list_dead_letters(self, offset: int, limit: int) -> Page[DeadLetterRecord]:
        """Newest first."""
        query = select(dead_letters).order_by(dead_letters.c.received_at.desc(), dead_letters.c.id.desc())
        rows, has_more = await self._page(query, offset, limit)
        return Page([DeadLetterRecord(**row) for row in rows], has_more)

    # -- service secrets ----------------------------------------------------------------------

    async def secret(self, name: str, create: bytes) -> bytes:
        """The stored secret of that name; `create` is stored first when there is none."""
        async with self.db.write() as conn:
            await conn.execute(self._insert(service_secrets).values(name=name, value=create).on_conflict_do_nothing())
            result = await conn.execute(select(service_secrets.c.value).where(service_secrets.c.name == name))
            return bytes(result.scalar_one())

    # -- helpers ------------------------------------------------------------------------------

    async def _page(self, query: Select[Any], offset: int, limit: int | None) -> tuple[list[RowMapping], bool]:
        if limit is not None:
            query = query.offset(offset).limit(limit + 1)
        async with self.db.read() as conn:
            rows = list((await conn.execute(query)).mappings())
        if limit is not None and len(rows) > limit:
            return rows[:limit], True
        return rows, False


def instances_listing(workflow_id: str, running: bool, ended: str = "", newest_first: bool = False) -> Select[Any]:
    """The instances listed, with their workflow: of one workflow when `workflow_id` is given,
    only those not terminated when `running`. Each filter has an index that keeps the order
    (tables.py), so a page reads its own rows, not every instance."""
    query = _instances_with_workflow().where(workflows.c.deleted_at.is_(None))
    if workflow_id:
        query = query.where(workflow_instances.c.workflow_id == workflow_id)
    if running:
        query = query.where(RUNNING)
    if ended:
        query = query.where(workflow_instances.c.terminated.is_(True))
    if ended == "failed":
        query = query.where(workflow_instances.c.error.is_not(None))
    if newest_first:
        return query.order_by(workflow_instances.c.created_at.desc(), workflow_instances.c.id.desc())
    return query.order_by(workflow_instances.c.created_at, workflow_instances.c.id)


def running_ids() -> Select[Any]:
    return select(workflow_instances.c.id).where(RUNNING)


def _storable(text: str) -> bool:
    """Whether a text column can hold `text`: PostgreSQL's cannot hold NUL, so no row has one and
    a lookup by such a key finds nothing (instead of failing inside the driver)."""
    return "\x00" not in text


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _instance_values(record: InstanceRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "workflow_id": record.workflow_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "terminated": record.terminated,
        "terminated_at": record.terminated_at,
        "error": record.error,
    }


def _workflow_columns() -> list[Any]:
    return [column.label(f"wf_{column.name}") for column in workflows.c]


def _instance_columns() -> list[Any]:
    return [column.label(f"instance_{column.name}") for column in workflow_instances.c]


def _instances_with_workflow() -> Select[Any]:
    return select(workflow_instances, *_workflow_columns()).select_from(
        workflow_instances.join(workflows, workflows.c.id == workflow_instances.c.workflow_id)
    )


def _in_field_order(read: PreparedRead, expected: list[str]) -> PreparedRead:
    """`read`, once checked to select the `expected` columns in that order: its rows make
    records positionally (keyword arguments and a mapping per row cost a third of an instance
    read), so the records' fields and the tables' columns must stay in the same order."""
    if list(read.keys) != expected:
        raise AssertionError(f"columns {read.keys} are not the fields {expected}")
    return read


def _field_names(record: type[Any], prefix: str = "", count: int | None = None) -> list[str]:
    return [prefix + field.name for field in fields(record)][:count]


# Built once: the most frequent reads, where building a statement costs more than running it.
_WORKFLOW = _in_field_order(PreparedRead(select(workflows).where(workflows.c.id == bindparam("workflow_id"))), _field_names(WorkflowRecord))
_STAGE_COLUMNS = [column for column in workflow_instance_stage_statuses.c if column.name != "instance_id"]
if [column.name for column in _STAGE_COLUMNS] != _field_names(StageStatusRecord)[1:]:
    raise AssertionError("the stage rows' columns are not StageStatusRecord's fields after instance_id")
_INSTANCE = _in_field_order(
    PreparedRead(
        _instances_with_workflow()
        .add_columns(
            select(nested_rows(*_STAGE_COLUMNS))
            .where(workflow_instance_stage_statuses.c.instance_id == workflow_instances.c.id)
            .scalar_subquery()
            .label("stages")
        )
        .where(workflow_instances.c.id == bindparam("instance_id"))
    ),
    _field_names(InstanceRecord, count=len(workflow_instances.c)) + _field_names(WorkflowRecord, "wf_") + ["stages"],
)


def _workflow(row: Mapping[Any, Any], prefix: str = "") -> WorkflowRecord:
    return WorkflowRecord(
        id=row[f"{prefix}id"],
        config=row[f"{prefix}config"],
        created_at=row[f"{prefix}created_at"],
        updated_at=row[f"{prefix}updated_at"],
        deleted_at=row[f"{prefix}deleted_at"],
    )


def _instance(row: Mapping[Any, Any], stages: list[StageStatusRecord] | None = None, prefix: str = "") -> InstanceRecord:
    return InstanceRecord(
        id=row[f"{prefix}id"],
        workflow_id=row[f"{prefix}workflow_id"],
        created_at=row[f"{prefix}created_at"],
        updated_at=row[f"{prefix}updated_at"],
        terminated=row[f"{prefix}terminated"],
        terminated_at=row[f"{prefix}terminated_at"],
        error=row[f"{prefix}error"],
        workflow=_workflow(row, "wf_") if "wf_config" in row else None,
        stages=stages or [],
    )


def _occurrence(row: RowMapping) -> OccurrenceRecord:
    instance = _instance(row, prefix="instance_") if row["instance_id"] else None
    return OccurrenceRecord(
        id=row["id"],
        trigger_id=row["trigger_id"],
        date=row["date"],
        event=row["event"],
        workflow_instance_id=row["workflow_instance_id"],
        error=row["error"],
        instance=instance,
    )
