"""Trigger use cases: CRUD with the trigger-type cache told at once, tests of a trigger against a
payload, and triggers of a deleted workflow never firing."""

from __future__ import annotations

from typing import Any

import pytest

from flows.application import Application, Evaluation, Invalid, NotFound
from flows.triggers.listener import HTTP
from tests.application.conftest import ON_SQLITE

pytestmark = ON_SQLITE

NOOP: dict[str, Any] = {"stages": [{"noop": {}}]}


async def _workflow_id(application: Application) -> str:
    return (await application.workflows.create(NOOP)).id


async def test_a_trigger_created_or_deleted_is_seen_by_the_next_event_at_once(without_engine: Application) -> None:
    trigger_types = without_engine.events.handler.trigger_types
    trigger_types.ttl = 3600  # only an invalidation may reload the set
    assert not await trigger_types.may_match("PAID")
    trigger = await without_engine.triggers.create(event="PAID", workflow_id=await _workflow_id(without_engine))
    assert await trigger_types.may_match("PAID")
    await without_engine.triggers.delete(trigger.id)
    assert not await trigger_types.may_match("PAID")
    with pytest.raises(NotFound):
        await without_engine.triggers.delete(trigger.id)


async def test_a_trigger_needs_an_event_a_live_workflow_and_compiling_expressions(
    without_engine: Application,
) -> None:
    triggers = without_engine.triggers
    workflow_id = await _workflow_id(without_engine)
    with pytest.raises(Invalid, match="missing event"):
        await triggers.create(event="", workflow_id=workflow_id)
    with pytest.raises(Invalid, match="error compiling expression"):
        await triggers.create(event="PAID", workflow_id=workflow_id, filter="event.amount >")
    await without_engine.workflows.delete(workflow_id)
    with pytest.raises(NotFound, match="workflow"):
        await triggers.create(event="PAID", workflow_id=workflow_id)
    assert (await triggers.list()).items == []


async def test_testing_a_trigger_evaluates_its_filter_then_its_variables(without_engine: Application) -> None:
    triggers = without_engine.triggers
    trigger = await triggers.create(
        event="PAID",
        workflow_id=await _workflow_id(without_engine),
        filter="event.amount > 10",
        variables={"amount": "event.amount", "broken": "event.amount.x"},
    )

    def payload(body: dict[str, Any]) -> Any:
        async def read() -> dict[str, Any]:
            return body

        return read

    matched = await triggers.test(trigger.id, payload({"amount": 50}))
    assert matched.filter == Evaluation(True)
    assert matched.variables is not None
    assert matched.variables["amount"] == Evaluation("50")
    assert matched.variables["broken"].error
    unmatched = await triggers.test(trigger.id, payload({"amount": 5}))
    assert unmatched.filter == Evaluation(False) and unmatched.variables is None
    with pytest.raises(NotFound):
        await triggers.test("missing", payload({}))


async def test_a_trigger_of_a_deleted_workflow_does_not_fire(without_engine: Application) -> None:
    # No engine: starting an instance would fail the test.
    workflow_id = await _workflow_id(without_engine)
    trigger = await without_engine.triggers.create(event="PAID", workflow_id=workflow_id)
    await without_engine.workflows.delete(workflow_id)
    raw = b'{"type": "PAID", "payload": {"id": "p1"}}'
    assert await without_engine.events.handler.receive(raw, "message-1", source=HTTP) == []
    assert (await without_engine.triggers.occurrences(trigger.id)).items == []
