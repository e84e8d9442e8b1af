"""Payments v1 API of the sandbox (docs/sandbox.md): payments (seeded by users), accounts, and
transfer initiations with the v1 service's rules (a `provider` resolves to its connector).

Every provider the SDK knows has one connector "installed", with a stable id. Objects are kept
as their API documents; ids are base64url (no padding) of canonical JSON, as the real service
mints them, and are opaque to clients. Nothing is sent to a PSP: a validated transfer
initiation stays VALIDATED unless its status is updated through the API.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.exc import IntegrityError
from starlette.requests import Request
from starlette.responses import Response

from flows.gocompat.timestamps import now
from flows.sandbox.errors import (
    CONFLICT,
    INVALID_ID,
    MISSING_OR_INVALID_BODY,
    StackError,
    not_found,
    validation,
)
from flows.sandbox.events import Publisher
from flows.sandbox.names import is_asset
from flows.sandbox.rendering import (
    ZERO_TIME,
    amount,
    cursor_response,
    data_response,
    empty_response,
    encode_cursor,
    format_time,
    json_response,
    page_size,
    parse_json,
    parse_time,
    read_cursor,
    read_json,
    string_map,
)
from flows.sandbox.tables import (
    sandbox_payment_accounts,
    sandbox_payments,
    sandbox_transfer_initiations,
)
from flows.storage.database import Database

PREFIX = "/api/payments"

# v1 (upper-case) provider names, as the SDK's closed enum has them -> v3 connector names.
PROVIDERS = {
    "STRIPE": "stripe",
    "DUMMY-PAY": "dummypay",
    "WISE": "wise",
    "MODULR": "modulr",
    "CURRENCY-CLOUD": "currencycloud",
    "BANKING-CIRCLE": "bankingcircle",
    "MANGOPAY": "mangopay",
    "MONEYCORP": "moneycorp",
    "ATLAR": "atlar",
    "ADYEN": "adyen",
    "GENERIC": "generic",
}
_V1_NAMES = {v3: v1 for v1, v3 in PROVIDERS.items()}
PAYMENT_TYPES = ("PAY-IN", "PAYOUT", "TRANSFER", "OTHER")
PAYMENT_STATUSES = (
    "PENDING", "SUCCEEDED", "CANCELLED", "FAILED", "EXPIRED", "REFUNDED", "REFUNDED_FAILURE",
    "DISPUTE", "DISPUTE_WON", "DISPUTE_LOST", "OTHER",
)  # fmt: skip
SCHEMES = (
    "unknown", "other", "visa", "mastercard", "amex", "diners", "discover", "jcb", "unionpay",
    "alipay", "cup", "sepa debit", "sepa credit", "sepa", "apple pay", "google pay", "doku",
    "dragonpay", "maestro", "molpay", "a2a", "ach debit", "ach", "rtp",
)  # fmt: skip
ACCOUNT_TYPES = ("INTERNAL", "EXTERNAL", "UNKNOWN")
TRANSFER_TYPES = ("TRANSFER", "PAYOUT")
# Payments wants an ISO 4217 currency with its precision; the sandbox checks the shape only.
_CURRENCY = re.compile(r"[A-Z]{3}/[0-9]{1,2}")
# Ids are unique database keys, which PostgreSQL caps at about 2.7 kB; they grow with the
# reference they encode.
MAX_ID_LENGTH = 2000


def encode_id(value: dict[str, Any]) -> str:
    raw = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_id(token: str) -> dict[str, Any]:
    try:
        decoded = parse_json(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)), "id")
    except (binascii.Error, ValueError, StackError) as exc:
        raise StackError(400, INVALID_ID, f"invalid id {token[:200]!r}") from exc
    if not isinstance(decoded, dict):
        raise StackError(400, INVALID_ID, f"invalid id {token[:200]!r}")
    return decoded


def _connector(provider_v3: str) -> dict[str, str]:
    reference = str(uuid.uuid5(uuid.NAMESPACE_URL, f"flows-sandbox-connector:{provider_v3}"))
    return {"Provider": provider_v3, "Reference": reference}


def connector_id(provider: str) -> str:
    """The id of the sandbox's connector for a provider (v1 or v3 spelling)."""
    v3 = PROVIDERS.get(provider.upper(), provider.lower())
    return encode_id(_connector(v3))


def _provider_of(connector: str) -> tuple[str, dict[str, Any]]:
    """(v1 provider name, decoded connector id); VALIDATION unless it decodes to a known one."""
    try:
        decoded = decode_id(connector)
    except StackError as exc:
        raise validation(f"invalid connectorID {connector!r}") from exc
    provider = _V1_NAMES.get(str(decoded.get("Provider", "")).lower())
    if provider is None or "Reference" not in decoded:
        raise validation(f"invalid connectorID {connector!r}")
    return provider, {"Provider": decoded["Provider"], "Reference": decoded["Reference"]}


