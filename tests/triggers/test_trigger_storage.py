"""Trigger selection and occurrence de-duplication in the repository, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from flows.storage.records import OccurrenceRecord, TriggerRecord, WorkflowRecord
from flows.storage.repository import Repository


def _now() -> datetime:
    return datetime.now(UTC)


async def _workflow(repository: Repository) -> str:
    record = WorkflowRecord(str(uuid.uuid4()), {"stages": [{"noop": {}}]}, _now(), _now())
    await repository.create_workflow(record)
    return record.id


async def _trigger(repository: Repository, workflow_id: str, event: str, version: str | None = None) -> str:
    record = TriggerRecord(str(uuid.uuid4()), workflow_id, "", event, _now(), version=version)
    await repository.create_trigger(record)
    return record.id


async def test_matching_triggers_by_type_and_version(repository: Repository) -> None:
    workflow = await _workflow(repository)
    any_version = await _trigger(repository, workflow, "COMMITTED_TRANSACTIONS")
    v2 = await _trigger(repository, workflow, "COMMITTED_TRANSACTIONS", "v2")
    await _trigger(repository, workflow, "SAVED_METADATA")
    found = await repository.matching_triggers("COMMITTED_TRANSACTIONS", "v2")
    assert [t.id for t in found] == [any_version, v2]
    found = await repository.matching_triggers("COMMITTED_TRANSACTIONS", "v1")
    assert [t.id for t in found] == [any_version]
    assert [t.id for t in await repository.matching_triggers("COMMITTED_TRANSACTIONS", None)] == [any_version]
    assert await repository.matching_triggers("committed_transactions", "v2") == []


async def test_deleted_triggers_and_workflows_do_not_match(repository: Repository) -> None:
    kept_workflow = await _workflow(repository)
    deleted_workflow = await _workflow(repository)
    kept = await _trigger(repository, kept_workflow, "E")
    deleted = await _trigger(repository, kept_workflow, "E")
    await _trigger(repository, deleted_workflow, "E")
    assert await repository.delete_trigger(deleted, _now())
    assert await repository.delete_workflow(deleted_workflow, _now())
    assert [t.id for t in await repository.matching_triggers("E", "v1")] == [kept]


async def test_insert_occurrence_once_per_dedup_key(repository: Repository) -> None:
    workflow = await _workflow(repository)
    first = await _trigger(repository, workflow, "E")
    second = await _trigger(repository, workflow, "E")

    def occurrence(trigger_id: str) -> OccurrenceRecord:
        return OccurrenceRecord(str(uuid.uuid4()), trigger_id, _now(), {"type": "E", "payload": {}}, error="x")

    assert not await repository.has_occurrence(first, "key")
    assert await repository.insert_occurrence(occurrence(first), "key")
    assert await repository.has_occurrence(first, "key")
    assert not await repository.insert_occurrence(occurrence(first), "key")
    assert await repository.insert_occurrence(occurrence(first), "other")
    assert await repository.insert_occurrence(occurrence(second), "key")
    page = await repository.list_occurrences(first, 0, None)
    assert len(page.items) == 2
    assert page.items[0].error == "x"
