"""Reading and writing the service's rows. Every list is ordered by creation time, then id."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import RowMapping

from flows.storage.database import Database, PreparedRead
from flows.storage.records import (
    ActivityRecord,
    DeadLetterRecord,
    InstanceRecord,
    OccurrenceRecord,
    Page,
    StageStatusRecord,
    TriggerRecord,
    WorkflowRecord,
)
from flows.storage.tables import (
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


class Repository:
    def __init__(self, db: Database) -> None:
        self.db = db

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
        async with self.db.read() as conn:
            row = (await conn.execute(select(workflows).where(workflows.c.id == workflow_id))).mappings().first()
        return _workflow(row) if row else None

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
        async with self.db.write() as conn:
            await conn.execute(self._insert(workflow_instances).values(**values).on_conflict_do_nothing())

    async def save_progress(self, instance: InstanceRecord, stages: list[StageStatusRecord]) -> PriorProgress:
        """Upsert an instance row and some of its stage rows in one transaction (idempotent);
        what those rows said before (lifecycle events are the difference)."""
        values = _instance_values(instance)
        upsert_instance = self._insert(workflow_instances).values(**values)
        upsert_instance = upsert_instance.on_conflict_do_update(
            index_elements=[workflow_instances.c.id],
            set_={key: upsert_instance.excluded[key] for key in ("updated_at", "terminated", "terminated_at", "error")},
        )
        async with self.db.write() as conn:
            prior_terminated = (
                await conn.execute(select(workflow_instances.c.terminated).where(workflow_instances.c.id == instance.id))
            ).scalar()
            prior_stages = {
                row.stage: row.terminated_at is not None
                for row in await conn.execute(
                    select(
                        workflow_instance_stage_statuses.c.stage,
                        workflow_instance_stage_statuses.c.terminated_at,
                    ).where(workflow_instance_stage_statuses.c.instance_id == instance.id)
                )
            }
            await conn.execute(upsert_instance)
            if stages:
                insert_stages = self._insert(workflow_instance_stage_statuses).values([asdict(stage) for stage in stages])
                await conn.execute(
                    insert_stages.on_conflict_do_update(
                        index_elements=[
                            workflow_instance_stage_statuses.c.instance_id,
                            workflow_instance_stage_statuses.c.stage,
                        ],
                        set_={
                            key: insert_stages.excluded[key]
                            for key in (
                                "temporal_run_id",
                                "terminated_at",
                                "error",
                                "name",
                                "input",
                            )
                        },
                    )
                )
        return PriorProgress(bool(prior_terminated), prior_stages)

    async def get_instance(self, instance_id: str) -> InstanceRecord | None:
        """The instance with its workflow and stage rows."""
        if not _storable(instance_id):
            return None
        parameters = {"instance_id": instance_id}
        rows = await self.db.fetch(_INSTANCE, parameters)
        if not rows:
            return None
        stages = [StageStatusRecord(**stage) for stage in await self.db.fetch(_STAGES, parameters)]
        return _instance(rows[0], stages)

    async def list_instances(self, workflow_id: str, running: bool, offset: int, limit: int | None) -> Page[InstanceRecord]:
        if not _storable(workflow_id):
            return Page([], False)
        query = _instances_with_workflow().where(workflows.c.deleted_at.is_(None))
        if workflow_id:
            query = query.where(workflow_instances.c.workflow_id == workflow_id)
        if running:
            query = query.where(workflow_instances.c.terminated.is_(False))
        query = query.order_by(workflow_instances.c.created_at, workflow_instances.c.id)
        rows, has_more = await self._page(query, offset, limit)
        return Page([_instance(row) for row in rows], has_more)

    async def running_instance_ids(self) -> list[str]:
        async with self.db.read() as conn:
            result = await conn.execute(select(workflow_instances.c.id).where(workflow_instances.c.terminated.is_(False)))
            return list(result.scalars())

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
        statement = self._insert(workflow_instance_activities).values(**values)
        statement = statement.on_conflict_do_update(
            index_elements=[
                workflow_instance_activities.c.instance_id,
                workflow_instance_activities.c.stage,
                workflow_instance_activities.c.activity_id,
            ],
            set_={key: statement.excluded[key] for key in ("output", "error", "attempt", "terminated_at")},
        )
        async with self.db.write() as conn:
            await conn.execute(statement)

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


# Built once: the most frequent reads, where building a statement costs more than running it.
_INSTANCE = PreparedRead(_instances_with_workflow().where(workflow_instances.c.id == bindparam("instance_id")))
_STAGES = PreparedRead(
    select(workflow_instance_stage_statuses)
    .where(workflow_instance_stage_statuses.c.instance_id == bindparam("instance_id"))
    .order_by(workflow_instance_stage_statuses.c.stage)
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