def _body_object(raw: Any) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise StackError(400, MISSING_OR_INVALID_BODY, "missing or invalid body")
    return raw


def _required_string(body: dict[str, Any], name: str, allow_empty: bool = False) -> str:
    value = body.get(name)
    if value is None and allow_empty:
        return ""
    if not isinstance(value, str) or (not value and not allow_empty):
        raise validation(f"{name} is required")
    return value


def _optional_string(body: dict[str, Any], name: str) -> str:
    value = body.get(name) or ""
    if not isinstance(value, str):
        raise validation(f"{name} must be a string")
    return value


def _choice(body: dict[str, Any], name: str, allowed: tuple[str, ...], default: str | None = None) -> str:
    value = body.get(name, default)
    if value not in allowed:
        raise validation(f"{name} must be one of {', '.join(allowed)}")
    return str(value)


def _date(body: dict[str, Any], name: str) -> datetime | None:
    return parse_time(body.get(name), name)


class Payments:
    """`stack_url` is the stack's public URL, for the `links` of SAVED_PAYMENT (docs/sandbox.md, events);
    events are published once a write has committed (flows.sandbox.events)."""

    def __init__(self, database: Database, *, events: Publisher | None = None, stack_url: str = "") -> None:
        self.db = database
        self.events = events or Publisher()
        self.stack_url = stack_url

    async def _get(self, table: Table, object_id: str) -> dict[str, Any] | None:
        async with self.db.read() as conn:
            row = (await conn.execute(select(table.c.document).where(table.c.id == object_id))).first()
        return dict(row.document) if row else None

    async def _insert(self, table: Table, document: dict[str, Any]) -> bool:
        """False when an object with this id exists."""
        if len(document["id"]) > MAX_ID_LENGTH:
            raise validation("reference too long")
        try:
            async with self.db.write() as conn:
                await conn.execute(table.insert().values(id=document["id"], document=document))
        except IntegrityError:
            return False
        return True

    async def _replace(self, table: Table, document: dict[str, Any]) -> None:
        async with self.db.write() as conn:
            await conn.execute(update(table).where(table.c.id == document["id"]).values(document=document))

    async def _list(self, table: Table, before: int | None, limit: int) -> tuple[list[dict[str, Any]], bool, int | None]:
        """Newest first; (documents, has_more, seq to continue before)."""
        query = select(table.c.seq, table.c.document).order_by(table.c.seq.desc()).limit(limit + 1)
        if before is not None:
            query = query.where(table.c.seq < before)
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).all()
        page = rows[:limit]
        return [dict(r.document) for r in page], len(rows) > limit, page[-1].seq if page else None

    # -- payments ---------------------------------------------------------------------------

    async def create_payment(self, body: dict[str, Any]) -> dict[str, Any]:
        reference = _required_string(body, "reference")
        if not 3 <= len(reference) <= 1000:
            raise validation("reference must be 3 to 1000 characters long")
        provider, connector = _provider_of(_required_string(body, "connectorID"))
        created_at = _date(body, "createdAt") or now()
        if created_at > datetime.now(UTC):
            raise validation("createdAt must not be in the future")
        kind = _choice(body, "type", PAYMENT_TYPES)
        status = _choice(body, "status", PAYMENT_STATUSES)
        scheme = _choice(body, "scheme", SCHEMES, "other")
        asset = _required_string(body, "asset")
        if not _CURRENCY.fullmatch(asset):
            raise validation(f"invalid asset {asset!r}: expected an ISO 4217 currency with precision, e.g. USD/2")
        moved = amount(body.get("amount"), "amount")
        payment_id = encode_id({"ConnectorID": connector, "Reference": reference, "Type": kind})
        adjustment: dict[str, Any] = {
            "reference": reference,
            "createdAt": format_time(created_at),
            "status": status,
            "amount": moved,
            "raw": {},
        }
        document: dict[str, Any] = {
            "id": payment_id,
            "reference": reference,
            "sourceAccountID": _optional_string(body, "sourceAccountID"),
            "destinationAccountID": _optional_string(body, "destinationAccountID"),
            "type": kind,
            "provider": provider,
            "connectorID": encode_id(connector),
            "status": status,
            "amount": moved,
            "initialAmount": moved,
            "scheme": scheme,
            "asset": asset,
            "createdAt": format_time(created_at),
            "raw": None,
            "adjustments": [adjustment],
            "metadata": string_map(body.get("metadata"), "metadata"),
        }
        if await self._insert(sandbox_payments, document):
            await self.events.saved_payment(document, self.stack_url)
            return document
        # Payments upserts: creating it again updates its status and amount.
        existing = await self._get(sandbox_payments, payment_id)
        assert existing is not None
        if existing["status"] != status or existing["amount"] != moved:
            existing["adjustments"].append(adjustment)
        existing.update(status=status, amount=moved)
        existing["metadata"] = {**(existing.get("metadata") or {}), **document["metadata"]}
        await self._replace(sandbox_payments, existing)
        await self.events.saved_payment(existing, self.stack_url)
        return existing

    async def get_payment(self, payment_id: str) -> dict[str, Any]:
        decode_id(payment_id)
        found = await self._get(sandbox_payments, payment_id)
        if found is None:
            raise not_found(f"payment {payment_id} not found")
        return found

    async def update_payment_metadata(self, payment_id: str, metadata: dict[str, str]) -> None:
        found = await self.get_payment(payment_id)
        found["metadata"] = {**(found.get("metadata") or {}), **metadata}
        await self._replace(sandbox_payments, found)
        await self.events.saved_payment(found, self.stack_url)

    # -- accounts ---------------------------------------------------------------------------

    async def create_account(self, body: dict[str, Any]) -> dict[str, Any]:
        reference = _required_string(body, "reference")
        provider, connector = _provider_of(_required_string(body, "connectorID"))
        created_at = _date(body, "createdAt") or now()
        kind = _choice(body, "type", ACCOUNT_TYPES)
        default_asset = body.get("defaultAsset") or ""
        if default_asset and (not isinstance(default_asset, str) or not is_asset(default_asset)):
            raise validation(f"invalid defaultAsset {default_asset!r}")
        name = _optional_string(body, "accountName")
        account_id = encode_id({"ConnectorID": connector, "Reference": reference})
        document: dict[str, Any] = {
            "id": account_id,
            "reference": reference,
            "createdAt": format_time(created_at),
            "connectorID": encode_id(connector),
            "provider": provider,
            "defaultCurrency": default_asset,
            "defaultAsset": default_asset,
            "accountName": name,
            "type": kind,
            "metadata": string_map(body.get("metadata"), "metadata"),
            "raw": None,
        }
        if await self._insert(sandbox_payment_accounts, document):
            await self.events.saved_account(document)
            return document
        existing = await self._get(sandbox_payment_accounts, account_id)
        assert existing is not None
        return existing

    async def get_account(self, account_id: str) -> dict[str, Any]:
        decode_id(account_id)
        found = await self._get(sandbox_payment_accounts, account_id)
        if found is None:
            raise not_found(f"account {account_id} not found")
        return found

    # -- transfer initiations ---------------------------------------------------------------

    async def create_transfer_initiation(self, body: dict[str, Any]) -> dict[str, Any]:
        reference = _required_string(body, "reference")
        kind = _choice(body, "type", TRANSFER_TYPES)
        moved = amount(body.get("amount"), "amount")
        asset = _required_string(body, "asset")
        if not is_asset(asset):
            raise validation(f"invalid asset {asset!r}")
        description = _optional_string(body, "description")
        validated = body.get("validated") is True
        scheduled_at = _date(body, "scheduledAt")
        connector_field, provider_field = body.get("connectorID") or "", body.get("provider") or ""
        if connector_field:
            provider, connector = _provider_of(str(connector_field))
        elif provider_field:
            # The v1 service: the provider must name exactly one installed connector.
            v3 = PROVIDERS.get(str(provider_field).upper())
            if v3 is None:
                raise validation(f"no connector found for provider {provider_field}")
            provider, connector = str(provider_field).upper(), _connector(v3)
        else:
            raise validation("connectorID or provider is required")
        destination_id = _required_string(body, "destinationAccountID")
        destination = await self._account_for_transfer(destination_id, "destination")
        wanted = "INTERNAL" if kind == "TRANSFER" else "EXTERNAL"
        if destination["type"] != wanted:
            raise validation(f"a {kind} needs an {wanted} destination account")
        source_id = _optional_string(body, "sourceAccountID")
        if source_id:
            await self._account_for_transfer(source_id, "source")
        transfer_id = encode_id({"ConnectorID": connector, "Reference": reference})
        document: dict[str, Any] = {
            "id": transfer_id,
            "reference": reference,
            "createdAt": format_time(now()),
            "scheduledAt": format_time(scheduled_at) if scheduled_at else ZERO_TIME,
            "description": description,
            "sourceAccountID": source_id,
            "destinationAccountID": destination_id,
            "connectorID": encode_id(connector),
            "provider": provider,
            "type": kind,
            "amount": moved,
            "initialAmount": moved,
            "asset": asset,
            "status": "VALIDATED" if validated else "WAITING_FOR_VALIDATION",
            "error": "",
            "metadata": string_map(body.get("metadata"), "metadata"),
            "relatedPayments": [],
        }
        if not await self._insert(sandbox_transfer_initiations, document):
            raise StackError(400, CONFLICT, f"transfer initiation with reference {reference!r} already exists")
        await self.events.saved_transfer_initiation(document, attempts=1)
        return document

    async def _account_for_transfer(self, account_id: str, role: str) -> dict[str, Any]:
        try:
            decode_id(account_id)
        except StackError as exc:
            raise validation(f"invalid {role} account id {account_id!r}") from exc
        found = await self._get(sandbox_payment_accounts, account_id)
        if found is None:
            raise validation(f"{role} account {account_id} not found")
        return found

    async def get_transfer_initiation(self, transfer_id: str) -> dict[str, Any]:
        decode_id(transfer_id)
        found = await self._get(sandbox_transfer_initiations, transfer_id)
        if found is None:
            raise not_found(f"transfer initiation {transfer_id} not found")
        return found

    async def update_transfer_status(self, transfer_id: str, status: str) -> None:
        found = await self.get_transfer_initiation(transfer_id)
        if status not in ("VALIDATED", "REJECTED"):
            raise validation("status must be VALIDATED or REJECTED")
        if found["status"] != "WAITING_FOR_VALIDATION":
            raise validation(f"transfer initiation is {found['status']}, not waiting for validation")
        found["status"] = status
        await self._replace(sandbox_transfer_initiations, found)
        await self.events.saved_transfer_initiation(found, attempts=2)


