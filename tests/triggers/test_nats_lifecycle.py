"""Lifecycle events (docs/events.md): derived from the bookkeeping writes, published to NATS and into
the in-process pipeline (a trigger on SUCCEEDED_WORKFLOW of one workflow starts another)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import nats
import pytest
from formance_sdk_python import SDK

from flows.engine.models import Progress, StageProgress
from flows.engine.lifecycle import derive, map_topic
from tests.api.helpers import create_workflow, run
from tests.conftest import Api
from tests.support.nats import NatsServer, nats_server  # noqa: F401  (a session fixture)
from tests.support.service import FlowsProcess
from tests.triggers.test_trigger_firing import create_trigger, instance_ids, occurrences
from tests.support.polling import eventually

T0 = datetime(2025, 3, 1, tzinfo=UTC)


def progress(**fields: Any) -> Progress:
    return Progress(instance_id="i", workflow_id="w", run_id="r", created_at=T0, updated_at=T0, **fields)


def kinds(events: list[tuple[str, dict[str, Any]]]) -> list[tuple[str, dict[str, Any]]]:
    return [(event["type"], event["payload"]) for _, event in events]


def test_a_first_write_of_a_running_stage_starts_the_workflow_and_the_stage() -> None:
    events = derive(progress(stages=[StageProgress(number=0, started_at=T0)]), False, {})
    assert kinds(events) == [
        ("STARTED_WORKFLOW", {"id": "w", "instanceID": "i"}),
        ("STARTED_WORKFLOW_STAGE", {"id": "w", "instanceID": "i", "number": 0}),
    ]
    for _, event in events:
        assert event["app"] == "orchestration" and event["version"] == "v2"
        assert event["idempotency_key"] == "" and event["date"].endswith("Z")


def test_a_stage_ending_and_the_instance_failing() -> None:
    ended = StageProgress(number=0, started_at=T0, terminated_at=T0)
    failed = StageProgress(number=1, started_at=T0, terminated_at=T0, error="boom")
    events = derive(progress(stages=[ended, failed], terminated=True, terminated_at=T0, error="boom"), False, {0: False})
    assert kinds(events) == [
        ("SUCCEEDED_WORKFLOW_STAGE", {"id": "w", "instanceID": "i", "number": 0}),
        ("STARTED_WORKFLOW_STAGE", {"id": "w", "instanceID": "i", "number": 1}),
        ("FAILED_WORKFLOW_STAGE", {"id": "w", "instanceID": "i", "number": 1, "error": "boom"}),
        ("FAILED_WORKFLOW", {"id": "w", "instanceID": "i", "error": "boom"}),
    ]


def test_a_retried_write_publishes_nothing_again() -> None:
    done = progress(stages=[StageProgress(number=0, started_at=T0, terminated_at=T0)], terminated=True)
    assert derive(done, True, {0: True}) == []
    assert [event["type"] for _, event in derive(done, False, {0: True})] == ["SUCCEEDED_WORKFLOW"]


def test_topic_mapping() -> None:
    assert map_topic("orchestration", [], "prod") == "prod.orchestration"
    assert map_topic("orchestration", [], "") == "orchestration"
    assert map_topic("orchestration", ["*:x.orchestration"], "prod") == "x.orchestration"
    assert map_topic("orchestration", ["*:a", "orchestration:b"], "prod") == "b"


# -- end to end -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifecycle_stack(tmp_path_factory: pytest.TempPathFactory, nats_server: NatsServer) -> Iterator[tuple[str, FlowsProcess]]:  # noqa: F811
    stack = "life" + uuid.uuid4().hex[:6]

    async def create_stream() -> None:
        connection = await nats.connect(nats_server.url)
        await connection.jetstream().add_stream(name=stack, subjects=[f"{stack}.*"])
        await connection.close()

    asyncio.run(create_stream())
    service = FlowsProcess(
        tmp_path_factory.mktemp("lifecycle") / "data", "--stack", stack, "--nats-url", nats_server.url
    ).start()
    try:
        yield stack, service
    finally:
        service.stop()


def test_a_run_publishes_its_lifecycle_to_nats(lifecycle_stack: tuple[str, FlowsProcess], nats_server: NatsServer) -> None:  # noqa: F811
    stack, service = lifecycle_stack
    api = Api("sqlite", service, SDK(server_url=service.url))
    workflow_id = create_workflow(api, [{"noop": {}}])

    async def scenario() -> list[dict[str, Any]]:
        connection = await nats.connect(nats_server.url)
        received: list[dict[str, Any]] = []

        async def on_message(msg: Any) -> None:
            received.append(json.loads(msg.data))

        subscription = await connection.subscribe(f"{stack}.orchestration", cb=on_message)
        await connection.flush()
        instance = await asyncio.to_thread(run, api, workflow_id)
        deadline = asyncio.get_running_loop().time() + 20
        mine: list[dict[str, Any]] = []
        while asyncio.get_running_loop().time() < deadline:
            mine = [event for event in received if event["payload"].get("instanceID") == instance.id]
            if any(event["type"] == "SUCCEEDED_WORKFLOW" for event in mine):
                break
            await asyncio.sleep(0.1)
        await subscription.unsubscribe()
        await connection.close()
        return [instance.id, mine]  # type: ignore[list-item]

    instance_id, events = asyncio.run(scenario())
    base = {"id": workflow_id, "instanceID": instance_id}
    assert [(event["type"], event["payload"]) for event in events] == [
        ("STARTED_WORKFLOW", base),
        ("STARTED_WORKFLOW_STAGE", {**base, "number": 0}),
        ("SUCCEEDED_WORKFLOW_STAGE", {**base, "number": 0}),
        ("SUCCEEDED_WORKFLOW", base),
    ]
    assert all(event["app"] == "orchestration" and event["version"] == "v2" for event in events)


def test_a_workflow_success_triggers_another_in_process(lifecycle_stack: tuple[str, FlowsProcess]) -> None:
    _, service = lifecycle_stack
    api = Api("sqlite", service, SDK(server_url=service.url))
    first = create_workflow(api, [{"noop": {}}], name="first")
    second = create_workflow(api, [{"noop": {}}], name="second")
    trigger_id = create_trigger(
        api, second, "SUCCEEDED_WORKFLOW", filter=f'event.id == "{first}"', vars={"from": "event.instanceID"}
    )
    instance = run(api, first)
    [occurrence] = eventually(lambda: occurrences(api, trigger_id), timeout=20)
    assert occurrence.error is None
    assert occurrence.event["type"] == "SUCCEEDED_WORKFLOW"
    assert occurrence.event["payload"] == {"id": first, "instanceID": instance.id}
    assert instance_ids(api, second) == [occurrence.workflow_instance_id]


def test_a_fired_trigger_publishes_succeeded_trigger_in_process(lifecycle_stack: tuple[str, FlowsProcess]) -> None:
    _, service = lifecycle_stack
    api = Api("sqlite", service, SDK(server_url=service.url))
    first = create_workflow(api, [{"noop": {}}], name="first")
    second = create_workflow(api, [{"noop": {}}], name="second")
    third = create_workflow(api, [{"noop": {}}], name="third")
    chained = create_trigger(api, second, "SUCCEEDED_WORKFLOW", filter=f'event.id == "{first}"')
    watcher = create_trigger(api, third, "SUCCEEDED_TRIGGER", filter=f'event.triggerID == "{chained}"')
    run(api, first)
    [fired] = eventually(lambda: occurrences(api, chained), timeout=20)
    [seen] = eventually(lambda: occurrences(api, watcher), timeout=20)
    assert seen.event["type"] == "SUCCEEDED_TRIGGER"
    payload = seen.event["payload"]
    assert set(payload) == {"id", "triggerID", "workflowInstanceID"} and payload["id"]
    assert payload["triggerID"] == chained
    assert payload["workflowInstanceID"] == fired.workflow_instance_id
