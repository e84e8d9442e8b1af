"""`update`: add metadata to a ledger account (docs/stages.md).

Only `account` is supported. Its ledger defaults to `main` (the send stage's to `default`: a
difference kept from the Go implementation). It runs as one AddAccountMetadata call.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Self

from flows.stages.base import StageContext
from flows.stages.fields import Reader, ReadStage

DEFAULT_LEDGER = "main"


@dataclass(frozen=True)
class AccountUpdate:
    id: str
    ledger: str
    metadata: dict[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "ledger": self.ledger, "metadata": dict(self.metadata)}


@dataclass(frozen=True)
class Update(ReadStage):
    kind = "update"
    history_name = "RunUpdate"

    account: AccountUpdate

    @classmethod
    def read(cls, reader: Reader, raw: Any, path: str) -> Self:
        params = reader.params(raw, path, fields=("account",))
        account = reader.object(params, "account", fields=("id", "ledger", "metadata"))
        if account is None:
            reader.fail(params.path_of("account"), "required")
        account_id = reader.string(account, "id")
        reader.require(account_id, account.path_of("id"))
        metadata = reader.string_map(account, "metadata")
        if metadata is None:  # {} is fine: it adds nothing, but says so explicitly
            reader.fail(account.path_of("metadata"), "required")
        ledger = reader.string(account, "ledger", default=DEFAULT_LEDGER)
        update = AccountUpdate(id=account_id, ledger=ledger, metadata=metadata)
        return cls(account=update)

    def history_input(self) -> dict[str, Any]:
        return {"account": self.account.to_json()}

    async def run(self, ctx: StageContext) -> None:
        account = self.account
        request = {"ledger": account.ledger, "account": account.id, "metadata": dict(account.metadata)}
        await ctx.call("AddAccountMetadata", request)