# -- HTTP -----------------------------------------------------------------------------------


def _payments(request: Request) -> Payments:
    return request.app.state.sandbox.payments


async def _json_body(request: Request) -> dict[str, Any]:
    return _body_object(await read_json(request, malformed=MISSING_OR_INVALID_BODY))


async def _listing(request: Request, table: Table) -> Response:
    cursor = read_cursor(request)
    before: int | None = None
    if cursor:
        before, size = cursor.position("before"), cursor.page_size()
    else:
        size = page_size(request)
    documents, more, last = await _payments(request)._list(table, before, size)
    following = encode_cursor({"before": last, "pageSize": size}) if more else None
    return cursor_response(documents, size, more, following)


async def create_payment(request: Request) -> Response:
    return data_response(await _payments(request).create_payment(await _json_body(request)))


async def get_payment(request: Request) -> Response:
    return data_response(await _payments(request).get_payment(request.path_params["id"]))


async def list_payments(request: Request) -> Response:
    return await _listing(request, sandbox_payments)


async def update_payment_metadata(request: Request) -> Response:
    metadata = string_map(await _json_body(request), "metadata")
    await _payments(request).update_payment_metadata(request.path_params["id"], metadata)
    return empty_response(204)


async def create_account(request: Request) -> Response:
    return data_response(await _payments(request).create_account(await _json_body(request)))


