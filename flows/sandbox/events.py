"""The events the sandbox stack publishes, as the real services publish them (docs/sandbox.md, events).

After each committed write the sandbox hands one Formance envelope (docs/events.md) to an `EventSink`,
with a fresh message id (what a broker's `Message-Uuid` would be):

* ledger, version `v2`: `COMMITTED_TRANSACTIONS` for every created transaction (also the
  ones Wallets writes for credits, debits and holds), `SAVED_METADATA` for account metadata
  (also Wallets' wallet and balance creation and updates), `REVERTED_TRANSACTION` for a revert;
* payments, version `v1` (the v1 service whose API the sandbox serves): `SAVED_PAYMENT`
  (payment created, re-created or its metadata updated; `links` to its accounts),
  `SAVED_ACCOUNT` (account created), `SAVED_TRANSFER_INITIATION` (created or status updated).

Nothing is published for a dry run, a failed (rolled back) write, or an idempotent replay. The
last differs from ledger v2.4.12, which publishes again on every replay (docs/differences.md#22): in the sandbox a
replayed write, e.g. a retried workflow stage, does not fire triggers a second time.

A sink failure is logged, never returned to the stack's client: the write has committed.

Delivery in the embedded setup (`flows serve` without `--stack-url`) is in process and
at-most-once: an event published just before a crash is lost with the process, and the write it
describes stays committed. A real stack publishing to NATS is the durable path.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from flows.gocompat.timestamps import now
from flows.sandbox.rendering import format_time

logger = logging.getLogger("flows.sandbox.events")

EventSink = Callable[[dict[str, Any], str], Awaitable[None]]
"""Receives (envelope, message id) for every event the sandbox publishes."""

LEDGER_APP, LEDGER_VERSION = "ledger", "v2"
PAYMENTS_APP, PAYMENTS_VERSION = "payments", "v1"

COMMITTED_TRANSACTIONS = "COMMITTED_TRANSACTIONS"
SAVED_METADATA = "SAVED_METADATA"
REVERTED_TRANSACTION = "REVERTED_TRANSACTION"
SAVED_PAYMENT = "SAVED_PAYMENT"
SAVED_ACCOUNT = "SAVED_ACCOUNT"
SAVED_TRANSFER_INITIATION = "SAVED_TRANSFER_INITIATION"


def envelope(app: str, version: str, event_type: str, payload: Any) -> dict[str, Any]:
    """The Formance envelope (docs/events.md); the ledger and payments v1 leave `idempotency_key` empty."""
    return {
        "idempotency_key": "",
        "date": format_time(now()),
        "app": app,
        "version": version,
        "type": event_type,
        "payload": payload,
    }


class Publisher:
    """Publishes envelopes to an optional sink; a failing sink is logged and ignored."""

    def __init__(self, sink: EventSink | None = None) -> None:
        self.sink = sink

    async def publish(self, app: str, version: str, event_type: str, payload: Any) -> None:
        if self.sink is None:
            return
        message = envelope(app, version, event_type, payload)
        try:
            await self.sink(message, str(uuid.uuid4()))
        except Exception:
            logger.exception("sandbox: publishing %s failed", event_type)

    # -- ledger ----------------------------------------------------------------------------

    async def committed_transaction(
        self, ledger: str, transaction: dict[str, Any], account_metadata: Mapping[str, Mapping[str, str]]
    ) -> None:
        payload = {
            "ledger": ledger,
            "transactions": [transaction],
            "accountMetadata": {address: dict(values) for address, values in account_metadata.items()},
        }
        await self.publish(LEDGER_APP, LEDGER_VERSION, COMMITTED_TRANSACTIONS, payload)

    async def saved_metadata(self, ledger: str, target_type: str, target_id: str, metadata: Mapping[str, str]) -> None:
        payload = {"ledger": ledger, "targetType": target_type, "targetId": target_id, "metadata": dict(metadata)}
        await self.publish(LEDGER_APP, LEDGER_VERSION, SAVED_METADATA, payload)

    async def reverted_transaction(self, ledger: str, reverted: dict[str, Any], revert: dict[str, Any]) -> None:
        payload = {"ledger": ledger, "revertedTransaction": reverted, "revertTransaction": revert}
        await self.publish(LEDGER_APP, LEDGER_VERSION, REVERTED_TRANSACTION, payload)

    # -- payments v1 -----------------------------------------------------------------------

    async def saved_payment(self, payment: Mapping[str, Any], stack_url: str) -> None:
        await self.publish(PAYMENTS_APP, PAYMENTS_VERSION, SAVED_PAYMENT, payment_payload(payment, stack_url))

    async def saved_account(self, account: Mapping[str, Any]) -> None:
        await self.publish(PAYMENTS_APP, PAYMENTS_VERSION, SAVED_ACCOUNT, account_payload(account))

    async def saved_transfer_initiation(self, transfer: Mapping[str, Any], attempts: int) -> None:
        payload = transfer_initiation_payload(transfer, attempts)
        await self.publish(PAYMENTS_APP, PAYMENTS_VERSION, SAVED_TRANSFER_INITIATION, payload)


def payment_payload(payment: Mapping[str, Any], stack_url: str) -> dict[str, Any]:
    """SAVED_PAYMENT v1: `…Id` keys, the account ids only when set, `links` null when empty."""
    payload: dict[str, Any] = {
        "id": payment["id"],
        "reference": payment["reference"],
        "createdAt": payment["createdAt"],
        "connectorId": payment["connectorID"],
        "provider": payment["provider"],
        "type": payment["type"],
        "status": payment["status"],
        "scheme": payment["scheme"],
        "asset": payment["asset"],
    }
    links: list[dict[str, str]] = []
    for key, field, name in (
        ("sourceAccountId", "sourceAccountID", "source_account"),
        ("destinationAccountId", "destinationAccountID", "destination_account"),
    ):
        account_id = payment.get(field) or ""
        if account_id:
            payload[key] = account_id
            links.append({"name": name, "uri": f"{stack_url.rstrip('/')}/api/payments/accounts/{account_id}"})
    payload["links"] = links or None
    payload["rawData"] = payment.get("raw")
    payload["initialAmount"] = payment["initialAmount"]
    payload["amount"] = payment["amount"]
    payload["metadata"] = dict(payment.get("metadata") or {})
    return payload


def account_payload(account: Mapping[str, Any]) -> dict[str, Any]:
    """SAVED_ACCOUNT v1."""
    return {
        "id": account["id"],
        "createdAt": account["createdAt"],
        "reference": account["reference"],
        "connectorId": account["connectorID"],
        "provider": account["provider"],
        "defaultAsset": account.get("defaultAsset") or "",
        "accountName": account.get("accountName") or "",
        "type": account["type"],
    }


def transfer_initiation_payload(transfer: Mapping[str, Any], attempts: int) -> dict[str, Any]:
    """SAVED_TRANSFER_INITIATION v1 (the sandbox pays out nothing: no related payments)."""
    return {
        "id": transfer["id"],
        "createdAt": transfer["createdAt"],
        "scheduledAt": transfer["scheduledAt"],
        "connectorId": transfer["connectorID"],
        "provider": transfer["provider"],
        "description": transfer["description"],
        "type": transfer["type"],
        "sourceAccountId": transfer["sourceAccountID"],
        "destinationAccountId": transfer["destinationAccountID"],
        "amount": transfer["amount"],
        "asset": transfer["asset"],
        "attempts": attempts,
        "status": transfer["status"],
        "error": transfer["error"],
        "relatedPayments": [],
    }


def in_background(deliver: Callable[[dict[str, Any], str], Awaitable[Any]]) -> EventSink:
    """A sink that runs `deliver` in a task of its own, so a stack request never waits for it.

    The tasks are referenced until done (the event loop keeps only weak references); a failure
    is logged. In-process delivery is at-most-once across a crash (see the module docstring).
    """
    pending: set[asyncio.Task[Any]] = set()

    def finished(task: asyncio.Task[Any]) -> None:
        pending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("sandbox event not handled", exc_info=task.exception())

    async def sink(message: dict[str, Any], message_id: str) -> None:
        task = asyncio.create_task(_run(deliver, message, message_id))
        pending.add(task)
        task.add_done_callback(finished)

    return sink


async def _run(deliver: Callable[[dict[str, Any], str], Awaitable[Any]], message: dict[str, Any], message_id: str) -> None:
    await deliver(message, message_id)
