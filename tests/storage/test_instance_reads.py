"""Reading an instance back, the API's hottest read: exactly what was written, always current."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from flows.storage.records import InstanceRecord, StageStatusRecord, WorkflowRecord
from flows.storage.repository import Repository

CONFIG = {"stages": [{"wait_event": {"event": "go"}}, {"noop": {}}], "name": "z-first"}
STARTED = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)


async def _started_instance(repository: Repository) -> InstanceRecord:
    workflow = WorkflowRecord(str(uuid.uuid4()), CONFIG, STARTED, STARTED)
    await repository.create_workflow(workflow)
    instance = InstanceRecord(str(uuid.uuid4()), workflow.id, STARTED, STARTED, False)
    await repository.insert_instance(instance)
    return instance


def _stage(instance: InstanceRecord, number: int, **changes: object) -> StageStatusRecord:
    stage = StageStatusRecord(instance.id, number, "run-1", STARTED + timedelta(seconds=number))
    return replace(stage, **changes)


async def test_an_instance_reads_back_with_its_workflow_and_stages_in_order(
    repository: Repository,
) -> None:
    instance = await _started_instance(repository)
    ended = STARTED + timedelta(seconds=5)
    stages = [
        _stage(instance, 1, name="RunNoop", input={}, terminated_at=ended),
        _stage(instance, 0, name="RunWaitEvent", input={"event": "go"}, terminated_at=ended),
    ]
    finished = replace(instance, updated_at=ended, terminated=True, terminated_at=ended)
    await repository.save_progress(finished, stages)

    found = await repository.get_instance(instance.id)

    assert found is not None
    assert (found.id, found.workflow_id, found.error) == (instance.id, instance.workflow_id, None)
    assert found.terminated is True
    assert (found.created_at, found.updated_at, found.terminated_at) == (STARTED, ended, ended)
    assert found.created_at.tzinfo is not None
    assert found.workflow is not None
    assert list(found.workflow.config) == ["stages", "name"]  # as submitted, not sorted
    assert found.workflow.config == CONFIG
    assert found.workflow.deleted_at is None
    assert [stage.stage for stage in found.stages] == [0, 1]
    assert found.stages[0] == stages[1]


async def test_a_read_sees_every_write_committed_before_it(repository: Repository) -> None:
    instance = await _started_instance(repository)
    for number in range(3):
        before = await repository.get_instance(instance.id)
        assert before is not None and len(before.stages) == number
        await repository.save_progress(instance, [_stage(instance, number)])
    ended = STARTED + timedelta(minutes=1)
    await repository.save_progress(
        replace(instance, terminated=True, terminated_at=ended, error="canceled"), []
    )

    found = await repository.get_instance(instance.id)

    assert found is not None
    assert (found.terminated, found.terminated_at, found.error) == (True, ended, "canceled")
    assert len(found.stages) == 3


async def test_reads_leave_no_snapshot_open_that_would_block_a_checkpoint(
    repository: Repository,
) -> None:
    instance = await _started_instance(repository)
    for _ in range(3):
        assert await repository.get_instance(instance.id) is not None
    if not repository.db.is_sqlite:
        return  # PostgreSQL connections go back to the pool after each read
    path = repository.db.engine.url.database
    assert path is not None
    with sqlite3.connect(path) as other:
        busy, _, _ = other.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    assert busy == 0


async def test_unknown_and_unstorable_ids_find_nothing(repository: Repository) -> None:
    await _started_instance(repository)
    assert await repository.get_instance(str(uuid.uuid4())) is None
    assert await repository.get_instance("not-a-uuid") is None
    assert await repository.get_instance("nul\x00byte") is None


async def test_stage_rows_come_back_exact_in_numeric_order(repository: Repository) -> None:
    instance = await _started_instance(repository)
    amount = 2**70 + 1  # beyond a double's 53 bits: money is never rounded on the way back
    stages = [
        _stage(instance, number, name="RunSend", input={"amount": amount, "memo": "café ✓", "n": number}, error=f"e{number}")
        for number in (11, 2, 10, 0, 1)
    ]
    await repository.save_progress(instance, stages)

    found = await repository.get_instance(instance.id)

    assert found is not None
    assert [stage.stage for stage in found.stages] == [0, 1, 2, 10, 11]
    assert found.stages == sorted(stages, key=lambda stage: stage.stage)
    assert found.stages[0].input == {"amount": amount, "memo": "café ✓", "n": 0}
    assert found.stages[0].started_at.tzinfo is not None
