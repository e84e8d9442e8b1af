"""How a `send` stage moves money: the nine source → destination combinations of docs/stages.md,
as a sequence of stack activities (`CreateTransaction`, `CreditWallet`, …).

Pure workflow code: each call goes through the StageContext, which runs it as a retried,
idempotent activity. The requests built here are exactly what stage history shows as inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flows.gocompat.timestamps import format_rfc3339
from flows.ledger_syntax import ADDRESS, ASSET, WORLD
from flows.stages.amounts import AmountError, amount_from_json
from flows.stages.base import StageContext, StageFailure
from flows.stages.send.parameters import (
    Account,
    Amount,
    PaymentDestination,
    PaymentSource,
    SendParameters,
    Wallet,
)

MOVE_TO_LEDGER = "orchestration/move-to-ledger"
MOVE_FROM_LEDGER = "orchestration/move-from-ledger"
OVERDRAFT_SCRIPT = "send [{asset} {amount}] (\n  source = @{source} allowing unbounded overdraft\n  destination = @{destination}\n)"


@dataclass(frozen=True)
class ResolvedWallet:
    id: str
    ledger: str
    metadata: dict[str, Any]


class Mover:
    """Runs one send stage's moves."""

    def __init__(self, ctx: StageContext, send: SendParameters) -> None:
        self.ctx = ctx
        self.send = send
        self.metadata: dict[str, str] = dict(send.metadata or {})
        self.timestamp: datetime | None = send.timestamp

    async def run(self) -> None:
        source, destination = self.send.source, self.send.destination
        if source.payment is not None:
            if destination.payment is not None:
                raise StageFailure("send from payment to payment is not supported")
            account, amount = await self._ingest(source.payment)
            await self._from_account(account, amount)
        elif source.account is not None:
            await self._from_account(source.account, self._amount())
        elif source.wallet is not None:
            await self._from_wallet(source.wallet, self._amount())

    def _amount(self) -> Amount:
        if self.send.amount is None:
            raise StageFailure("amount must be specified")
        return self.send.amount

    # -- sources ------------------------------------------------------------------------------

    async def _from_account(self, source: Account, amount: Amount) -> None:
        destination = self.send.destination
        if destination.account is not None:
            await self._account_to_account(source, destination.account, amount)
        elif destination.wallet is not None:
            await self._account_to_wallet(source, destination.wallet, amount)
        elif destination.payment is not None:
            await self._account_to_payment(source, destination.payment, amount)

    async def _from_wallet(self, source: Wallet, amount: Amount) -> None:
        destination = self.send.destination
        if destination.account is not None:
            await self._wallet_to_account(source, destination.account, amount)
        elif destination.wallet is not None:
            await self._wallet_to_wallet(source, destination.wallet, amount)
        elif destination.payment is not None:
            await self._wallet_to_payment(source, destination.payment, amount)

    async def _ingest(self, payment: PaymentSource) -> tuple[Account, Amount]:
        """Record a PSP payment on its ledger (once: the reference makes a replay a CONFLICT)."""
        try:
            found = (await self.ctx.call("GetPayment", {"id": payment.id}))["data"]
        except StageFailure as failure:
            raise StageFailure(f"retrieving payment: {payment.id}: {failure}") from failure
        try:
            initial_amount = amount_from_json(found.get("initialAmount"))
        except AmountError as error:
            raise StageFailure(f"payment {payment.id}: initialAmount: {error}") from error
        ingested = Amount(amount=initial_amount, asset=str(found["asset"]))
        ledger, holding = payment.ingestion_ledger, payment.ingestion_account
        overdraft = payment.allow_overdraft and payment.through_account != WORLD
        request = self._transaction(ledger, payment.through_account, holding, ingested, self.metadata, overdraft, holding)
        try:
            await self.ctx.call("CreateTransaction", request)
        except StageFailure as failure:
            if failure.code != "CONFLICT":
                raise
        holding_account = Account(id=holding, ledger=ledger, through_account=WORLD, allow_overdraft=False)
        return holding_account, self.send.amount or ingested

    # -- combinations -------------------------------------------------------------------------

    async def _account_to_account(self, source: Account, destination: Account, amount: Amount) -> None:
        if source.ledger == destination.ledger:
            # Same ledger: one transaction; throughAccount and allowOverdraft do not apply.
            await self._create_transaction(source.ledger, source.id, destination.id, amount, self.metadata)
            return
        await self._leave_ledger(source, amount, destination.ledger)
        await self._enter_ledger(destination, amount, source.ledger)

    async def _leave_ledger(self, source: Account, amount: Amount, to_ledger: str) -> None:
        metadata = {**self.metadata, MOVE_TO_LEDGER: to_ledger}
        await self._create_transaction(source.ledger, source.id, source.through_account, amount, metadata, source.allow_overdraft)

    async def _enter_ledger(self, destination: Account, amount: Amount, from_ledger: str) -> None:
        metadata = {**self.metadata, MOVE_FROM_LEDGER: from_ledger}
        overdraft = destination.allow_overdraft and destination.through_account != WORLD
        await self._create_transaction(destination.ledger, destination.through_account, destination.id, amount, metadata, overdraft)

    async def _account_to_wallet(self, source: Account, destination: Wallet, amount: Amount) -> None:
        wallet = await self._wallet(destination)
        if wallet.ledger == source.ledger:
            subject = {"type": "ACCOUNT", "identifier": source.id}
            await self._credit(wallet, destination.balance, amount, self.metadata, [subject])
            return
        await self._leave_ledger(source, amount, wallet.ledger)
        subject = {"type": "ACCOUNT", "identifier": source.through_account}
        metadata = {**self.metadata, MOVE_FROM_LEDGER: source.ledger}
        await self._credit(wallet, destination.balance, amount, metadata, [subject])

    async def _account_to_payment(self, source: Account, destination: PaymentDestination, amount: Amount) -> None:
        try:
            found = await self.ctx.call("GetAccount", {"ledger": source.ledger, "id": source.id})
        except StageFailure as failure:
            raise StageFailure(f"reading account: {source.id}: {failure}") from failure
        psp_account = _psp_account(found["data"].get("metadata") or {}, destination.metadata)
        await self._create_transaction(source.ledger, source.id, source.through_account, amount, self.metadata, source.allow_overdraft)
        await self._transfer(destination, amount, psp_account)

    async def _wallet_to_account(self, source: Wallet, destination: Account, amount: Amount) -> None:
        wallet = await self._wallet(source)
        if wallet.ledger == destination.ledger:
            subject = {"type": "ACCOUNT", "identifier": destination.id}
            # The reference passes null metadata here when the stage has none, which the SDKs'
            # DebitWalletRequest (stage history, and the Wallets client) reject: `{}` means the same.
            await self._debit(wallet, source.balance, amount, self.metadata, subject)
            return
        metadata = {**self.metadata, MOVE_TO_LEDGER: destination.ledger}
        await self._debit(wallet, source.balance, amount, metadata, None)
        await self._enter_ledger(destination, amount, wallet.ledger)

    async def _wallet_to_wallet(self, source: Wallet, destination: Wallet, amount: Amount) -> None:
        from_wallet = await self._wallet(source)
        to_wallet = await self._wallet(destination)
        if from_wallet.ledger == to_wallet.ledger:
            # As the reference does: the source wallet's balance is always `main` here.
            subject = {"type": "WALLET", "identifier": from_wallet.id, "balance": "main"}
            await self._credit(to_wallet, destination.balance, amount, self.metadata, [subject])
            return
        leaving = {**self.metadata, MOVE_TO_LEDGER: to_wallet.ledger}
        await self._debit(from_wallet, source.balance, amount, leaving, None)
        entering = {**self.metadata, MOVE_FROM_LEDGER: from_wallet.ledger}
        # No source subject: Wallets credits from `world` when `sources` is empty.
        await self._credit(to_wallet, destination.balance, amount, entering, [])

    async def _wallet_to_payment(self, source: Wallet, destination: PaymentDestination, amount: Amount) -> None:
        try:
            wallet = await self._wallet(source)
        except StageFailure as failure:
            raise StageFailure(f"reading account: {source.id}: {failure}") from failure
        psp_account = _psp_account(wallet.metadata, destination.metadata)
        await self._debit(wallet, source.balance, amount, self.metadata, None)
        await self._transfer(destination, amount, psp_account)

    # -- activities ---------------------------------------------------------------------------

    def _transaction(
        self,
        ledger: str,
        source: str,
        destination: str,
        amount: Amount,
        metadata: dict[str, str],
        overdraft: bool = False,
        reference: str | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {"metadata": metadata}
        if overdraft:
            _check_script_values(amount.asset, source, destination)
            script = OVERDRAFT_SCRIPT.format(asset=amount.asset, amount=amount.amount, source=source, destination=destination)
            data["script"] = {"plain": script}
        else:
            data["postings"] = [{"source": source, "destination": destination, "amount": amount.amount, "asset": amount.asset}]
        if reference is not None:
            data["reference"] = reference
        if self.timestamp is not None:
            data["timestamp"] = format_rfc3339(self.timestamp)
        return {"Ledger": ledger, "Data": data}

    async def _create_transaction(
        self,
        ledger: str,
        source: str,
        destination: str,
        amount: Amount,
        metadata: dict[str, str],
        overdraft: bool = False,
    ) -> None:
        request = self._transaction(ledger, source, destination, amount, metadata, overdraft)
        await self.ctx.call("CreateTransaction", request)

    async def _wallet(self, wallet: Wallet) -> ResolvedWallet:
        if wallet.id:
            found = (await self.ctx.call("GetWallet", {"id": wallet.id}))["data"]
        else:
            listed = (await self.ctx.call("ListWallets", {"name": wallet.name}))["cursor"]["data"]
            if not listed:
                raise StageFailure("wallet not found")
            if len(listed) > 1:
                raise StageFailure("found multiple wallets with the same name")
            found = listed[0]
        return ResolvedWallet(id=str(found["id"]), ledger=str(found["ledger"]), metadata=dict(found.get("metadata") or {}))

    async def _credit(
        self,
        wallet: ResolvedWallet,
        balance: str,
        amount: Amount,
        metadata: dict[str, str],
        sources: list[dict[str, str]],
    ) -> None:
        # `sources` is always sent, as the reference does: the SDKs' CreditWalletRequest requires it.
        data: dict[str, Any] = {
            "amount": amount.to_json(),
            "balance": balance,
            "metadata": metadata,
            "sources": sources,
        }
        if self.timestamp is not None:
            data["timestamp"] = format_rfc3339(self.timestamp)
        await self.ctx.call("CreditWallet", {"id": wallet.id, "data": data})

    async def _debit(
        self,
        wallet: ResolvedWallet,
        balance: str,
        amount: Amount,
        metadata: dict[str, str],
        destination: dict[str, str] | None,
    ) -> None:
        data: dict[str, Any] = {"amount": amount.to_json(), "balances": [balance], "metadata": metadata}
        if destination is not None:
            data["destination"] = destination
        if self.timestamp is not None:
            data["timestamp"] = format_rfc3339(self.timestamp)
        await self.ctx.call("DebitWallet", {"id": wallet.id, "data": data})

    async def _transfer(self, destination: PaymentDestination, amount: Amount, psp_account: str) -> None:
        request: dict[str, Any] = {"amount": amount.amount, "asset": amount.asset}
        if destination.connector_id:
            request["connectorID"] = destination.connector_id
        request.update(provider=destination.psp, destination=psp_account)
        if destination.source_account:
            request["source"] = destination.source_account
        request.update(
            type=destination.transfer_type,
            metadata=self.metadata,
            waitingValidation=destination.waiting_validation,
        )
        await self.ctx.call("CreateTransferInitiation", request)


def _psp_account(metadata: dict[str, Any], key: str) -> str:
    if key not in metadata:
        raise StageFailure(f"expected '{key}' metadata containing formance account ID")
    value = metadata[key]
    if value in (None, "", 0):
        raise StageFailure("formance account ID empty")
    return value if isinstance(value, str) else str(value)


def _check_script_values(asset: str, *addresses: str) -> None:
    # Values spliced into a Numscript must keep to the ledger's syntax: an account id from a
    # variable such as "a\n)\nsend [USD/2 100] (…" would otherwise add a posting.
    if ASSET.fullmatch(asset) is None:
        raise StageFailure(f"invalid asset '{asset[:40]}'")
    for address in addresses:
        if ADDRESS.fullmatch(address) is None:
            raise StageFailure(f"invalid account address '{address[:40]}'")
