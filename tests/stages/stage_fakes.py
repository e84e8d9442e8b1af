"""Test doubles for stages (imported by name: pytest puts this folder on sys.path)."""

from collections.abc import Callable
from datetime import datetime
from typing import Any

# Answers a stack call: (activity, request) -> the stack's answer, or raises StageFailure.
StackDouble = Callable[[str, dict[str, Any]], Any]


class FakeStageContext:
    """A StageContext that records what a stage asked for instead of waiting."""

    def __init__(self, now: datetime, stack: StackDouble | None = None) -> None:
        self.clock = now
        self.slept: list[float] = []
        self.waited_for: list[str] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.stack = stack or (lambda activity, request: None)

    def now(self) -> datetime:
        return self.clock

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def wait_event(self, name: str) -> None:
        self.waited_for.append(name)

    async def call(self, activity: str, request: dict[str, Any]) -> Any:
        self.calls.append((activity, request))
        return self.stack(activity, request)
