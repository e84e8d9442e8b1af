"""Instances whose Temporal workflow ended without our worker recording the end are ended here.

Our worker writes an instance's end just before its workflow completes, so a workflow that
Temporal closed by itself or by an operator's hand (`temporal workflow terminate`, the history
size or count limit, a timeout) leaves the row running forever; so does a workflow Temporal
lost altogether. Both are found here and ended with the reason.

Every `serve` and `worker` process may run this at once: an instance is only ever ended while
its row still says it runs, so an end our worker wrote is never overwritten.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.enums.v1 import HistoryEventFilterType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest

from flows.engine.client import Engine
from flows.engine.codec import failure_message
from flows.storage.repository import Repository
from flows.storage.tables import workflow_instance_stage_statuses, workflow_instances

logger = logging.getLogger("flows.engine")

LOST = "the engine has no record of this instance (its Temporal state was lost); it was ended"

RECONCILE_INTERVAL = 2.0
"""Seconds between two looks at what Temporal closed: how soon such an instance shows ended."""

VISIBILITY_OVERLAP = timedelta(seconds=60)
"""Each look reaches this far before the previous one: Temporal's visibility records land a
moment after the close, and its clock may differ from ours. Looking twice is harmless."""

# Statuses our worker never produces: it records the end, then completes (or is canceled).
_CLOSED_OUTSIDE = "ExecutionStatus IN ('Terminated', 'TimedOut', 'Failed')"
_BATCH = 500


async def keep_reconciled(repository: Repository, engine: Engine, interval: float = RECONCILE_INTERVAL) -> None:
    """Forever: end the instances whose workflow Temporal closed. The first look covers all
    time (what happened while no Flows ran); each later one only what closed since the last."""
    since: datetime | None = None
    failing = False
    while True:
        looked = datetime.now(UTC)
        try:
            await reconcile_closed(repository, engine, since)
        except Exception as error:  # noqa: BLE001 (Temporal or the database down: look again)
            if not failing:
                logger.warning("cannot reconcile instances with Temporal yet: %s", error)
            failing = True
        else:
            if failing:
                logger.info("reconciling instances with Temporal again")
            failing = False
            since = looked - VISIBILITY_OVERLAP
        await asyncio.sleep(interval)


async def reconcile_closed(repository: Repository, engine: Engine, since: datetime | None) -> int:
    """End the instances whose workflow Temporal closed (after `since`); how many were ended."""
    query = f"TaskQueue = {_quoted(engine.task_queue)} AND WorkflowType = 'Instance' AND {_CLOSED_OUTSIDE}"
    if since is not None:
        query += f" AND CloseTime > '{since.isoformat()}'"
    ended = 0
    batch: list[str] = []
    async for execution in engine.client.list_workflows(query, page_size=_BATCH):
        batch.append(execution.id)
        if len(batch) == _BATCH:
            ended += await _end_closed(repository, engine, batch)
            batch = []
    if batch:
        ended += await _end_closed(repository, engine, batch)
    return ended


async def _end_closed(repository: Repository, engine: Engine, instance_ids: list[str]) -> int:
    ended = 0
    for instance_id in await _still_running(repository, instance_ids):
        reason = await _close_reason(engine, instance_id)
        if await end_instance(repository, instance_id, reason):
            logger.warning("instance %s ended: %s", instance_id, reason)
            ended += 1
    return ended


async def end_lost_instances(repository: Repository, engine: Engine) -> None:
    """At startup: instances the database says run but Temporal no longer knows are ended."""
    for instance_id in await repository.running_instance_ids():
        if await engine.status(instance_id) is not None:
            continue
        if await end_instance(repository, instance_id, LOST):
            logger.warning("instance %s: %s", instance_id, LOST)


async def end_instance(repository: Repository, instance_id: str, error: str) -> bool:
    """Mark a running instance ended with `error`, and its open stages with it; False when its
    row already says it ended (our worker's end stands)."""
    ended = datetime.now(UTC)
    async with repository.db.write() as conn:
        result = await conn.execute(
            update(workflow_instances)
            .where(workflow_instances.c.id == instance_id, workflow_instances.c.terminated.is_(False))
            .values(terminated=True, terminated_at=ended, updated_at=ended, error=error)
        )
        if result.rowcount != 1:
            return False
        stages = workflow_instance_stage_statuses
        await conn.execute(
            update(stages)
            .where(stages.c.instance_id == instance_id, stages.c.terminated_at.is_(None))
            .values(terminated_at=ended, error=error)
        )
    return True


async def _still_running(repository: Repository, instance_ids: Iterable[str]) -> list[str]:
    table = workflow_instances
    async with repository.db.read() as conn:
        result = await conn.execute(select(table.c.id).where(table.c.id.in_(list(instance_ids)), table.c.terminated.is_(False)))
        return list(result.scalars())


async def _close_reason(engine: Engine, instance_id: str) -> str:
    """Why Temporal closed the workflow, from its close event (fetched alone: a history that hit
    the size limit is tens of megabytes)."""
    response = await engine.client.workflow_service.get_workflow_execution_history(
        GetWorkflowExecutionHistoryRequest(
            namespace=engine.client.namespace,
            execution=WorkflowExecution(workflow_id=instance_id),
            history_event_filter_type=HistoryEventFilterType.HISTORY_EVENT_FILTER_TYPE_CLOSE_EVENT,
        )
    )
    events = response.history.events
    if not events:
        return "closed in Temporal"
    if events[-1].HasField("workflow_execution_failed_event_attributes"):
        # With --temporal-encryption-enabled, the message is in the failure's encrypted payload.
        failure = events[-1].workflow_execution_failed_event_attributes.failure
        message = await failure_message(engine.client.data_converter, failure)
        return f"failed in Temporal: {message}" if message else "failed in Temporal"
    return _describe_close(events[-1])


def _describe_close(event: HistoryEvent) -> str:
    if event.HasField("workflow_execution_terminated_event_attributes"):
        reason = event.workflow_execution_terminated_event_attributes.reason
        return f"terminated in Temporal: {reason}" if reason else "terminated in Temporal"
    if event.HasField("workflow_execution_timed_out_event_attributes"):
        return "timed out in Temporal"
    return "closed in Temporal"


def _quoted(text: str) -> str:
    """A string literal of Temporal's visibility query language."""
    escaped = text.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"
