"""Instances whose Temporal workflow was ended outside Flows show terminated, with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from temporalio.client import Client

from flows.engine.reconcile import end_instance
from flows.storage.records import ActivityRecord, InstanceRecord, StageStatusRecord, WorkflowRecord
from flows.storage.repository import Repository
from tests.engine.helpers import (
    create_workflow,
    ended,
    run,
    temporal_address,
    waiting_on_event,
)
from tests.support.polling import eventually
from tests.support.service import FlowsProcess

WAITING = [{"wait_event": {"event": "approved"}}, {"noop": {}}]


async def terminate(address: str, instance_id: str, reason: str) -> None:
    client = await Client.connect(address)
    await client.get_workflow_handle(instance_id).terminate(reason=reason)


def ended_by_temporal(service: FlowsProcess, instance_id: str, reason: str) -> None:
    error = f"terminated in Temporal: {reason}"
    found = eventually(lambda: ended(service.url, instance_id))
    assert found["error"] == error
    assert found["terminatedAt"]
    [stage] = found["status"]
    assert stage["error"] == error and stage["terminatedAt"]
    sent = httpx.post(f"{service.url}/instances/{instance_id}/events", json={"name": "approved"})
    assert sent.status_code == 400
    assert "is terminated" in sent.json()["errorMessage"]


async def test_a_workflow_terminated_in_temporal_ends_its_instance(service: FlowsProcess) -> None:
    instance_id = run(service.url, create_workflow(service.url, WAITING))
    eventually(lambda: waiting_on_event(service.url, instance_id))

    await terminate(temporal_address(service.data_dir), instance_id, "operator cleanup")

    ended_by_temporal(service, instance_id, "operator cleanup")


async def test_a_termination_while_flows_was_down_is_found_at_startup(service: FlowsProcess) -> None:
    instance_id = run(service.url, create_workflow(service.url, WAITING))
    eventually(lambda: waiting_on_event(service.url, instance_id))
    service.kill()  # the embedded Temporal is left running: terminate there, Flows down

    await terminate(temporal_address(service.data_dir), instance_id, "while down")
    service.start()

    ended_by_temporal(service, instance_id, "while down")


async def test_only_a_running_instance_is_ended_never_one_the_worker_ended(
    repository: Repository,
) -> None:
    at = datetime(2025, 1, 1, tzinfo=UTC)
    await repository.create_workflow(WorkflowRecord(id="w", config={"stages": []}, created_at=at, updated_at=at))
    for instance_id, terminated_at in (("done", at), ("running", None)):
        await repository.save_progress(
            InstanceRecord(
                id=instance_id, workflow_id="w", created_at=at, updated_at=at,
                terminated=terminated_at is not None, terminated_at=terminated_at,
            ),
            [StageStatusRecord(instance_id, 0, "run", started_at=at, terminated_at=terminated_at)],
        )  # fmt: skip

    assert not await end_instance(repository, "done", "terminated in Temporal: late")
    assert await end_instance(repository, "running", "terminated in Temporal: now")
    assert not await end_instance(repository, "running", "terminated in Temporal: again")

    done = await repository.get_instance("done")
    assert done is not None and done.error is None and done.terminated_at == at
    assert [(row.terminated_at, row.error) for row in done.stages] == [(at, None)]
    running = await repository.get_instance("running")
    assert running is not None and running.terminated and running.terminated_at
    assert running.error == "terminated in Temporal: now"
    assert [row.error for row in running.stages] == ["terminated in Temporal: now"]


async def test_a_progress_write_after_the_end_leaves_the_ended_instance_as_it_is(repository: Repository) -> None:
    # A stack call's attempt starting as an abort ends the instance writes the progress it was
    # sent with (flows/stack/activities.py): the end must stay, the attempt is still recorded.
    at, later = datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC)
    await repository.create_workflow(WorkflowRecord(id="w", config={"stages": []}, created_at=at, updated_at=at))
    ended = InstanceRecord(id="i", workflow_id="w", created_at=at, updated_at=later, terminated=True, terminated_at=later, error="canceled")
    await repository.save_progress(ended, [StageStatusRecord("i", 0, "run", started_at=at, terminated_at=later, error="canceled")])
    running = InstanceRecord(id="i", workflow_id="w", created_at=at, updated_at=at, terminated=False)
    call = ActivityRecord(instance_id="i", stage=0, activity_id="0-0", name="CreateTransaction", input={}, started_at=at, attempt=2)

    prior = await repository.save_progress(running, [StageStatusRecord("i", 0, "run", started_at=at)], call)

    assert prior.instance_terminated and prior.stages == {0: True}
    instance = await repository.get_instance("i")
    assert instance is not None and instance.terminated and instance.terminated_at == later and instance.error == "canceled"
    assert [(row.terminated_at, row.error) for row in instance.stages] == [(later, "canceled")]
    assert [(row.activity_id, row.attempt) for row in await repository.list_activities("i", 0)] == [("0-0", 2)]
