"""Instances: list, read, send an event, abort, and their histories."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from flows.application.errors import Invalid, NotFound
from flows.engine.client import Engine, EventRejected, InstanceNotRunning
from flows.storage.records import ActivityRecord, InstanceCounts, InstanceRecord, Page, StageStatusRecord
from flows.storage.repository import Repository


@dataclass(frozen=True)
class ActivityHistory:
    """One call a stage made: as recorded, and while Temporal retries it, its live retry state."""

    activity: ActivityRecord
    attempt: int
    last_failure: str | None = None
    next_execution: datetime | None = None


class Instances:
    def __init__(self, repository: Repository, engine: Engine, *, abort_timeout: float = 4.0) -> None:
        self.repository = repository
        self.engine = engine
        self.abort_timeout = abort_timeout
        """Seconds an abort waits for the instance to have stopped."""

    async def list(self, workflow_id: str = "", running: bool = False, offset: int = 0, limit: int | None = None) -> Page[InstanceRecord]:
        """Newest first; of one workflow when `workflow_id` is given; only those not terminated
        when `running`."""
        return await self.repository.list_instances(workflow_id, running, offset, limit)

    async def browse(self, workflow_id: str = "", status: str = "", offset: int = 0, limit: int = 20) -> Page[InstanceRecord]:
        """Newest first, as a person looks for them; `status`: "running", "terminated" or "failed"."""
        if status not in ("", "running", "terminated", "failed"):
            raise Invalid(f"unknown instance status '{status}': running, terminated or failed")
        ended = status if status != "running" else ""
        return await self.repository.list_instances(workflow_id, status == "running", offset, limit, ended=ended, newest_first=True)

    async def counts(self, workflow_ids: Sequence[str]) -> dict[str, InstanceCounts]:
        """Of each workflow: its instances, running and failed among them (absent: none)."""
        return await self.repository.count_instances(list(workflow_ids))

    async def get(self, instance_id: str) -> InstanceRecord:
        # The hot path of polling clients: one prepared read, nothing else.
        record = await self.repository.get_instance(instance_id)
        if record is None:
            raise NotFound(f"instance '{instance_id}' not found")
        return record

    async def send_event(self, instance_id: str, name: str, key: str | None = None) -> None:
        """Deliver the event `name` to the running instance; with `key`, a retry of the same
        delivery (same key) is delivered once."""
        instance = await self.get(instance_id)
        if instance.terminated:
            raise _terminated(instance)
        try:
            await self.engine.deliver_event(instance.id, name, key)
        except InstanceNotRunning:
            raise _terminated(instance) from None
        except EventRejected as rejection:
            raise Invalid(str(rejection)) from None

    async def abort(self, instance_id: str) -> None:
        """Stop the instance (waiting, bounded, until it has); nothing for one already ended."""
        instance = await self.get(instance_id)
        if not instance.terminated:
            await self.engine.cancel(instance.id, self.abort_timeout)

    async def history(self, instance_id: str) -> Sequence[StageStatusRecord]:
        """The stages that started, in order (a stage that failed to resolve never started)."""
        instance = await self.get(instance_id)
        return [stage for stage in instance.stages if stage.name is not None]

    async def stage_history(self, instance_id: str, number: int) -> Sequence[ActivityHistory]:
        """The calls stage `number` made, as the database recorded them; while the stage runs,
        with Temporal's live attempt, last failure and next attempt of those it retries."""
        instance = await self.get(instance_id)
        stage = next((stage for stage in instance.stages if stage.stage == number), None)
        if stage is None or stage.name is None:
            raise NotFound(f"stage {number} of instance '{instance.id}' has not started")
        activities = await self.repository.list_activities(instance.id, number)
        pending = {}
        if activities and stage.terminated_at is None:
            pending = {live.activity_id: live for live in await self.engine.pending_activities(instance.id)}
        histories = []
        for activity in activities:
            live = pending.get(activity.activity_id)
            if live is None:
                # A call that succeeded in the end is not explained by its failed attempts.
                succeeded = activity.terminated_at is not None and activity.error is None
                last_failure = None if succeeded else activity.last_failure
                histories.append(ActivityHistory(activity, activity.attempt, last_failure))
            else:
                histories.append(ActivityHistory(activity, live.attempt, live.last_failure, live.next_execution))
        return histories


def _terminated(instance: InstanceRecord) -> Invalid:
    return Invalid(f"instance '{instance.id}' is terminated and takes no more events")
