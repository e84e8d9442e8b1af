"""The instance workflow on real Temporal servers: the time-skipping test server for long
delays, the dev server for events and cancellation, and replay of recorded histories."""

from __future__ import annotations

import asyncio
import json
import shutil
import sysconfig
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from flows.engine.client import Engine
from flows.engine.models import InstanceInput
from flows.engine.worker import build_worker
from flows.engine.workflow import InstanceWorkflow
from flows.stages import STAGES
from flows.stages.noop import Noop
from flows.storage.database import Database, sqlalchemy_url
from flows.storage.records import WorkflowRecord
from flows.storage.repository import Repository

HISTORIES = Path(__file__).parent / "histories"
WORKFLOW_ID = "0d7f3c52-7a0e-4b8e-9d55-0f5f0c6b1a11"


def _binary(name: str) -> str:
    found = shutil.which(name) or str(Path(sysconfig.get_path("scripts")) / name)
    assert Path(found).exists(), f"{name} is installed with the test extras"
    return found


@pytest.fixture
async def repository(tmp_path: Path) -> AsyncIterator[Repository]:
    database = Database(sqlalchemy_url(None, tmp_path / "flows.db"))
    await database.migrate()
    repository = Repository(database)
    now = datetime.now(UTC)
    await repository.create_workflow(WorkflowRecord(WORKFLOW_ID, {"stages": []}, now, now))
    yield repository
    await database.close()


def _instance(stages: list[dict], variables: dict[str, str] | None = None) -> InstanceInput:
    return InstanceInput(
        instance_id=str(uuid.uuid4()),
        workflow_id=WORKFLOW_ID,
        stages=stages,
        variables=variables or {},
        created_at=datetime.now(UTC),
    )


async def _run(client: Client, repository: Repository, instance: InstanceInput) -> None:
    engine = Engine(client, "flows-test")
    async with build_worker(client, "flows-test", repository):
        await engine.start(instance)
        await client.get_workflow_handle(instance.instance_id).result()


async def test_a_thirty_day_delay_completes_under_time_skipping(repository: Repository) -> None:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    ) as env:
        instance = _instance([{"delay": {"duration": "720h"}}, {"noop": {}}])
        async with build_worker(env.client, "flows-test", repository):
            await Engine(env.client, "flows-test").start(instance)
            handle = env.client.get_workflow_handle(instance.instance_id)
            while not any([e.HasField("timer_started_event_attributes") async for e in handle.fetch_history_events()]):
                await asyncio.sleep(0.05)
            await env.sleep(timedelta(days=31))
            await handle.result()
    stored = await repository.get_instance(instance.instance_id)
    assert stored is not None and stored.terminated and stored.error is None
    delay, noop = stored.stages
    assert delay.name == "RunDelay" and delay.input == {"duration": "720h0m0s"}
    assert delay.terminated_at is not None
    assert delay.terminated_at - delay.started_at >= timedelta(days=30)
    assert noop.name == "RunNoop"


async def test_a_failing_stage_ends_the_instance_and_later_stages_never_start(
    repository: Repository,
) -> None:
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_binary("temporal-test-server"),
        data_converter=pydantic_data_converter,
    ) as env:
        instance = _instance(
            [{"noop": {}}, {"delay": {"duration": "${wait}"}}, {"noop": {}}], {"wait": "soon"}
        )
        await _run(env.client, repository, instance)
    stored = await repository.get_instance(instance.instance_id)
    assert stored is not None and stored.terminated
    assert stored.error is not None and "soon" in stored.error
    assert [stage.stage for stage in stored.stages] == [0, 1]
    failed = stored.stages[1]
    assert failed.error == stored.error and failed.terminated_at is not None
    assert failed.name is None, "a stage that failed to resolve never started"


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"), data_converter=pydantic_data_converter
    )
    yield env
    await env.shutdown()


async def test_events_sent_before_the_wait_are_kept_and_consumed_once(
    dev_server: WorkflowEnvironment, repository: Repository
) -> None:
    client = dev_server.client
    engine = Engine(client, "flows-test")
    instance = _instance(
        [{"delay": {"duration": "1s"}}, {"wait_event": {"event": "go"}}, {"wait_event": {"event": "go"}}]
    )
    async with build_worker(client, "flows-test", repository):
        await engine.start(instance)
        await engine.deliver_event(instance.instance_id, "go", "first")
        await engine.deliver_event(instance.instance_id, "go", "first")  # same key: delivered once
        assert not await engine.wait(instance.instance_id, 3)
        stored = await repository.get_instance(instance.instance_id)
        assert stored is not None and [s.terminated_at is not None for s in stored.stages] == [True, True, False]
        await engine.deliver_event(instance.instance_id, "go", None)
        assert await engine.wait(instance.instance_id, 5)


async def test_cancel_ends_the_running_stage_and_the_instance_as_canceled(
    dev_server: WorkflowEnvironment, repository: Repository
) -> None:
    client = dev_server.client
    engine = Engine(client, "flows-test")
    instance = _instance([{"noop": {}}, {"delay": {"duration": "1h"}}, {"noop": {}}])
    async with build_worker(client, "flows-test", repository):
        await engine.start(instance)
        await engine.wait(instance.instance_id, 0.5)
        await engine.cancel(instance.instance_id, 5)
        with pytest.raises(WorkflowFailureError):
            await client.get_workflow_handle(instance.instance_id).result()
    stored = await repository.get_instance(instance.instance_id)
    assert stored is not None and stored.terminated and stored.error == "canceled"
    assert [(s.stage, s.error) for s in stored.stages] == [(0, None), (1, "canceled")]


@pytest.mark.parametrize("recorded", sorted(HISTORIES.glob("*.json")), ids=lambda p: p.stem)
async def test_recorded_histories_replay_deterministically(recorded: Path) -> None:
    history = WorkflowHistory.from_json(recorded.stem, json.loads(recorded.read_text()))
    replayer = Replayer(workflows=[InstanceWorkflow], data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)


class _CrashingStage(Noop):
    async def run(self, ctx: object) -> None:
        raise KeyError("initialAmount")


async def test_a_crash_in_stage_code_fails_the_stage_with_its_text(
    dev_server: WorkflowEnvironment, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(STAGES, "noop", _CrashingStage)
    instance = _instance([{"noop": {}}, {"delay": {"duration": "1s"}}])
    await _run(dev_server.client, repository, instance)
    stored = await repository.get_instance(instance.instance_id)
    assert stored is not None and stored.terminated
    assert stored.error == "stage crashed: KeyError: 'initialAmount'"
    assert [stage.stage for stage in stored.stages] == [0]
