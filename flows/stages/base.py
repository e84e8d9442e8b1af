"""What every stage provides, and what the engine offers a stage while it runs.

A stage module defines one `Stage` subclass. The same class serves three moments of a stage's
life: checking a workflow config when it is created (`check`), turning the raw parameters into
typed ones with the run's variables when the stage is reached (`resolve`), and running inside the
instance's Temporal workflow (`run`). Everything here runs in workflow code, so it must be
deterministic: no I/O, no wall clock, no randomness.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar, Protocol, Self


class ConfigError(ValueError):
    """A workflow config that cannot be accepted; the message names the offending path."""


class StageFailure(Exception):
    """A stage that cannot complete; its message becomes the stage's and the instance's `error`.

    `code` is the remote error code when a stack call failed for good (e.g. `CONFLICT`)."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class MissingVariables(StageFailure):
    """A stage that cannot be resolved, which refers to run variables that were not given."""

    def __init__(self, failure: StageFailure, names: list[str]) -> None:
        shown = ", ".join(f"'{name}'" for name in names)
        noun = "variable" if len(names) == 1 else "variables"
        super().__init__(f"{failure} (run {noun} {shown} not given)", failure.code)
        self.names = names


class StageContext(Protocol):
    """What the engine lends a running stage."""

    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...

    async def wait_event(self, name: str) -> None:
        """Return once an event of this name has been received (the oldest one is consumed)."""
        ...

    async def call(self, activity: str, request: dict[str, Any]) -> Any:
        """Run a stack activity (e.g. `CreateTransaction`) for this stage and return the stack's
        answer. Retryable failures are retried with backoff for as long as it takes; a failure
        that is not retryable raises, and fails the stage with the remote's message."""
        ...


class Stage(ABC):
    kind: ClassVar[str]
    """The key naming the stage in a workflow config, e.g. `noop`."""

    history_name: ClassVar[str]
    """The name shown in instance history, e.g. `RunNoop`."""

    @classmethod
    @abstractmethod
    def check(cls, raw: Any, path: str) -> None:
        """Validate raw parameters at creation time. Values holding `${…}` are not checked."""

    @classmethod
    @abstractmethod
    def resolve(cls, raw: Any, variables: Mapping[str, str]) -> Self:
        """Interpolate, apply defaults and validate; raise StageFailure when that fails."""

    @abstractmethod
    def history_input(self) -> dict[str, Any]:
        """The resolved parameters as instance history shows them."""

    @abstractmethod
    async def run(self, ctx: StageContext) -> None:
        """Do the stage's work; raise StageFailure to fail it."""
