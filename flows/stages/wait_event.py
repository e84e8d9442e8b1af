"""`wait_event`: wait until an event of the given name is sent to the instance (docs/stages.md).

Unlike the Go implementation, events that arrive before the stage is reached are buffered by the
engine (docs/differences.md#10); `StageContext.wait_event` consumes the oldest one of that name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from flows.stages.base import StageContext
from flows.stages.fields import Reader, ReadStage


@dataclass(frozen=True)
class WaitEvent(ReadStage):
    kind = "wait_event"
    history_name = "RunWaitEvent"

    event: str

    @classmethod
    def read(cls, reader: Reader, raw: Any, path: str) -> Self:
        params = reader.params(raw, path, fields=("event",))
        event = reader.string(params, "event")
        reader.require(event, params.path_of("event"))
        return cls(event=event)

    def history_input(self) -> dict[str, Any]:
        return {"event": self.event}

    async def run(self, ctx: StageContext) -> None:
        await ctx.wait_event(self.event)
