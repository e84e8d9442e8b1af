"""The parameters of a `send` stage: what may be written, the defaults, how they are read from
a config and how the resolved stage shows in instance history (docs/stages.md, send).

An end with no `throughAccount` goes through `world`, the ledger's unbounded source and sink.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Self

from flows.gocompat.timestamps import format_rfc3339
from flows.ledger_syntax import WORLD
from flows.stages.fields import RawObject, Reader

DEFAULT_LEDGER = "default"
"""Ledger of a source or destination account (the update stage's default is `main`)."""

DEFAULT_WALLET_BALANCE = "main"

INTERNAL_LEDGER = "orchestration-000-internal"
"""Where payments are ingested when the payment source names no ledger."""

TRANSFER_TYPES = ("TRANSFER", "PAYOUT")
DEFAULT_TRANSFER_TYPE = "TRANSFER"

DEFAULT_PSP_ACCOUNT_METADATA = "formanceAccountID"
"""Metadata key, on the source account or wallet, holding the PSP account to pay out to."""

_ENDS = ("account", "wallet", "payment")


@dataclass(frozen=True)
class Account:
    id: str
    ledger: str
    through_account: str
    allow_overdraft: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ledger": self.ledger,
            "throughAccount": self.through_account,
            "allowOverdraft": self.allow_overdraft,
        }


@dataclass(frozen=True)
class Wallet:
    """A wallet by id or by name (exactly one is set), and the balance to use."""

    id: str
    name: str
    balance: str

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "balance": self.balance}


@dataclass(frozen=True)
class PaymentSource:
    """A PSP payment to ingest on a ledger before moving it on (pay-in)."""

    id: str
    ledger: str
    """As written; "" means the run-time default, see `ingestion_ledger`."""
    holding_account: str
    """As written; "" means the run-time default, see `ingestion_account`."""
    through_account: str
    allow_overdraft: bool

    @property
    def ingestion_ledger(self) -> str:
        return self.ledger or INTERNAL_LEDGER

    @property
    def ingestion_account(self) -> str:
        # Ledger addresses do not allow "-", which payment ids contain.
        return self.holding_account or "payment:" + self.id.replace("-", "_")

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"id": self.id}
        if self.ledger:
            shown["ledger"] = self.ledger
        if self.holding_account:
            shown["holdingAccount"] = self.holding_account
        shown["throughAccount"] = self.through_account
        shown["allowOverdraft"] = self.allow_overdraft
        return shown


@dataclass(frozen=True)
class PaymentDestination:
    """A transfer initiation (payout or transfer) through a PSP connector."""

    psp: str
    type: str
    """As written (any case) or the default TRANSFER; see `transfer_type`."""
    source_account: str
    metadata: str
    """The metadata key read on the source account or wallet to find the PSP account."""
    waiting_validation: bool
    connector_id: str

    @property
    def transfer_type(self) -> str:
        return self.type.upper()

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {"psp": self.psp, "type": self.type}
        if self.source_account:
            shown["sourceAccount"] = self.source_account
        shown["metadata"] = self.metadata
        shown["waitingValidation"] = self.waiting_validation
        if self.connector_id:
            shown["connectorId"] = self.connector_id
        return shown


@dataclass(frozen=True)
class Source:
    """Where the money comes from: exactly one of the three is set."""

    account: Account | None = None
    wallet: Wallet | None = None
    payment: PaymentSource | None = None

    def to_json(self) -> dict[str, Any]:
        return _end_json(self.account, self.wallet, self.payment)


@dataclass(frozen=True)
class Destination:
    """Where the money goes: exactly one of the three is set."""

    account: Account | None = None
    wallet: Wallet | None = None
    payment: PaymentDestination | None = None

    def to_json(self) -> dict[str, Any]:
        return _end_json(self.account, self.wallet, self.payment)


def _end_json(
    account: Account | None,
    wallet: Wallet | None,
    payment: PaymentSource | PaymentDestination | None,
) -> dict[str, Any]:
    # Unused branches are omitted, never null (the TypeScript SDK rejects nulls).
    branches = {"account": account, "wallet": wallet, "payment": payment}
    return {name: branch.to_json() for name, branch in branches.items() if branch is not None}


@dataclass(frozen=True)
class Amount:
    amount: int
    """In the asset's smallest unit."""
    asset: str

    def to_json(self) -> dict[str, Any]:
        return {"amount": self.amount, "asset": self.asset}


