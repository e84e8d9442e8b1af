"""A workflow config: `{"name"?: str, "stages": [{"<kind>": {...}}, ...]}` (docs/stages.md).

Configs are validated in full when a workflow is created (docs/differences.md#4): the
shape, every stage's kind, fields, types, required fields and exactly-one-of rules; only values
written as `${variable}` wait for run time. The config itself is never rewritten: it is stored
and returned as submitted, and defaults apply when a stage is resolved.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flows.stages import STAGES, ConfigError

MAX_STAGES = 1_000
"""One Temporal workflow runs every stage of an instance; this bounds its history."""


def validate_config(data: Any) -> dict[str, Any]:
    """Return `data` unchanged if it is a valid workflow config, else raise ConfigError."""
    if not isinstance(data, dict):
        raise ConfigError("a workflow config must be an object")
    name = data.get("name")
    # null is taken as "no name": SDKs may serialise an unset optional that way.
    if name is not None and not isinstance(name, str):
        raise ConfigError("name: expected a string")
    if data.get("stages") is None:
        raise ConfigError("a workflow config needs 'stages' (a list, possibly empty)")
    stages = data["stages"]
    if not isinstance(stages, list):
        raise ConfigError("stages: expected a list")
    if len(stages) > MAX_STAGES:
        raise ConfigError(f"stages: at most {MAX_STAGES} stages are allowed, got {len(stages)}")
    for index, stage in enumerate(stages):
        _check_stage(stage, f"stages[{index}]")
    return data


def _check_stage(stage: Any, path: str) -> None:
    kind, raw = _single_entry(stage, path)
    stage_class = STAGES.get(kind)
    if stage_class is None:
        known = ", ".join(sorted(STAGES))
        raise ConfigError(f"{path}: unknown stage type '{kind}' (known: {known})")
    stage_class.check(raw, f"{path}.{kind}")


def _single_entry(stage: Any, path: str) -> tuple[str, Any]:
    """The (kind, parameters) of a stage written as an object with exactly one key."""
    if not isinstance(stage, Mapping):
        raise ConfigError(f'{path}: expected an object like {{"noop": {{}}}}')
    if not stage:
        raise ConfigError(f"{path}: empty specification")
    if len(stage) > 1:
        raise ConfigError(f"{path}: a specification should have only one name")
    ((kind, raw),) = stage.items()
    return kind, raw
