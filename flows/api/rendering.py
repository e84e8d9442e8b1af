"""Records as the API's JSON: camelCase keys, RFC 3339 times with an offset, absent optionals omitted."""

from __future__ import annotations

import functools
from datetime import datetime
from typing import Any

from flows.application import ActivityHistory, TriggerTest
from flows.gocompat.timestamps import format_rfc3339
from flows.storage.records import (
    DeadLetterRecord,
    InstanceRecord,
    OccurrenceRecord,
    StageStatusRecord,
    TriggerRecord,
    WorkflowRecord,
)

# Formatting a time costs more than the rest of its rendering, and the same times come back: the
# stages of an instance that did not wait share the instance's last update, and clients poll the
# same instance until it ends. A time's text never changes, so the cache is always right.
timestamp = functools.lru_cache(maxsize=4096)(format_rfc3339)


def _optional(body: dict[str, Any], **values: Any) -> dict[str, Any]:
    for key, value in values.items():
        if value is not None:
            body[key] = timestamp(value) if isinstance(value, datetime) else value
    return body


def workflow(record: WorkflowRecord) -> dict[str, Any]:
    body = {
        "id": record.id,
        "config": record.config,
        "createdAt": timestamp(record.created_at),
        "updatedAt": timestamp(record.updated_at),
    }
    return _optional(body, deletedAt=record.deleted_at)


# instance() and stage_status() render every instance read, the API's busiest answer: spelled
# out rather than through _optional, whose keyword arguments cost more than the rest.


def instance(record: InstanceRecord, *, with_workflow: bool = True, with_status: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"workflowID": record.workflow_id}
    if with_workflow and record.workflow is not None:
        body["workflow"] = workflow(record.workflow)
    body["id"] = record.id
    body["createdAt"] = timestamp(record.created_at)
    body["updatedAt"] = timestamp(record.updated_at)
    body["terminated"] = record.terminated
    if record.terminated_at is not None:
        body["terminatedAt"] = timestamp(record.terminated_at)
    if with_status and record.stages:
        body["status"] = [stage_status(stage) for stage in record.stages]
    if record.error is not None:
        body["error"] = record.error
    return body


def stage_status(record: StageStatusRecord) -> dict[str, Any]:
    body = {
        "stage": record.stage,
        "instanceID": record.instance_id,
        "temporalRunID": record.temporal_run_id,
        "startedAt": timestamp(record.started_at),
    }
    if record.terminated_at is not None:
        body["terminatedAt"] = timestamp(record.terminated_at)
    if record.error is not None:
        body["error"] = record.error
    return body


def stage_history(record: StageStatusRecord) -> dict[str, Any]:
    body = {
        "name": record.name,
        "input": record.input or {},
        "terminated": record.terminated_at is not None,
        "startedAt": timestamp(record.started_at),
    }
    return _optional(body, error=record.error, terminatedAt=record.terminated_at)


def activity_history(history: ActivityHistory) -> dict[str, Any]:
    record = history.activity
    body: dict[str, Any] = {"name": record.name, "input": {record.name: record.input}}
    if record.output is not None:
        body["output"] = {record.name: record.output}
    _optional(body, error=record.error)
    body.update(terminated=record.terminated_at is not None, startedAt=timestamp(record.started_at))
    _optional(body, terminatedAt=record.terminated_at, lastFailure=history.last_failure)
    body["attempt"] = history.attempt
    return _optional(body, nextExecution=history.next_execution)


def trigger(record: TriggerRecord) -> dict[str, Any]:
    body: dict[str, Any] = {"id": record.id, "name": record.name, "event": record.event}
    _optional(body, version=record.version, filter=record.filter)
    body["workflowID"] = record.workflow_id
    if record.vars:
        body["vars"] = record.vars
    body["createdAt"] = timestamp(record.created_at)
    return body


def occurrence(record: OccurrenceRecord) -> dict[str, Any]:
    body: dict[str, Any] = {"id": record.id, "triggerID": record.trigger_id}
    _optional(body, workflowInstanceID=record.workflow_instance_id)
    if record.instance is not None:
        body["workflowInstance"] = instance(record.instance, with_workflow=False, with_status=False)
    body.update(date=timestamp(record.date), event=record.event)
    return _optional(body, error=record.error)


def trigger_test(result: TriggerTest) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if result.filter is not None:
        body["filter"] = {"match": result.filter.value is True}
        _optional(body["filter"], error=result.filter.error)
    if result.variables is not None:
        body["variables"] = {
            name: {"value": evaluation.value} if evaluation.error is None else {"error": evaluation.error}
            for name, evaluation in result.variables.items()
        }
    return body


def dead_letter(record: DeadLetterRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "receivedAt": timestamp(record.received_at),
        "source": record.source,
        "messageID": record.message_id,
        "reason": record.reason,
        "raw": record.raw,
        "rawSize": record.raw_size,
    }