@dataclass(frozen=True)
class SendParameters:
    """What a send stage moves, from where to where (see the module's docstring)."""

    source: Source
    destination: Destination
    amount: Amount | None = None
    """None only with a payment source, whose own amount is then moved."""
    metadata: dict[str, str] | None = None
    timestamp: datetime | None = None
    """Date of every ledger and wallet write, when set."""

    @classmethod
    def read(cls, reader: Reader, raw: Any, path: str) -> Self:
        params = reader.params(raw, path, fields=("source", "destination", "amount", "metadata", "timestamp"))
        source = _read_source(reader, params)
        destination = _read_destination(reader, params)
        if source.payment is not None and destination.payment is not None:
            reader.fail(path, "sending from a payment to a payment is not supported")
        amount = _read_amount(reader, params)
        if amount is None and source.payment is None:
            reader.fail(params.path_of("amount"), "required (only a payment source may leave it out)")
        return cls(
            source=source,
            destination=destination,
            amount=amount,
            metadata=reader.string_map(params, "metadata"),
            timestamp=reader.date(params, "timestamp"),
        )

    def history_input(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "source": self.source.to_json(),
            "destination": self.destination.to_json(),
        }
        if self.amount is not None:
            shown["amount"] = self.amount.to_json()
        if self.metadata is not None:
            shown["metadata"] = dict(self.metadata)
        if self.timestamp is not None:
            shown["timestamp"] = format_rfc3339(self.timestamp)
        return shown


def _end(reader: Reader, params: RawObject, name: str) -> RawObject:
    end = reader.object(params, name, fields=_ENDS)
    if end is None:
        reader.fail(params.path_of(name), "required")
    return end


def _read_source(reader: Reader, params: RawObject) -> Source:
    end = _end(reader, params, "source")
    source = Source(
        account=_read_account(reader, end),
        wallet=_read_wallet(reader, end),
        payment=_read_payment_source(reader, end),
    )
    reader.exactly_one(end.path, {"account": source.account, "wallet": source.wallet, "payment": source.payment})
    return source


def _read_destination(reader: Reader, params: RawObject) -> Destination:
    end = _end(reader, params, "destination")
    destination = Destination(
        account=_read_account(reader, end),
        wallet=_read_wallet(reader, end),
        payment=_read_payment_destination(reader, end),
    )
    reader.exactly_one(
        end.path,
        {
            "account": destination.account,
            "wallet": destination.wallet,
            "payment": destination.payment,
        },
    )
    return destination


def _read_account(reader: Reader, end: RawObject) -> Account | None:
    obj = reader.object(end, "account", fields=("id", "ledger", "throughAccount", "allowOverdraft"))
    if obj is None:
        return None
    account = Account(
        id=reader.string(obj, "id"),
        ledger=reader.string(obj, "ledger", default=DEFAULT_LEDGER),
        through_account=reader.string(obj, "throughAccount", default=WORLD),
        allow_overdraft=reader.boolean(obj, "allowOverdraft"),
    )
    reader.require(account.id, obj.path_of("id"))
    return account


def _read_wallet(reader: Reader, end: RawObject) -> Wallet | None:
    obj = reader.object(end, "wallet", fields=("id", "name", "balance"))
    if obj is None:
        return None
    wallet = Wallet(
        id=reader.string(obj, "id"),
        name=reader.string(obj, "name"),
        balance=reader.string(obj, "balance", default=DEFAULT_WALLET_BALANCE),
    )
    reader.exactly_one(obj.path, {"id": wallet.id, "name": wallet.name})
    return wallet


def _read_payment_source(reader: Reader, end: RawObject) -> PaymentSource | None:
    obj = reader.object(
        end,
        "payment",
        fields=("id", "ledger", "holdingAccount", "throughAccount", "allowOverdraft"),
    )
    if obj is None:
        return None
    payment = PaymentSource(
        id=reader.string(obj, "id"),
        ledger=reader.string(obj, "ledger"),
        holding_account=reader.string(obj, "holdingAccount"),
        through_account=reader.string(obj, "throughAccount", default=WORLD),
        allow_overdraft=reader.boolean(obj, "allowOverdraft"),
    )
    reader.require(payment.id, obj.path_of("id"))
    return payment


def _read_payment_destination(reader: Reader, end: RawObject) -> PaymentDestination | None:
    obj = reader.object(
        end,
        "payment",
        fields=("psp", "type", "sourceAccount", "metadata", "waitingValidation", "connectorId"),
        # The reference reads `connectorId` only, while its docs and OpenAPI spell `connectorID`.
        aliases={"connectorID": "connectorId"},
    )
    if obj is None:
        return None
    payment = PaymentDestination(
        psp=reader.string(obj, "psp"),
        type=reader.string(obj, "type", default=DEFAULT_TRANSFER_TYPE),
        source_account=reader.string(obj, "sourceAccount"),
        metadata=reader.string(obj, "metadata", default=DEFAULT_PSP_ACCOUNT_METADATA),
        waiting_validation=reader.boolean(obj, "waitingValidation"),
        connector_id=reader.string(obj, "connectorId"),
    )
    if reader.known(payment.type) and payment.type.upper() not in TRANSFER_TYPES:
        reader.fail(obj.path_of("type"), f"expected TRANSFER or PAYOUT, got '{payment.type}'")
    return payment


def _read_amount(reader: Reader, params: RawObject) -> Amount | None:
    obj = reader.object(params, "amount", fields=("amount", "asset"))
    if obj is None:
        return None
    value = reader.amount(obj, "amount")
    reader.require(value, obj.path_of("amount"))
    asset = reader.string(obj, "asset")
    reader.require(asset, obj.path_of("asset"))
    assert value is not None  # required just above
    return Amount(amount=value, asset=asset)
