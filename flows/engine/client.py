"""How the API (and later the trigger listener) drives instances on Temporal."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from temporalio.api.enums.v1 import PendingActivityState
from temporalio.client import (
    Client,
    WorkflowExecutionStatus,
    WorkflowFailureError,
    WorkflowHandle,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from flows.engine.models import InstanceInput, Outcome
from flows.engine.workflow import InstanceWorkflow

# Instance ids derived from an Idempotency-Key live in their own namespace.
IDEMPOTENT_INSTANCES = uuid.UUID("6f1c2a7e-3c1b-4f7a-9a51-0b8d2f6c4e10")


class InstanceNotRunning(Exception):
    """The instance's workflow has already ended."""


class EventRejected(Exception):
    """The instance refused the event (too many pending events)."""


@dataclass(frozen=True)
class PendingActivity:
    activity_id: str
    attempt: int
    last_failure: str | None
    next_execution: datetime | None


def instance_id_for(workflow_id: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENT_INSTANCES, f"{workflow_id}\n{idempotency_key}"))


class Engine:
    def __init__(self, client: Client, task_queue: str) -> None:
        self.client = client
        self.task_queue = task_queue

    async def start(self, instance: InstanceInput) -> bool:
        """Start the instance's workflow; False when one with that id already exists."""
        try:
            await self.client.start_workflow(
                InstanceWorkflow.run,
                instance,
                id=instance.instance_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            )
        except WorkflowAlreadyStartedError:
            return False
        return True

    def _handle(self, instance_id: str) -> WorkflowHandle[InstanceWorkflow, Outcome]:
        return self.client.get_workflow_handle_for(InstanceWorkflow.run, instance_id)

    async def wait(self, instance_id: str, timeout: float) -> bool:
        """Wait until the instance has ended, at most `timeout` seconds; whether it ended."""
        try:
            await asyncio.wait_for(self._handle(instance_id).result(), timeout)
        except TimeoutError:
            return False
        except WorkflowFailureError:
            pass  # canceled or failed: ended all the same
        return True

    async def deliver_event(self, instance_id: str, name: str, key: str | None) -> None:
        try:
            await self._handle(instance_id).execute_update(
                InstanceWorkflow.deliver_event, name, id=key or str(uuid.uuid4())
            )
        except WorkflowUpdateFailedError as error:
            raise EventRejected(_message(error)) from error
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                raise InstanceNotRunning() from error
            raise

    async def cancel(self, instance_id: str, timeout: float) -> None:
        """Ask the instance to stop and wait (bounded) until it has."""
        try:
            await self._handle(instance_id).cancel()
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:
                raise
            return
        await self.wait(instance_id, timeout)

    async def status(self, instance_id: str) -> WorkflowExecutionStatus | None:
        try:
            description = await self._handle(instance_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return description.status

    async def pending_activities(self, instance_id: str) -> list[PendingActivity]:
        try:
            description = await self._handle(instance_id).describe()
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return []
            raise
        pending = []
        for activity in description.raw_description.pending_activities:
            failure = activity.last_failure.message if activity.HasField("last_failure") else None
            next_execution = None
            if activity.state == PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED and (
                activity.HasField("next_attempt_schedule_time")
            ):
                next_execution = activity.next_attempt_schedule_time.ToDatetime(tzinfo=UTC)
            pending.append(
                PendingActivity(
                    activity_id=activity.activity_id,
                    attempt=activity.attempt,
                    last_failure=failure or None,
                    next_execution=next_execution,
                )
            )
        return pending


def _message(error: BaseException) -> str:
    while error.__cause__ is not None:
        error = error.__cause__
    return getattr(error, "message", None) or str(error)
