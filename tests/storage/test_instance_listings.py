"""Instance listings read their page from an index in the page's order (migration 0006): their
cost does not grow with the number of instances, running or ended, of other workflows."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Select, text

from flows.storage.records import InstanceRecord, WorkflowRecord
from flows.storage.repository import Repository, instances_listing, running_ids

WORKFLOW = "00000000-0000-0000-0000-000000000001"
RUNNING = ("workflow_instances_running", "workflow_instances_workflow_running")
# Each listing, and the indexes that answer it (either partial one holds every running instance).
LISTINGS = {
    "every instance": (instances_listing("", False).limit(16), ("workflow_instances_created",)),
    "one workflow's": (instances_listing(WORKFLOW, False).limit(16), ("workflow_instances_workflow_created",)),
    "the running ones": (instances_listing("", True).limit(16), ("workflow_instances_running",)),
    "one workflow's running ones": (instances_listing(WORKFLOW, True), ("workflow_instances_workflow_running",)),
    "running ids (reconciliation)": (running_ids(), RUNNING),
}


async def _plan(repository: Repository, query: Select[object]) -> str:
    database = repository.db
    async with database.engine.connect() as conn:
        sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
        if database.is_sqlite:
            rows = (await conn.execute(text("EXPLAIN QUERY PLAN " + sql))).all()
        else:
            # On tables this small PostgreSQL would rightly scan: forbid what would not scale,
            # so that the plan shows which index answers.
            for setting in ("enable_seqscan", "enable_bitmapscan", "enable_sort"):
                await conn.execute(text(f"SET {setting} = off"))
            rows = (await conn.execute(text("EXPLAIN " + sql))).all()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize("listing", LISTINGS)
async def test_a_listing_reads_from_an_index_in_its_order(repository: Repository, listing: str) -> None:
    query, indexes = LISTINGS[listing]
    plan = await _plan(repository, query)
    assert any(re.search(rf"\b{index}\b", plan) for index in indexes), plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


async def test_the_running_listing_holds_exactly_the_running_instances_in_creation_order(repository: Repository) -> None:
    created = datetime(2026, 5, 6, tzinfo=UTC)
    workflow = WorkflowRecord(str(uuid.uuid4()), {"name": "w", "stages": [{"noop": {}}]}, created, created)
    await repository.create_workflow(workflow)
    instances = [
        InstanceRecord(str(uuid.uuid4()), workflow.id, created + timedelta(seconds=n), created, terminated=n % 2 == 0) for n in range(6)
    ]
    for instance in reversed(instances):
        await repository.insert_instance(instance)
    running = await repository.list_instances(workflow.id, True, 0, 15)
    assert [item.id for item in running.items] == [item.id for item in instances if not item.terminated]
    every = await repository.list_instances("", True, 0, 2)
    assert [item.id for item in every.items] == [instances[1].id, instances[3].id] and every.has_more
