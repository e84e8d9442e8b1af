"""The stages a workflow is made of, by the key that names them in a config (`{"send": {...}}`)."""

from __future__ import annotations

from flows.stages.base import ConfigError, Stage, StageContext, StageFailure
from flows.stages.delay import Delay
from flows.stages.noop import Noop
from flows.stages.send import Send
from flows.stages.update import Update
from flows.stages.wait_event import WaitEvent

STAGES: dict[str, type[Stage]] = {
    stage.kind: stage for stage in (Noop, Send, Delay, WaitEvent, Update)
}

__all__ = [
    "STAGES",
    "ConfigError",
    "Delay",
    "Noop",
    "Send",
    "Stage",
    "StageContext",
    "StageFailure",
    "Update",
    "WaitEvent",
]
