"""What crosses the engine's boundary: workflow input and the progress the worker records."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class InstanceInput(BaseModel):
    instance_id: str
    workflow_id: str
    stages: list[dict[str, Any]]
    variables: dict[str, str]
    created_at: datetime


class StageProgress(BaseModel):
    number: int
    started_at: datetime
    terminated_at: datetime | None = None
    error: str | None = None
    name: str | None = None
    """History name, e.g. RunDelay; unset when the stage failed before it started."""
    input: dict[str, Any] | None = None


class Progress(BaseModel):
    """Everything about an instance that changed since the last write, written in one go."""

    instance_id: str
    workflow_id: str
    run_id: str
    created_at: datetime
    updated_at: datetime
    terminated: bool = False
    terminated_at: datetime | None = None
    error: str | None = None
    stages: list[StageProgress] = []


class Outcome(BaseModel):
    """What an instance workflow returns."""

    error: str | None = None


CANCELED = "canceled"
MAX_PENDING_EVENTS = 1000
