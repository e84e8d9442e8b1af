"""`send`: move money between ledger accounts, wallets and payments (docs/stages.md, send)."""

from __future__ import annotations

from dataclasses import dataclass

from flows.stages.base import StageContext
from flows.stages.fields import ReadStage
from flows.stages.send.moves import Mover
from flows.stages.send.parameters import SendParameters


@dataclass(frozen=True)
class Send(SendParameters, ReadStage):
    """The stage: its parameters (`SendParameters`), run as the moves of `Mover`."""

    kind = "send"
    history_name = "RunSend"

    async def run(self, ctx: StageContext) -> None:
        await Mover(ctx, self).run()
