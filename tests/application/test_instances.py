"""Instance use cases on a real Temporal dev server and worker: run (with wait and with a key),
read, events, abort, histories."""

from __future__ import annotations

from typing import Any

import pytest

from flows.application import Application, Invalid, NotFound
from tests.application.conftest import ON_SQLITE

pytestmark = ON_SQLITE


async def _no_variables() -> Any:
    return {}


async def _workflow_id(application: Application, stages: list[dict[str, Any]]) -> str:
    return (await application.workflows.create({"stages": stages})).id


async def test_a_run_with_wait_answers_the_ended_instance_and_its_history(with_engine: Application) -> None:
    workflow_id = await _workflow_id(with_engine, [{"noop": {}}, {"noop": {}}])
    run = await with_engine.workflows.run(workflow_id, _no_variables, wait=True)
    assert run.started and run.instance.terminated and run.instance.error is None
    assert await with_engine.instances.get(run.instance.id) == run.instance
    assert [stage.name for stage in await with_engine.instances.history(run.instance.id)] == ["RunNoop", "RunNoop"]
    assert await with_engine.instances.stage_history(run.instance.id, 1) == []
    with pytest.raises(NotFound, match="has not started"):
        await with_engine.instances.stage_history(run.instance.id, 2)
    with pytest.raises(Invalid, match="terminated"):
        await with_engine.instances.send_event(run.instance.id, "go")
    await with_engine.instances.abort(run.instance.id)  # nothing to stop: no error


async def test_a_second_run_with_the_same_key_is_the_first_instance(with_engine: Application) -> None:
    workflow_id = await _workflow_id(with_engine, [{"wait_event": {"event": "go"}}])
    first = await with_engine.workflows.run(workflow_id, _no_variables, key="order-1")
    again = await with_engine.workflows.run(workflow_id, _no_variables, key="order-1")
    assert first.started and not again.started
    assert again.instance.id == first.instance.id
    assert again.instance.created_at == first.instance.created_at
    listed = await with_engine.instances.list(workflow_id, running=True)
    assert [item.id for item in listed.items] == [first.instance.id]
    await with_engine.instances.send_event(first.instance.id, "go", key="event-1")
    # The same key again, waiting: the instance as it stands once the event ended it.
    ended = await with_engine.workflows.run(workflow_id, _no_variables, key="order-1", wait=True)
    assert ended.instance.id == first.instance.id
    assert ended.instance.terminated and ended.instance.error is None


async def test_abort_stops_a_waiting_instance(with_engine: Application) -> None:
    workflow_id = await _workflow_id(with_engine, [{"wait_event": {"event": "go"}}])
    aborted = (await with_engine.workflows.run(workflow_id, _no_variables)).instance
    await with_engine.instances.abort(aborted.id)
    stopped = await with_engine.instances.get(aborted.id)
    assert stopped.terminated and stopped.error == "canceled"
    with pytest.raises(Invalid, match="terminated"):
        await with_engine.instances.send_event(aborted.id, "go")


async def test_an_unknown_instance_is_not_found(with_engine: Application) -> None:
    for use_case in (
        with_engine.instances.get,
        with_engine.instances.history,
        with_engine.instances.abort,
    ):
        with pytest.raises(NotFound):
            await use_case("no-such-instance")
    with pytest.raises(NotFound):
        await with_engine.instances.send_event("no-such-instance", "go")

