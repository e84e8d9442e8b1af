"""Workflow configs: validation at creation, the stages they list, and YAML bodies."""

from flows.workflows.config import (
    MAX_STAGES,
    resolve_stage,
    stage_entries,
    validate_config,
)

__all__ = ["MAX_STAGES", "resolve_stage", "stage_entries", "validate_config"]
