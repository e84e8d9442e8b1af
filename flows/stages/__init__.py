"""The stages a workflow is made of, by the key that names them in a config (`{"send": {...}}`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.stages.base import ConfigError, MissingVariables, Stage, StageContext, StageFailure
from flows.stages.delay import Delay
from flows.stages.interpolation import referenced_variables
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
    try:
        return stage_class.resolve(raw, variables)
    except StageFailure as failure:
        # A field that resolved to nothing is most often a variable left out of the run: name it.
        missing = sorted({name for name in referenced_variables(raw) if name not in variables})
        if not missing:
            raise
        raise MissingVariables(failure, missing) from failure


__all__ = [
    "STAGES",
    "ConfigError",
    "Delay",
    "MissingVariables",
    "Noop",
    "Send",
    "Stage",
    "StageContext",
    "StageFailure",
    "Update",
    "WaitEvent",
    "resolve_stage",
]
