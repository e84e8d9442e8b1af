"""Workflow configs: validation at creation, and YAML bodies."""

from flows.workflows.config import MAX_STAGES, validate_config

__all__ = ["MAX_STAGES", "validate_config"]
