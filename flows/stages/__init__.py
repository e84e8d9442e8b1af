"""The stages a workflow is made of, by the key that names them in a config (`{"send": {...}}`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.stages.base import ConfigError, Stage, StageContext, StageFailure
from flows.stages.delay import Delay
from flows.stages.noop import Noop
from flows.stages.send import Send
from flows.stages.update import Update
from flows.stages.wait_event import WaitEvent

STAGES: dict[str, type[Stage]] = {stage.kind: stage for stage in (Noop, Send, Delay, WaitEvent, Update)}


def resolve_stage(kind: str, raw: Any, variables: Mapping[str, str]) -> Stage:
    """The stage ready to run: interpolated, defaulted and validated; StageFailure otherwise."""
    stage_class = STAGES.get(kind)
    if stage_class is None:  # only a config stored without validation could get here
        raise StageFailure(f"unknown stage type '{kind}'")
    return stage_class.resolve(raw, variables)


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
    "resolve_stage",
]
