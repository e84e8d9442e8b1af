"""What a failure reported through Temporal says, for instance history and API answers."""

from __future__ import annotations


def root_message(error: BaseException) -> str:
    """The innermost failure's message: for a remote error, the remote's own text (Temporal wraps
    it in ActivityError or WorkflowUpdateFailedError, whose own message is generic)."""
    while error.__cause__ is not None:
        error = error.__cause__
    return getattr(error, "message", None) or str(error)
