"""How the API and the trigger listener drive instances on Temporal."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
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

from flows.engine.codec import failure_message
from flows.engine.failures import root_message
from flows.engine.models import InstanceInput, Outcome
from flows.engine.search_attributes import InstanceAttributes
from flows.engine.workflow import InstanceWorkflow
from flows.observability.metrics import INSTANCE_EVENTS

EVENTS_IN_FLIGHT = 4
"""Concurrent event deliveries to one instance from one process (Temporal admits 10 updates)."""

EVENT_RETRY_SECONDS = 3.0
"""How long an event is retried while Temporal refuses it for too many updates in flight
(several API processes sending to one instance); within the SDKs' 5 s timeout."""

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


class _Slots:
    def __init__(self) -> None:
        self.semaphore = asyncio.Semaphore(EVENTS_IN_FLIGHT)
        self.users = 0


def instance_id_for(workflow_id: str, idempotency_key: str | None) -> str:
    if idempotency_key is None:
        return str(uuid.uuid4())
    return str(uuid.uuid5(IDEMPOTENT_INSTANCES, f"{workflow_id}\n{idempotency_key}"))


class Engine:
    def __init__(self, client: Client, task_queue: str, attributes: InstanceAttributes | None = None) -> None:
        """`attributes`: the search attributes instances start with (none without)."""
        self.client = client
        self.task_queue = task_queue
        self.attributes = attributes
        self._event_slots: dict[str, _Slots] = {}

    async def start(self, instance: InstanceInput, trigger_id: str | None = None) -> bool:
        """Start the instance's workflow (for the trigger `trigger_id` if one fired); False when
        one with that id already exists."""
        try:
            await self.client.start_workflow(
                InstanceWorkflow.run,
                instance,
                id=instance.instance_id,
                task_queue=self.task_queue,
                id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
                search_attributes=self.attributes.of(instance.workflow_id, trigger_id) if self.attributes else None,
            )
        except WorkflowAlreadyStartedError:
            return False
        return True

    async def started_input(self, instance_id: str) -> InstanceInput | None:
        """The input the instance's workflow was started with; None when Temporal has none.

        A run retried with the same Idempotency-Key can arrive before the first run has recorded
        the instance row: this is the first run's instance as it was started.
        """
        try:
            async for event in self._handle(instance_id).fetch_history_events():
                if not event.HasField("workflow_execution_started_event_attributes"):
                    return None
                payloads = event.workflow_execution_started_event_attributes.input.payloads
                [started] = await self.client.data_converter.decode(payloads, [InstanceInput])
                return started if isinstance(started, InstanceInput) else None
        except RPCError as error:
            if error.status == RPCStatusCode.NOT_FOUND:
                return None
            raise
        return None

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
        except RPCError:
            # Temporal out of reach: the caller answers with what the database says, since the
            # instance it waits on is started and recorded either way.
            return False
        return True

    async def deliver_event(self, instance_id: str, name: str, key: str | None) -> None:
        # One update id for every attempt: Temporal delivers an update id once, so a retry below
        # (or a client's retry with the same Idempotency-Key) never delivers the event twice.
        update_id = key or str(uuid.uuid4())
        handle = self._handle(instance_id)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + EVENT_RETRY_SECONDS
        pause = 0.02
        while True:
            try:
                async with self._slot(instance_id):
                    # temporalio's overloads type a method-reference update of a None-returning handler as a
                    # coroutine of a coroutine: mypy's complaint is about the stub, not this await.
                    await handle.execute_update(InstanceWorkflow.deliver_event, name, id=update_id)  # type: ignore[unused-coroutine]
                INSTANCE_EVENTS.labels("delivered").inc()
                return
            except WorkflowUpdateFailedError as error:
                INSTANCE_EVENTS.labels("rejected").inc()
                raise EventRejected(root_message(error)) from error
            except RPCError as error:
                if error.status == RPCStatusCode.NOT_FOUND:
                    INSTANCE_EVENTS.labels("not_running").inc()
                    raise InstanceNotRunning() from error
                # Temporal admits a few in-flight updates per workflow (10 by default) and
                # refuses the rest: a burst of events to one instance waits its turn.
                if error.status != RPCStatusCode.RESOURCE_EXHAUSTED or loop.time() >= deadline:
                    raise
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.25)

    @contextlib.asynccontextmanager
    async def _slot(self, instance_id: str) -> AsyncIterator[None]:
        """One of the few concurrent event deliveries this process makes to an instance.

        Beyond about ten updates in flight on one workflow, Temporal refuses or aborts them and
        a burst of events slows to a crawl; queueing them here keeps a burst fast.
        """
        slots = self._event_slots.get(instance_id)
        if slots is None:
            slots = self._event_slots[instance_id] = _Slots()
        slots.users += 1
        try:
            async with slots.semaphore:
                yield
        finally:
            slots.users -= 1
            if slots.users == 0:
                del self._event_slots[instance_id]

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
            failure = None
            if activity.HasField("last_failure"):
                failure = await failure_message(self.client.data_converter, activity.last_failure)
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
