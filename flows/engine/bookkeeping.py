"""The worker's writes of instance and stage rows: as a local activity, or with a stack call's
first write (flows/engine/workflow.py `call`)."""

from __future__ import annotations

from typing import Any

from temporalio import activity

from flows.engine.lifecycle import LifecyclePublisher, derive, observe
from flows.engine.models import CANCELED, Progress
from flows.storage.records import ActivityRecord, InstanceRecord, StageStatusRecord
from flows.storage.repository import Repository


class Bookkeeping:
    def __init__(self, repository: Repository, events: LifecyclePublisher | None = None) -> None:
        self.repository = repository
        self.events = events

    @activity.defn(name="RecordProgress")
    async def record_progress(self, progress: Progress) -> None:
        await self.write(progress)

    async def record_call_start(self, record: ActivityRecord, progress: Any) -> None:
        """A stack call's start record, with the progress its workflow sent along (as decoded
        without a type: flows.stack knows nothing of the engine's models)."""
        await self.write(Progress.model_validate(progress), record)

    async def write(self, progress: Progress, activity_record: ActivityRecord | None = None) -> None:
        instance = InstanceRecord(
            id=progress.instance_id,
            workflow_id=progress.workflow_id,
            created_at=progress.created_at,
            updated_at=progress.updated_at,
            terminated=progress.terminated,
            terminated_at=progress.terminated_at,
            error=progress.error,
        )
        stages = [
            StageStatusRecord(
                instance_id=progress.instance_id,
                stage=stage.number,
                temporal_run_id=progress.run_id,
                started_at=stage.started_at,
                terminated_at=stage.terminated_at,
                error=stage.error,
                name=stage.name,
                input=stage.input,
            )
            for stage in progress.stages
        ]
        prior = await self.repository.save_progress(instance, stages, activity_record)
        observe(progress, prior.instance_terminated, prior.stages)  # logs and metrics, once per transition
        if progress.terminated and progress.error == CANCELED and progress.terminated_at is not None:
            # The call an abort interrupted never reports back: end it in the history too.
            await self.repository.end_activities(progress.instance_id, CANCELED, progress.terminated_at)
        if self.events is not None:
            # After the commit; queued, so publishing never holds up the instance.
            self.events.emit(derive(progress, prior.instance_terminated, prior.stages))
