"""What the storage layer hands out: plain records, never changed once made (changes are new
records, `dataclasses.replace`). Not frozen: a frozen dataclass's `__init__` costs four times a
plain one's, and every row of every read makes one (five for an instance read)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass
class WorkflowRecord:
    id: str
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None


@dataclass
class StageStatusRecord:
    instance_id: str
    stage: int
    temporal_run_id: str
    started_at: datetime
    terminated_at: datetime | None = None
    error: str | None = None
    name: str | None = None
    input: dict[str, Any] | None = None


@dataclass
class InstanceRecord:
    id: str
    workflow_id: str
    created_at: datetime
    updated_at: datetime
    terminated: bool
    terminated_at: datetime | None = None
    error: str | None = None
    workflow: WorkflowRecord | None = None
    stages: list[StageStatusRecord] = field(default_factory=list)


@dataclass
class InstanceCounts:
    """A workflow's instances: all of them, those running, those that failed."""

    total: int
    running: int
    failed: int


@dataclass
class ActivityRecord:
    instance_id: str
    stage: int
    activity_id: str
    name: str
    input: dict[str, Any]
    started_at: datetime
    attempt: int = 1
    output: dict[str, Any] | None = None
    error: str | None = None
    terminated_at: datetime | None = None
    last_failure: str | None = None
    """Why the latest failed attempt failed; kept while the next attempt runs."""


@dataclass
class TriggerRecord:
    id: str
    workflow_id: str
    name: str
    event: str
    created_at: datetime
    version: str | None = None
    filter: str | None = None
    vars: dict[str, str] | None = None
    deleted_at: datetime | None = None


@dataclass
class OccurrenceRecord:
    id: str
    trigger_id: str
    date: datetime
    event: dict[str, Any]
    workflow_instance_id: str | None = None
    error: str | None = None
    instance: InstanceRecord | None = None


@dataclass
class DeadLetterRecord:
    """A message that could not be processed (flows.triggers.listener), kept to be seen."""

    id: str
    received_at: datetime
    source: str
    message_id: str
    reason: str
    raw: str
    raw_size: int


@dataclass
class Page(Generic[T]):
    items: list[T]
    has_more: bool
