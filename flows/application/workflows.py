"""Workflow definitions: create, list, read, delete, run; and the rule of which ones are live."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from flows.application.errors import Invalid, NotFound
from flows.engine.client import Engine
from flows.engine.instances import start_instance
from flows.gocompat.timestamps import now
from flows.stages import MissingVariables, StageFailure, resolve_stage
from flows.stages.base import ConfigError
from flows.storage.records import InstanceRecord, Page, WorkflowRecord
from flows.storage.repository import Repository
from flows.workflows.config import validate_config


@dataclass(frozen=True)
class Run:
    instance: InstanceRecord
    started: bool
    """False when an earlier run with the same idempotency key had started it."""
    still_running_after: float | None = None
    """With `wait`: the seconds waited, when the instance had not ended by then."""


class Workflows:
    def __init__(self, repository: Repository, engine: Engine, *, wait_timeout: float = 4.0) -> None:
        self.repository = repository
        self.engine = engine
        self.wait_timeout = wait_timeout
        """Seconds a run with `wait` may take, counted from the call."""

    async def create(self, document: Any) -> WorkflowRecord:
        """A new workflow of the `document` (its config, fully validated first)."""
        try:
            config = validate_config(document)
        except ConfigError as error:
            raise Invalid(str(error)) from None
        created = now()
        record = WorkflowRecord(id=str(uuid.uuid4()), config=config, created_at=created, updated_at=created)
        await self.repository.create_workflow(record)
        return record

    async def list(self, offset: int = 0, limit: int | None = None) -> Page[WorkflowRecord]:
        return await self.repository.list_workflows(offset, limit)

    async def get(self, workflow_id: str) -> WorkflowRecord:
        """The live workflow; `NotFound` when there is none (or it was deleted)."""
        record = await self._live(workflow_id)
        if record is None:
            raise NotFound(f"workflow '{workflow_id}' not found")
        return record

    async def delete(self, workflow_id: str) -> None:
        if not _is_uuid(workflow_id):
            raise Invalid(f"'{workflow_id}' is not a workflow id (a UUID)")
        if not await self.repository.delete_workflow(workflow_id, now()):
            raise NotFound(f"workflow '{workflow_id}' not found")

    async def run(
        self,
        workflow_id: str,
        read_variables: Callable[[], Awaitable[Any]],
        *,
        key: str | None = None,
        wait: bool = False,
    ) -> Run:
        """Start an instance of the live workflow with the variables `read_variables` gives (read
        once the workflow is known: a run of a missing workflow is `NotFound` whatever it sends).

        With `key`, a second run is the first one's instance. With `wait`, the instance as it
        stands once it ended or `wait_timeout` after this call — never an error once Temporal
        has the instance, since the run did happen.
        """
        # Under load, starting the workflow on Temporal alone can take seconds: they count
        # against the wait, which is the caller's deadline.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait_timeout
        workflow = await self.get(workflow_id)
        variables = _variables(await read_variables())
        _refuse_missing_variables(workflow, variables)
        instance, started = await start_instance(self.engine, self.repository, workflow, variables, key)
        if wait:
            remaining = deadline - loop.time()
            if remaining > 0:
                await self.engine.wait(instance.id, remaining)
        elif started:
            return Run(instance, started)
        # Waited, or the same key again: the instance as it stands.
        stored = await self.repository.get_instance(instance.id) or instance
        if wait and not stored.terminated:
            return Run(stored, started, still_running_after=self.wait_timeout)
        return Run(stored, started)

    async def start(self, workflow_id: str, variables: dict[str, str], key: str, trigger_id: str) -> InstanceRecord | None:
        """Start an instance for the trigger `trigger_id` that fired (`key`: its de-duplication
        key); None when the workflow is not live, so that the trigger does not fire."""
        workflow = await self._live(workflow_id)
        if workflow is None:
            return None
        instance, _started = await start_instance(self.engine, self.repository, workflow, variables, key, trigger_id)
        return instance

    async def _live(self, workflow_id: str) -> WorkflowRecord | None:
        # Deleting a workflow only marks it: its instances, triggers and occurrences keep their
        # reference, but nothing reads, runs or fires it any more.
        record = await self.repository.get_workflow(workflow_id)
        return record if record is not None and record.deleted_at is None else None


def _variables(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise Invalid("the run variables must be a JSON object of strings")
    wrong = sorted(name for name, value in body.items() if not isinstance(value, str))
    if wrong:
        raise Invalid(f"run variables must be strings: {', '.join(wrong)}")
    return body


def _refuse_missing_variables(workflow: WorkflowRecord, variables: dict[str, str]) -> None:
    """Refuse a run whose stages could not be resolved for want of variables it did not give.

    Other resolution failures (a variable that is not an amount…) fail the instance when the
    stage is reached, as in the Go implementation; a variable left out is a mistake of the call."""
    for number, entry in enumerate(workflow.config.get("stages") or []):
        kind, raw = next(iter(entry.items()))
        try:
            resolve_stage(kind, raw, variables)
        except MissingVariables as failure:
            raise Invalid(f"stages[{number}].{failure}") from None
        except StageFailure:
            continue


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