async def get_account(request: Request) -> Response:
    return data_response(await _payments(request).get_account(request.path_params["id"]))


async def list_accounts(request: Request) -> Response:
    return await _listing(request, sandbox_payment_accounts)


async def create_transfer_initiation(request: Request) -> Response:
    return data_response(await _payments(request).create_transfer_initiation(await _json_body(request)))


async def get_transfer_initiation(request: Request) -> Response:
    return data_response(await _payments(request).get_transfer_initiation(request.path_params["id"]))


async def list_transfer_initiations(request: Request) -> Response:
    return await _listing(request, sandbox_transfer_initiations)


async def update_transfer_status(request: Request) -> Response:
    body = await _json_body(request)
    await _payments(request).update_transfer_status(request.path_params["id"], str(body.get("status")))
    return empty_response(204)


async def list_connectors(_request: Request) -> Response:
    connectors = [
        {"provider": provider, "connectorID": connector_id(provider), "name": v3, "enabled": True} for provider, v3 in PROVIDERS.items()
    ]
    return data_response(connectors)


async def info(_request: Request) -> Response:
    return json_response({"version": "sandbox"})


def routes() -> list[tuple[str, str, Any]]:
    return [
        (f"{PREFIX}/_info", "GET", info),
        (f"{PREFIX}/connectors", "GET", list_connectors),
        (f"{PREFIX}/payments", "GET", list_payments),
        (f"{PREFIX}/payments", "POST", create_payment),
        (f"{PREFIX}/payments/{{id}}", "GET", get_payment),
        (f"{PREFIX}/payments/{{id}}/metadata", "PATCH", update_payment_metadata),
        (f"{PREFIX}/accounts", "GET", list_accounts),
        (f"{PREFIX}/accounts", "POST", create_account),
        (f"{PREFIX}/accounts/{{id}}", "GET", get_account),
        (f"{PREFIX}/transfer-initiations", "GET", list_transfer_initiations),
        (f"{PREFIX}/transfer-initiations", "POST", create_transfer_initiation),
        (f"{PREFIX}/transfer-initiations/{{id}}", "GET", get_transfer_initiation),
        (f"{PREFIX}/transfer-initiations/{{id}}/status", "POST", update_transfer_status),
    ]
