"""`delay`: sleep for a Go duration, or until an RFC 3339 date (docs/stages.md).

Zero or negative durations and past dates complete at once. `until` is measured against the
engine's clock (`ctx.now()`, workflow time), not the wall clock, so a replay waits the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Self

from flows.gocompat.durations import format_duration, to_seconds
from flows.gocompat.timestamps import format_rfc3339
from flows.stages.base import StageContext
from flows.stages.fields import Reader, ReadStage


@dataclass(frozen=True)
class Delay(ReadStage):
    kind = "delay"
    history_name = "RunDelay"

    duration: int | None = None
    """Nanoseconds (Go's unit), so that history prints the duration back exactly."""

    until: datetime | None = None
    """An aware UTC datetime."""

    @classmethod
    def read(cls, reader: Reader, raw: Any, path: str) -> Self:
        params = reader.params(raw, path, fields=("duration", "until"))
        delay = cls(duration=reader.duration(params, "duration"), until=reader.date(params, "until"))
        reader.exactly_one(path, {"duration": delay.duration, "until": delay.until})
        return delay

    def history_input(self) -> dict[str, Any]:
        if self.duration is not None:
            return {"duration": format_duration(self.duration)}
        assert self.until is not None  # resolution guarantees exactly one
        return {"until": format_rfc3339(self.until)}

    def seconds_to_wait(self, now: datetime) -> float:
        """How long to sleep from `now`; zero or less means not at all."""
        if self.duration is not None:
            return to_seconds(self.duration)
        assert self.until is not None
        aware_now = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
        return (self.until - aware_now).total_seconds()

    async def run(self, ctx: StageContext) -> None:
        seconds = self.seconds_to_wait(ctx.now())
        if seconds > 0:
            await ctx.sleep(seconds)
