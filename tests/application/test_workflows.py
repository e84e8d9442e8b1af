"""Workflow use cases, and the one rule of which workflows are live (the API and the triggers
both go through it)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from flows.application import Application, Invalid, NotFound
from tests.application.conftest import ON_SQLITE

pytestmark = ON_SQLITE

NOOP: dict[str, Any] = {"stages": [{"noop": {}}]}


async def test_a_created_workflow_is_read_back_and_listed(without_engine: Application) -> None:
    workflows = without_engine.workflows
    created = await workflows.create({"name": "pay", "stages": [{"delay": {"duration": "90s"}}]})
    read = await workflows.get(created.id)
    assert read == created
    assert read.config == {"name": "pay", "stages": [{"delay": {"duration": "90s"}}]}
    assert [item.id for item in (await workflows.list()).items] == [created.id]


async def test_an_invalid_config_is_refused_and_nothing_is_stored(without_engine: Application) -> None:
    with pytest.raises(Invalid, match="unknown"):
        await without_engine.workflows.create({"stages": [{"teleport": {}}]})
    assert (await without_engine.workflows.list()).items == []


async def test_a_deleted_workflow_is_not_found_and_cannot_be_deleted_twice(without_engine: Application) -> None:
    workflows = without_engine.workflows
    created = await workflows.create(NOOP)
    await workflows.delete(created.id)
    with pytest.raises(NotFound):
        await workflows.get(created.id)
    with pytest.raises(NotFound):
        await workflows.delete(created.id)
    with pytest.raises(Invalid, match="UUID"):
        await workflows.delete("not-a-uuid")


async def test_a_deleted_workflow_neither_runs_nor_starts_for_a_trigger(without_engine: Application) -> None:
    # No engine at all: a call to Temporal would fail the test with an AttributeError.
    workflows = without_engine.workflows
    created = await workflows.create(NOOP)
    await workflows.delete(created.id)
    read: list[Any] = []

    async def variables() -> Any:
        read.append(True)
        return {}

    with pytest.raises(NotFound):
        await workflows.run(created.id, variables)
    assert read == [], "the body of a run of a missing workflow is never read"
    assert await workflows.start(created.id, {}, "trigger:key", "trigger-id") is None
    assert await workflows.start(str(uuid.uuid4()), {}, "trigger:key", "trigger-id") is None


@pytest.mark.parametrize("body", [[], {"n": 1}, "x"])
async def test_run_variables_must_be_an_object_of_strings(without_engine: Application, body: Any) -> None:
    created = await without_engine.workflows.create(NOOP)

    async def variables() -> Any:
        return body

    with pytest.raises(Invalid, match="variables"):
        await without_engine.workflows.run(created.id, variables)
