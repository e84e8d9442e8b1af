"""Wallets on top of the sandbox ledger, laid out as the real Wallets v2.2 lays them out
(docs/sandbox.md): every wallet, balance and hold is an account of ledger `wallets-002` carrying
the same metadata keys, and every credit/debit is a ledger transaction built from a Numscript
program, with the caller's Idempotency-Key forwarded. A user reading the ledger sees what the
real service would have written.

Deviations, deliberate or simplifications:
* voiding a hold returns what remains to the wallet's main balance (the real one returns it to
  the balances it came from, which differ only for multi-balance debits);
* wallet and hold ids derived from an Idempotency-Key are UUIDv5 in the OID namespace (the real
  namespace is not documented; ids are opaque anyway).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flows.gocompat.timestamps import now
from flows.ledger_syntax import WORLD
from flows.sandbox.errors import (
    INSUFFICIENT_FUND,
    INTERNAL_ERROR,
    OutOfRange,
    StackError,
    validation,
)
from flows.sandbox.filters import Predicate
from flows.sandbox.ledger import AccountView, Ledger, TransactionRequest
from flows.sandbox.names import is_address, is_asset
from flows.sandbox.rendering import amount as checked_amount
from flows.sandbox.rendering import digits, format_time, parse_time

WALLETS_LEDGER = "wallets-002"
MAIN = "main"

SPEC_TYPE = "wallets/spec/type"
PRIMARY = "wallets.primary"
HOLD = "wallets.hold"
WALLET_ID = "wallets/id"
WALLET_NAME = "wallets/name"
BALANCES = "wallets/balances"
BALANCE_NAME = "wallets/balances/name"
EXPIRES_AT = "wallets/balances/expiresAt"
PRIORITY = "wallets/balances/priority"
CREATED_AT = "wallets/createdAt"
CUSTOM_DATA = "wallets/custom_data_"
CREATE_HASH = "wallets/createRequestHash"
CREATE_RESPONSE = "wallets/createResponse"
TRANSACTION = "wallets/transaction"
HOLD_WALLET = "wallets/holds/wallet_id"
HOLD_ID = "wallets/holds/id"
HOLD_ASSET = "wallets/holds/asset"
HOLD_DESCRIPTION = "wallets/holds/description"
HOLD_SUBJECT = "wallets/holds/subject"
HOLD_DESTINATION = "destination"
HOLD_VOID_DESTINATION = "void_destination"

# What Wallets v2.2 answers for anything it does not map (ledger errors included).
INTERNAL = StackError(500, INTERNAL_ERROR, "internal server error")
INSUFFICIENT = StackError(400, INSUFFICIENT_FUND, "insufficient fund")
NOT_FOUND_EMPTY = StackError(404, None)


def chart(*segments: str) -> str:
    """A ledger address of the chart: segments joined by `:`, every dash removed."""
    return ":".join(segments).replace("-", "")


def balance_account(wallet_id: str, balance: str) -> str:
    return chart("wallets", wallet_id, balance)


def hold_account(hold_id: str) -> str:
    return chart("wallets", "holds", hold_id)


@dataclass(frozen=True)
class Subject:
    type: str  # ACCOUNT | WALLET
    identifier: str
    balance: str | None = None

    def address(self) -> str:
        if self.type == "ACCOUNT":
            return self.identifier
        return balance_account(self.identifier, self.balance or MAIN)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "identifier": self.identifier}
        if self.type == "WALLET":
            out["balance"] = self.balance or MAIN
        return out


def parse_subject(raw: Any, field_name: str) -> Subject:
    if not isinstance(raw, dict):
        raise validation(f"{field_name}: expected a subject object")
    kind, identifier, balance = raw.get("type"), raw.get("identifier"), raw.get("balance")
    if not isinstance(identifier, str) or not identifier:
        raise validation(f"{field_name}: identifier is required")
    if balance is not None and not isinstance(balance, str):
        raise validation(f"{field_name}: balance must be a string")
    if kind == "ACCOUNT":
        if not is_address(identifier):
            raise validation(f"{field_name}: invalid account address {identifier!r}")
        return Subject("ACCOUNT", identifier)
    if kind == "WALLET":
        subject = Subject("WALLET", identifier, balance or None)
        if ":" in identifier or not is_address(subject.address()):
            raise validation(f"{field_name}: invalid wallet identifier {identifier!r}")
        return subject
    raise validation(f"{field_name}: unknown subject type {kind!r}")


@dataclass
class Monetary:
    amount: int
    asset: str


def parse_monetary(raw: Any) -> Monetary:
    if not isinstance(raw, dict):
        raise validation("amount: expected {amount, asset}")
    amount, asset = raw.get("amount"), raw.get("asset")
    # A big.Int: a JSON number, or the same digits as a string.
    if isinstance(amount, str):
        amount = digits(amount, "amount.amount")
    if isinstance(amount, int) and not isinstance(amount, bool) and amount < 0:
        raise validation("negative amount")
    if not isinstance(asset, str) or not is_asset(asset):
        raise validation(f"invalid asset {asset!r}")
    return Monetary(checked_amount(amount, "amount.amount"), asset)


@dataclass
class Credit:
    amount: Monetary
    balance: str = MAIN
    sources: list[Subject] = field(default_factory=list)
    metadata: dict[str, str] = field(default_factory=dict)
    reference: str | None = None
    timestamp: datetime | None = None


@dataclass
class Debit:
    amount: Monetary
    balances: list[str] | None = None
    destination: Subject | None = None
    pending: bool = False
    description: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    reference: str | None = None
    timestamp: datetime | None = None


def custom_data(metadata: Mapping[str, str]) -> dict[str, str]:
    return {f"{CUSTOM_DATA}{key}": value for key, value in metadata.items()}


def user_metadata(metadata: Mapping[str, str]) -> dict[str, str]:
    return {key[len(CUSTOM_DATA) :]: value for key, value in metadata.items() if key.startswith(CUSTOM_DATA)}


def _asset_balances(view: AccountView | None) -> dict[str, int]:
    return view.balances() if view is not None else {}


def _movement(
    order: Credit | Debit,
    sources: Sequence[str],
    destination: str,
    metadata_lines: Sequence[str] = (),
) -> TransactionRequest:
    """The transaction Wallets asks of the ledger: a program with in-order sources, destination
    and amount as variables, marked as a wallet transaction."""
    lines = ["vars {", "  monetary $amount", "  account $destination", "}", "send $amount (", "  source = {"]
    lines += [f"    @{source}" for source in sources]
    lines += ["  }", "  destination = $destination", ")"]
    lines += list(metadata_lines)
    return TransactionRequest(
        script="\n".join(lines),
        variables={"amount": f"{order.amount.asset} {order.amount.amount}", "destination": destination},
        metadata={TRANSACTION: "true", **custom_data(order.metadata)},
        reference=order.reference,
        timestamp=order.timestamp,
    )


def _quoted(value: str) -> str:
    return json.dumps(value)


class Wallets:
    def __init__(self, ledger: Ledger, ledger_name: str = WALLETS_LEDGER) -> None:
        self.ledger = ledger
        self.name = ledger_name

    # -- wallets ----------------------------------------------------------------------------

    def render(self, view: AccountView, with_assets: bool = True) -> dict[str, Any]:
        metadata = view.metadata
        return {
            "id": metadata.get(WALLET_ID, ""),
            "name": metadata.get(WALLET_NAME, ""),
            "metadata": user_metadata(metadata),
            "createdAt": metadata.get(CREATED_AT, format_time(view.insertion_date)),
            "ledger": self.name,
            "balances": {
                MAIN: {
                    "expiresAt": None,
                    "priority": 0,
                    "assets": view.balances() if with_assets else {},
                }
            },
        }

    async def create(self, name: str, metadata: dict[str, str], idempotency_key: str | None) -> dict[str, Any]:
        request_hash = hashlib.sha256(json.dumps({"name": name, "metadata": metadata}, sort_keys=True).encode()).hexdigest()
        if idempotency_key:
            wallet_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"wallet:{idempotency_key}"))
        else:
            wallet_id = str(uuid.uuid4())
        address = balance_account(wallet_id, MAIN)
        existing = await self.ledger.get_account(self.name, address)
        if existing is not None:
            stored = existing.metadata
            if (
                idempotency_key
                and stored.get(SPEC_TYPE) == PRIMARY
                and stored.get(CREATE_HASH) == request_hash
                and CREATE_RESPONSE in stored
            ):
                return json.loads(stored[CREATE_RESPONSE])
            raise StackError(409, "CONFLICT", "wallet already exists with different parameters")
        created = format_time(now())
        wallet = {
            "id": wallet_id,
            "name": name,
            "metadata": metadata,
            "createdAt": created,
            "ledger": self.name,
            "balances": {MAIN: {"expiresAt": None, "priority": 0, "assets": {}}},
        }
        values = {
            SPEC_TYPE: PRIMARY,
            WALLET_ID: wallet_id,
            WALLET_NAME: name,
            BALANCES: "true",
            BALANCE_NAME: MAIN,
            CREATED_AT: created,
            **custom_data(metadata),
        }
        if idempotency_key:
            values[CREATE_HASH] = request_hash
            values[CREATE_RESPONSE] = json.dumps(wallet, separators=(",", ":"))
        await self.ledger.add_account_metadata(self.name, address, values)
        return wallet

    async def get(self, wallet_id: str) -> AccountView:
        """The main account of a wallet; a bare 404 when there is no such wallet."""
        address = balance_account(wallet_id, MAIN)
        if not is_address(address):
            raise NOT_FOUND_EMPTY
        view = await self.ledger.get_account(self.name, address)
        if view is None or view.metadata.get(SPEC_TYPE) != PRIMARY:
            raise NOT_FOUND_EMPTY
        return view

    async def update(self, wallet_id: str, metadata: dict[str, str]) -> None:
        view = await self.get(wallet_id)
        await self.ledger.add_account_metadata(self.name, view.address, custom_data(metadata))

    async def list_wallets(
        self,
        name: str | None,
        metadata: Mapping[str, str],
        after: str | None,
        limit: int,
    ) -> tuple[list[AccountView], bool]:
        predicate = _listed(PRIMARY, WALLET_NAME, name, metadata)
        return await self.ledger.list_accounts(self.name, after, limit, predicate)

    # -- balances ---------------------------------------------------------------------------

    async def balances(self, wallet_id: str) -> list[AccountView]:
        """Every balance of a wallet, main included (unordered)."""
        prefix = chart("wallets", wallet_id) + ":"

        def belongs(record: Mapping[str, Any]) -> bool:
            found = record["metadata"]
            return record["address"].startswith(prefix) and found.get(BALANCES) == "true"

        views: list[AccountView] = []
        after: str | None = None
        while True:
            page, more = await self.ledger.list_accounts(self.name, after, 100, belongs)
            views.extend(page)
            if not more:
                return views
            after = page[-1].address

    @staticmethod
    def render_balance(view: AccountView, with_assets: bool = False) -> dict[str, Any]:
        metadata = view.metadata
        expires = metadata.get(EXPIRES_AT) or None
        out: dict[str, Any] = {
            "name": metadata.get(BALANCE_NAME, MAIN),
            "expiresAt": expires,
            "priority": int(metadata.get(PRIORITY) or 0),
        }
        if with_assets:
            out["assets"] = view.balances()
        return out

    async def create_balance(self, wallet_id: str, name: str, expires_at: datetime | None, priority: int) -> dict[str, Any]:
        if not name or name == MAIN:
            raise validation(f"invalid balance name {name!r}")
        await self.get(wallet_id)
        address = balance_account(wallet_id, name)
        if not is_address(address):
            raise validation(f"invalid balance name {name!r}")
        if await self.ledger.get_account(self.name, address) is not None:
            raise validation(f"balance {name!r} already exists")
        values = {
            WALLET_ID: wallet_id,
            BALANCES: "true",
            BALANCE_NAME: name,
            EXPIRES_AT: format_time(expires_at) if expires_at else "",
            PRIORITY: str(priority),
        }
        await self.ledger.add_account_metadata(self.name, address, values)
        return {"name": name, "expiresAt": values[EXPIRES_AT] or None, "priority": priority}

    async def get_balance(self, wallet_id: str, name: str) -> AccountView | None:
        address = balance_account(wallet_id, name)
        if not is_address(address):
            return None
        view = await self.ledger.get_account(self.name, address)
        if view is None or view.metadata.get(BALANCES) != "true":
            return None
        return view

    # -- money ------------------------------------------------------------------------------

    async def credit(self, wallet_id: str, credit: Credit, idempotency_key: str | None) -> None:
        if credit.balance != MAIN and await self.get_balance(wallet_id, credit.balance) is None:
            raise validation("balance not exists")
        destination = balance_account(wallet_id, credit.balance)
        if not is_address(destination):
            raise validation(f"invalid wallet id {wallet_id!r}")
        sources = [subject.address() for subject in credit.sources] or [WORLD]
        request = _movement(credit, sources, destination)
        try:
            await self.ledger.create_transaction(self.name, request, idempotency_key)
        except StackError as error:
            # Wallets 2.2 maps none of the ledger's errors on a credit.
            raise _wallets_error(error, insufficient_fund=INTERNAL) from error

    async def debit(self, wallet_id: str, debit: Debit, idempotency_key: str | None) -> dict[str, Any] | None:
        """Nothing for an immediate debit; the hold for a pending one."""
        names = await self._debited_balances(wallet_id, debit.balances, idempotency_key)
        if debit.pending and debit.timestamp is not None:
            raise INTERNAL  # "timestamp cannot be specified using pending debit"
        destination = debit.destination or Subject("ACCOUNT", WORLD)
        sources = [balance_account(wallet_id, name) for name in names]
        metadata_lines: list[str] = []
        hold: dict[str, Any] | None = None
        target = destination.address()
        if debit.pending:
            hold_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"hold:{idempotency_key}")) if idempotency_key else str(uuid.uuid4())
            target = hold_account(hold_id)
            hold_values = {
                SPEC_TYPE: HOLD,
                HOLD_WALLET: wallet_id,
                HOLD_ID: hold_id,
                HOLD_ASSET: debit.amount.asset,
                HOLD_DESCRIPTION: debit.description,
                HOLD_SUBJECT: json.dumps(destination.to_json(), separators=(",", ":")),
                HOLD_DESTINATION: json.dumps({"type": "account", "value": destination.address()}, separators=(",", ":")),
                HOLD_VOID_DESTINATION: json.dumps({"type": "account", "value": balance_account(wallet_id, MAIN)}, separators=(",", ":")),
                **custom_data(debit.metadata),
            }
            metadata_lines = [f"set_account_meta(@{target}, {_quoted(key)}, {_quoted(value)})" for key, value in hold_values.items()]
            hold = {
                "id": hold_id,
                "walletID": wallet_id,
                "destination": destination.to_json(),
                "asset": debit.amount.asset,
                "metadata": debit.metadata,
                "description": debit.description,
            }
        request = _movement(debit, sources, target, metadata_lines)
        try:
            await self.ledger.create_transaction(self.name, request, idempotency_key)
        except StackError as error:
            raise _wallets_error(error) from error
        return hold

    async def _debited_balances(self, wallet_id: str, requested: list[str] | None, idempotency_key: str | None) -> list[str]:
        if not requested:
            # No lookup at all: the main balance, whether or not the wallet exists.
            return [MAIN]
        moment = now()
        if "*" in requested:
            if idempotency_key:
                raise validation("debit cannot be made idempotent when using wildcard or expiring balances")
            views = [v for v in await self.balances(wallet_id) if not _expired(v, moment)]
            return [_balance_name(v) for v in sorted(views, key=_debit_order)]
        names: list[str] = []
        for name in requested:
            view = await self.get_balance(wallet_id, name)
            if view is None:
                raise INTERNAL
            if idempotency_key and view.metadata.get(EXPIRES_AT):
                raise validation("debit cannot be made idempotent when using wildcard or expiring balances")
            if not _expired(view, moment):
                names.append(name)
        return names

    # -- holds ------------------------------------------------------------------------------

    async def get_hold(self, hold_id: str) -> AccountView:
        address = hold_account(hold_id)
        view = await self.ledger.get_account(self.name, address) if is_address(address) else None
        if view is None or view.metadata.get(SPEC_TYPE) != HOLD:
            raise NOT_FOUND_EMPTY
        return view

    @staticmethod
    def render_hold(view: AccountView, expanded: bool = False) -> dict[str, Any]:
        metadata = view.metadata
        asset = metadata.get(HOLD_ASSET, "")
        out: dict[str, Any] = {
            "id": metadata.get(HOLD_ID, ""),
            "walletID": metadata.get(HOLD_WALLET, ""),
            "destination": json.loads(metadata.get(HOLD_SUBJECT) or "null"),
            "asset": asset,
            "metadata": user_metadata(metadata),
            "description": metadata.get(HOLD_DESCRIPTION, ""),
        }
        if expanded:
            received, sent = view.volumes.get(asset, (0, 0))
            out["originalAmount"] = received
            out["remaining"] = received - sent
        return out

    async def list_holds(
        self, wallet_id: str | None, metadata: Mapping[str, str], after: str | None, limit: int
    ) -> tuple[list[AccountView], bool]:
        predicate = _listed(HOLD, HOLD_WALLET, wallet_id, metadata)
        return await self.ledger.list_accounts(self.name, after, limit, predicate)

    async def confirm_hold(self, hold_id: str, amount: int | None, final: bool, idempotency_key: str | None) -> None:
        view = await self.get_hold(hold_id)
        asset = view.metadata.get(HOLD_ASSET, "")
        remaining = view.balances().get(asset, 0)
        if remaining <= 0:
            raise StackError(400, "HOLD_CLOSED", "hold closed")
        wanted = remaining if amount is None or amount == 0 else amount
        if wanted > remaining:
            raise INSUFFICIENT
        destination = json.loads(view.metadata[HOLD_DESTINATION])["value"]
        program = [f"send [{asset} {wanted}] (", f"  source = @{view.address}", f"  destination = @{destination}", ")"]
        if final and wanted < remaining:
            back = json.loads(view.metadata[HOLD_VOID_DESTINATION])["value"]
            program += [f"send [{asset} {remaining - wanted}] (", f"  source = @{view.address}", f"  destination = @{back}", ")"]
        await self._hold_transaction("\n".join(program), idempotency_key)

    async def void_hold(self, hold_id: str, idempotency_key: str | None) -> None:
        view = await self.get_hold(hold_id)
        asset = view.metadata.get(HOLD_ASSET, "")
        remaining = view.balances().get(asset, 0)
        if remaining <= 0:
            raise StackError(400, "HOLD_CLOSED", "hold closed")
        back = json.loads(view.metadata[HOLD_VOID_DESTINATION])["value"]
        program = [f"send [{asset} {remaining}] (", f"  source = @{view.address}", f"  destination = @{back}", ")"]
        await self._hold_transaction("\n".join(program), idempotency_key)

    async def _hold_transaction(self, script: str, idempotency_key: str | None) -> None:
        request = TransactionRequest(script=script, metadata={TRANSACTION: "true"})
        try:
            await self.ledger.create_transaction(self.name, request, idempotency_key)
        except StackError as error:
            raise _wallets_error(error) from error


def _wallets_error(error: StackError, insufficient_fund: StackError = INSUFFICIENT) -> StackError:
    """What Wallets 2.2 answers for an error of the ledger: INTERNAL_ERROR, but for
    insufficient funds (`insufficient_fund`). An amount beyond the sandbox's range, which the
    real ledger has not, is the 400 it is."""
    if isinstance(error, OutOfRange):
        return error
    return insufficient_fund if error.code == INSUFFICIENT_FUND else INTERNAL


def _balance_name(view: AccountView) -> str:
    return view.metadata.get(BALANCE_NAME, MAIN)


def _expires(view: AccountView) -> datetime | None:
    raw = view.metadata.get(EXPIRES_AT)
    return parse_time(raw, EXPIRES_AT) if raw else None


def _expired(view: AccountView, moment: datetime) -> bool:
    expires = _expires(view)
    return expires is not None and expires <= moment


def _debit_order(view: AccountView) -> tuple[int, float, int]:
    """Expiring balances first (soonest first), then by priority (highest first), main last."""
    if _balance_name(view) == MAIN:
        return (2, 0.0, 0)
    expires = _expires(view)
    if expires is not None:
        return (0, expires.timestamp(), 0)
    return (1, 0.0, -int(view.metadata.get(PRIORITY) or 0))


def _listed(spec_type: str, key: str, value: str | None, metadata: Mapping[str, str]) -> Predicate:
    """Accounts of that Wallets type, with `key` equal to `value` (when given) and the custom
    metadata asked for: how wallets and holds are listed."""
    wanted = custom_data(metadata)

    def is_listed(record: Mapping[str, Any]) -> bool:
        found = record["metadata"]
        if found.get(SPEC_TYPE) != spec_type:
            return False
        if value is not None and found.get(key) != value:
            return False
        return all(found.get(name) == expected for name, expected in wanted.items())

    return is_listed
