"""Test doubles for stages (imported by name: pytest puts this folder on sys.path)."""

from datetime import datetime


class FakeStageContext:
    """A StageContext that records what a stage asked for instead of waiting."""

    def __init__(self, now: datetime) -> None:
        self.clock = now
        self.slept: list[float] = []
        self.waited_for: list[str] = []

    def now(self) -> datetime:
        return self.clock

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)

    async def wait_event(self, name: str) -> None:
        self.waited_for.append(name)
