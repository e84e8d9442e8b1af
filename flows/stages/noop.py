"""`noop`: no parameters, no work; succeeds at once (docs/stages.md)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from flows.stages.base import StageContext
from flows.stages.fields import Reader, ReadStage


@dataclass(frozen=True)
class Noop(ReadStage):
    kind = "noop"
    history_name = "RunNoop"

    @classmethod
    def read(cls, reader: Reader, raw: Any, path: str) -> Self:
        reader.params(raw, path, fields=())  # only {} or null: any key is a mistake
        return cls()

    def history_input(self) -> dict[str, Any]:
        return {}

    async def run(self, ctx: StageContext) -> None:
        return None
