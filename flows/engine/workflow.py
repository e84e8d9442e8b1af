"""The instance workflow: one Temporal workflow runs every stage of one instance, in order.

Row writes are batched: stage and instance changes accumulate in memory and are written in one
local activity just before the instance blocks (a timer, an event wait) and when it ends; before
a stack call they go with the call, and its activity writes them with its start record, in the
same transaction, before it calls the stack (flows/stack/activities.py). A run of stages that
never block therefore costs a single write, and what the database shows is never behind what a
user can observe.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError, CancelledError

with workflow.unsafe.imports_passed_through():
    from flows.engine.bookkeeping import Bookkeeping
    from flows.engine.failures import root_message
    from flows.engine.models import (
        CANCELED,
        MAX_PENDING_EVENTS,
        InstanceInput,
        Outcome,
        Progress,
        StageProgress,
    )
    from flows.stack.activities import NON_RETRYABLE
    from flows.stages import Stage, StageFailure, resolve_stage

RECORD_TIMEOUT = timedelta(seconds=30)
# docs/stages.md (retries and final errors): money flows must outlast outages, so stack calls retry with capped backoff forever.
STACK_CALL_TIMEOUT = timedelta(seconds=60)
STACK_CALL_HEARTBEAT = timedelta(seconds=10)
STACK_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=100),
    non_retryable_error_types=NON_RETRYABLE,
)
RECORD_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_interval=timedelta(seconds=10))
PROGRESS_WITH_CALL = "progress-with-call"
"""The patch after which a stack call carries the unwritten progress instead of being preceded by
a RecordProgress local activity: histories recorded before it keep replaying the old way."""


@workflow.defn(name="Instance")
class InstanceWorkflow:
    def __init__(self) -> None:
        self._events: list[str] = []
        self._unsaved: dict[int, StageProgress] = {}
        self._progress: Progress | None = None
        self._instance_saved = False
        self._stage_number = 0
        self._activities_started = 0

    @workflow.update(name="event")
    async def deliver_event(self, name: str) -> None:
        self._events.append(name)

    @deliver_event.validator
    def _accept_event(self, name: str) -> None:
        if len(self._events) >= MAX_PENDING_EVENTS:
            raise ApplicationError(f"instance already has {MAX_PENDING_EVENTS} pending events", non_retryable=True)

    @workflow.run
    async def run(self, instance: InstanceInput) -> Outcome:
        now = workflow.now()
        self._progress = Progress(
            instance_id=instance.instance_id,
            workflow_id=instance.workflow_id,
            run_id=workflow.info().run_id,
            created_at=instance.created_at,
            updated_at=now,
        )
        error: str | None = None
        try:
            for number, entry in enumerate(instance.stages):
                error = await self._run_stage(number, entry, instance.variables)
                if error is not None:
                    break
        except asyncio.CancelledError:
            await self._terminate(CANCELED)
            raise
        await self._terminate(error)
        return Outcome(error=error)

    async def _run_stage(self, number: int, entry: dict[str, Any], variables: dict[str, str]) -> str | None:
        """Run one stage; the error that ends the instance, or None."""
        kind, raw = next(iter(entry.items()))
        status = StageProgress(number=number, started_at=workflow.now())
        self._stage_number, self._activities_started = number, 0
        self._touch(status)
        try:
            stage: Stage = resolve_stage(kind, raw, variables)
            status.name = stage.history_name
            status.input = stage.history_input()
            await stage.run(_Context(self))
        except StageFailure as failure:
            return self._end_stage(status, str(failure))
        except (asyncio.CancelledError, ActivityError) as failure:
            if not _is_cancellation(failure):
                return self._end_stage(status, root_message(failure))
            self._end_stage(status, CANCELED)
            raise asyncio.CancelledError() from failure
        except Exception as crash:  # noqa: BLE001  (any bug in stage code ends the stage)
            # A bug or an unexpected stack answer: fail the stage visibly, as the reference turns
            # a panic into the stage's error, rather than retrying a workflow task forever.
            return self._end_stage(status, f"stage crashed: {type(crash).__name__}: {crash}")
        return self._end_stage(status, None)

    def _end_stage(self, status: StageProgress, error: str | None) -> str | None:
        status.terminated_at = workflow.now()
        status.error = error
        self._touch(status)
        return error

    async def _terminate(self, error: str | None) -> None:
        progress = self._require_progress()
        progress.terminated = True
        progress.terminated_at = workflow.now()
        progress.updated_at = progress.terminated_at
        progress.error = error
        self._instance_saved = False
        # The last write must land even when an abort arrives while it runs: the instance has
        # ended either way, and a row left "running" would never be corrected.
        while True:
            try:
                await self.save()
                return
            except (asyncio.CancelledError, ActivityError) as failure:
                if not _is_cancellation(failure):
                    raise

    def _touch(self, status: StageProgress) -> None:
        self._unsaved[status.number] = status

    def _require_progress(self) -> Progress:
        assert self._progress is not None, "progress exists once run() started"
        return self._progress

    def _pending(self) -> Progress | None:
        """What changed since the last write, or None if nothing did."""
        if self._instance_saved and not self._unsaved:
            return None
        stages = sorted(self._unsaved.values(), key=lambda s: s.number)
        return self._require_progress().model_copy(update={"stages": stages}, deep=True)

    def _written(self, progress: Progress) -> None:
        self._instance_saved = True
        for stage in progress.stages:
            if self._unsaved.get(stage.number) == stage:
                del self._unsaved[stage.number]

    async def save(self) -> None:
        """Write what changed since the last write, if anything did."""
        progress = self._pending()
        if progress is None:
            return
        await workflow.execute_local_activity_method(
            Bookkeeping.record_progress,
            progress,
            start_to_close_timeout=RECORD_TIMEOUT,
            retry_policy=RECORD_RETRY,
        )
        self._written(progress)

    async def call(self, name: str, request: dict[str, Any]) -> Any:
        progress: Progress | None = None
        if workflow.patched(PROGRESS_WITH_CALL):
            progress = self._pending()
        else:
            await self.save()
        # Activity ids `<stage>-<n>` make the idempotency keys: stable across retries and resets.
        activity_id = f"{self._stage_number}-{self._activities_started}"
        self._activities_started += 1
        try:
            result = await workflow.execute_activity(
                name,
                args=[request] if progress is None else [request, progress],
                activity_id=activity_id,
                start_to_close_timeout=STACK_CALL_TIMEOUT,
                heartbeat_timeout=STACK_CALL_HEARTBEAT,
                retry_policy=STACK_RETRY,
            )
        except ActivityError as failure:
            # The progress stays unwritten as far as this workflow knows (an abort may come
            # before any attempt started): the next write carries it again, idempotently.
            if _is_cancellation(failure):
                raise
            cause = failure.cause
            code = cause.type if isinstance(cause, ApplicationError) else None
            raise StageFailure(root_message(failure), code) from failure
        if progress is not None:
            # Every attempt writes the progress before it calls: the one that succeeded did.
            self._written(progress)
        return result

    async def wait_event(self, name: str) -> None:
        if name not in self._events:
            await self.save()
            await workflow.wait_condition(lambda: name in self._events)
        self._events.remove(name)


class _Context:
    """The StageContext a stage runs with."""

    def __init__(self, instance: InstanceWorkflow) -> None:
        self._instance = instance

    def now(self) -> datetime:
        return workflow.now()

    async def sleep(self, seconds: float) -> None:
        await self._instance.save()
        await workflow.sleep(seconds)

    async def wait_event(self, name: str) -> None:
        await self._instance.wait_event(name)

    async def call(self, activity: str, request: dict[str, Any]) -> Any:
        return await self._instance.call(activity, request)


def _is_cancellation(error: BaseException) -> bool:
    """An abort reaching the workflow, directly or through the activity it was awaiting."""
    if isinstance(error, asyncio.CancelledError):
        return True
    return isinstance(error, ActivityError) and isinstance(error.cause, CancelledError)
