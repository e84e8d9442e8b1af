"""Triggers: create, list, read, delete, their occurrences, and testing one against a payload."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from flows.application.errors import Invalid, NotFound
from flows.application.workflows import Workflows
from flows.gocompat.timestamps import now
from flows.storage.records import OccurrenceRecord, Page, TriggerRecord
from flows.storage.repository import Repository
from flows.triggers import expr, link
from flows.triggers.cache import TriggerTypes
from flows.triggers.expr.values import from_json
from flows.triggers.listener import EventHandler

MAX_QUOTED = 200  # characters of an expression repeated in an error message


@dataclass(frozen=True)
class Evaluation:
    """What one expression of a trigger test gave: its value, or its error."""

    value: Any = None
    error: str | None = None


@dataclass(frozen=True)
class TriggerTest:
    filter: Evaluation | None = None
    """None when the trigger has no filter; else `value` is whether it matched."""
    variables: dict[str, Evaluation] | None = None
    """None when the trigger has none, or its filter did not match."""


class Triggers:
    def __init__(self, repository: Repository, workflows: Workflows, trigger_types: TriggerTypes, handler: EventHandler) -> None:
        self.repository = repository
        self.workflows = workflows
        self.trigger_types = trigger_types
        """Told of every trigger created or deleted here, so that the next event sees it."""
        self.handler = handler
        """Fires the triggers; a test evaluates as it would, through its stack."""

    async def create(
        self,
        *,
        event: str | None,
        workflow_id: str | None,
        name: str = "",
        version: str | None = None,
        filter: str | None = None,
        variables: dict[str, str] | None = None,
    ) -> TriggerRecord:
        """A trigger of the live workflow; its expressions must compile."""
        for source in [filter, *(variables or {}).values()]:
            if source is not None:
                await _compile(source)
        if not event:
            raise Invalid("validating data: missing event")
        if not workflow_id:
            raise Invalid("validating data: missing workflow id")
        await self.workflows.get(workflow_id)
        record = TriggerRecord(
            id=str(uuid.uuid4()),
            workflow_id=workflow_id,
            name=name,
            event=event,
            version=version,
            filter=filter,
            vars=variables or None,
            created_at=now(),
        )
        await self.repository.create_trigger(record)
        self.trigger_types.invalidate()
        return record

    async def list(self, name: str = "", offset: int = 0, limit: int | None = None) -> Page[TriggerRecord]:
        return await self.repository.list_triggers(name, offset, limit)

    async def get(self, trigger_id: str) -> TriggerRecord:
        record = await self.repository.get_trigger(trigger_id)
        if record is None:
            raise NotFound(f"trigger '{trigger_id}' not found")
        return record

    async def delete(self, trigger_id: str) -> None:
        if not await self.repository.delete_trigger(trigger_id, now()):
            raise NotFound(f"trigger '{trigger_id}' not found")
        self.trigger_types.invalidate()

    async def occurrences(self, trigger_id: str, offset: int = 0, limit: int | None = None) -> Page[OccurrenceRecord]:
        return await self.repository.list_occurrences(trigger_id, offset, limit)

    async def test(
        self,
        trigger_id: str,
        read_payload: Callable[[], Awaitable[dict[str, Any]]],
        readable: link.Services = None,
    ) -> TriggerTest:
        """Evaluate the trigger's filter and, when it matches, its variables against the payload
        `read_payload` gives (read once the trigger is known: a missing trigger is `NotFound`
        whatever is sent), as an event would: numbers as the event pipeline makes them
        (flows/triggers/expr/values.py), `link()` through the handler's stack, limited to the
        services in `readable`. Nothing is started or recorded.

        An expression over its budget is `Invalid`: it is the trigger that is broken.
        """
        record = await self.get(trigger_id)
        try:
            event = from_json(await read_payload())
        except ValueError as problem:
            raise Invalid(f"the event payload is invalid: {problem}") from None
        filter_ = None
        matched = True
        if record.filter is not None:
            filter_ = await self._evaluate(record.filter, event, readable, link.run)
            matched = filter_.error is None and filter_.value is True
            filter_ = Evaluation(matched, filter_.error)
        variables = None
        if matched and record.vars:
            variables = {name: await self._evaluate(source, event, readable, link.run_variable) for name, source in record.vars.items()}
        return TriggerTest(filter_, variables)

    async def _evaluate(self, source: str, payload: Any, readable: link.Services, run: Any) -> Evaluation:
        """One expression (`run`: link.run or link.run_variable)."""
        try:
            return Evaluation(await run(await _compile(source), source, payload, self.handler.stack, services=readable))
        except expr.ExprError as error:
            if error.over_budget:
                raise Invalid(f"validating data: expression '{_quoted(source)}': {error}") from None
            return Evaluation(error=str(error))


async def _compile(source: str) -> expr.Program:
    """A filter or variable expression compiled, or `Invalid`."""
    try:
        return await link.compile_expression(source)
    except expr.ExprError as error:
        raise Invalid(f"validating data: error compiling expression '{_quoted(source)}': {error}") from None


def _quoted(source: str) -> str:
    """The expression as an error message repeats it: its beginning when it is long."""
    return source if len(source) <= MAX_QUOTED else source[:MAX_QUOTED] + "…"
