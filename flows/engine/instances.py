"""Starting an instance of a workflow: the one path shared by the API and the triggers."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from flows.engine.client import Engine, instance_id_for
from flows.engine.models import InstanceInput
from flows.storage.records import InstanceRecord, WorkflowRecord
from flows.storage.repository import Repository


async def start_instance(
    engine: Engine,
    repository: Repository,
    workflow: WorkflowRecord,
    variables: dict[str, str],
    key: str | None,
    trigger_id: str | None = None,
) -> tuple[InstanceRecord, bool]:
    """Start the workflow's Temporal workflow and record its instance row; `trigger_id`: the
    trigger that fired it, a search attribute of the workflow (flows.engine.search_attributes).

    With a `key`, the instance id derives from it: a retry finds the instance already started
    (False), and gets it back with its first start's creation time. The row is recorded either
    way, so a retry after a crash between the two steps still leaves it in the database.
    """
    created = datetime.now(UTC)
    instance = InstanceRecord(
        id=instance_id_for(workflow.id, key),
        workflow_id=workflow.id,
        created_at=created,
        updated_at=created,
        terminated=False,
    )
    started = await engine.start(
        InstanceInput(
            instance_id=instance.id,
            workflow_id=workflow.id,
            stages=workflow.config["stages"],
            variables=variables,
            created_at=created,
        ),
        trigger_id,
    )
    if not started:
        original = await engine.started_input(instance.id)
        if original is not None:
            instance = replace(instance, created_at=original.created_at, updated_at=original.created_at)
    await repository.insert_instance(instance)
    return instance, started
