"""What a use case answers when the caller asked for something wrong: the edges map these to their
own shape (the API to its error envelope, flows/api/errors.py)."""

from __future__ import annotations

from flows.errors import FlowsError


class ApplicationError(FlowsError):
    """A caller's request the application refuses; nothing was changed."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(ApplicationError):
    """What the request names does not exist (or no longer: a deleted workflow)."""


class Invalid(ApplicationError):
    """The request itself is wrong: a bad value, or an action the target does not accept."""
