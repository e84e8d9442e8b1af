"""The activities that call the stack, named as the reference names them in stage history.

Each activity records itself (input, output or error, attempt, times) in the database as it runs,
so a stage's history outlives Temporal's retention; the live retry state of a pending activity
comes from Temporal. Every write carries an Idempotency-Key derived from the instance and the
activity id — never the run id — so a retried or replayed activity never moves money twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from flows.stack.client import StackClient, StackError
from flows.storage.records import ActivityRecord
from flows.storage.repository import Repository

# Remote error codes that fail the stage at once; everything else is retried (docs/stages.md, retries and final errors).
NON_RETRYABLE = ["VALIDATION", "CONFLICT", "NO_SCRIPT", "COMPILATION_FAILED"]
# Heartbeats while a call is in flight let Temporal retry it soon after a worker dies, instead
# of after the whole start-to-close timeout.
HEARTBEAT_EVERY_S = 2.0

Request = dict[str, Any]
Call = Callable[[str], Awaitable[Any]]
StartWrite = Callable[[ActivityRecord, Any], Awaitable[None]]
"""Writes an attempt's start record together with the instance progress its workflow sent along
with the call, in one transaction (flows/engine/bookkeeping.py `record_call_start`)."""


def _segment(value: str) -> str:
    return quote(value, safe="")


def idempotency_key() -> str:
    info = activity.info()
    return f"{info.workflow_id}-{info.activity_id}"


async def _heartbeating(call: Awaitable[Any]) -> Any:
    pending = asyncio.ensure_future(call)
    try:
        while True:
            done, _ = await asyncio.wait({pending}, timeout=HEARTBEAT_EVERY_S)
            if done:
                return pending.result()
            activity.heartbeat()
    finally:
        pending.cancel()


def _failure(error: StackError | httpx.TransportError, typed: bool) -> ApplicationError:
    """The stack's answer, or the stack out of reach, as Temporal's failure. Both are expected
    (benign: logged in one line, no traceback); a `typed` answer's errorCode is its type, so
    VALIDATION, CONFLICT… stop the stage."""
    if isinstance(error, httpx.TransportError):
        name = type(error).__name__
        return ApplicationError(str(error) or name, type=name, category=ApplicationErrorCategory.BENIGN)
    if not typed:
        return ApplicationError(error.untyped_text(), category=ApplicationErrorCategory.BENIGN)
    return ApplicationError(
        error.message or error.code,
        type=error.code or None,
        non_retryable=error.code in NON_RETRYABLE,
        category=ApplicationErrorCategory.BENIGN,
    )


def _transaction_history(body: Any) -> Any:
    """Stage history shows a created transaction in the ledger v1 list shape, with `txid`."""
    transaction = dict(body["data"])
    transaction["txid"] = transaction.get("id")
    return {"data": [transaction]}


class StackActivities:
    def __init__(self, client: StackClient, repository: Repository, record_start: StartWrite) -> None:
        self.client = client
        self.repository = repository
        self.record_start = record_start

    async def _recorded(
        self,
        name: str,
        request: Request,
        progress: Any,
        call: Call,
        shown: Callable[[Any], Any] = lambda body: body,
        *,
        typed: bool = True,
    ) -> Any:
        """Run one attempt of a call, recorded. `typed` calls fail with the remote errorCode as
        the failure type, so VALIDATION, CONFLICT… stop the stage; the others are retried
        whatever the remote says, as the Go implementation's Wallets and Payments calls are (docs/stages.md).

        `progress` is what the instance workflow had not written yet when it made the call, or
        None: it is committed with the start record, before the call, rather than by a local
        activity of its own before the call is scheduled (a workflow activation and a
        transaction fewer per call, flows/engine/workflow.py `call`)."""
        info = activity.info()
        assert info.workflow_id is not None, "stack activities are scheduled by instance workflows"
        stage = int(info.activity_id.split("-", 1)[0])
        record = ActivityRecord(
            instance_id=info.workflow_id,
            stage=stage,
            activity_id=info.activity_id,
            name=name,
            input=request,
            started_at=info.scheduled_time.astimezone(UTC),
            attempt=info.attempt,
        )
        if progress is None:
            await self.repository.save_activity(record)
        else:
            await self.record_start(record, progress)
        try:
            body = await _heartbeating(call(idempotency_key()))
        except (StackError, httpx.TransportError) as error:
            failure = _failure(error, typed)
            if failure.non_retryable:
                await self._finish(record, error=failure.message)
            else:
                # Temporal forgets why an attempt failed once the activity is cancelled (an
                # abort): the history keeps it (flows/application/instances.py).
                await self.repository.save_activity(replace(record, last_failure=failure.message))
            raise failure from error
        await self._finish(record, output=shown(body) if body else None)
        return body

    async def _finish(self, record: ActivityRecord, **outcome: Any) -> None:
        await self.repository.save_activity(ActivityRecord(**{**record.__dict__, **outcome, "terminated_at": datetime.now(UTC)}))

    async def _read(
        self, name: str, request: Request, progress: Any, path: str, *, params: dict[str, str] | None = None, typed: bool = True
    ) -> Any:
        return await self._recorded(name, request, progress, lambda _key: self.client.request("GET", path, params=params), typed=typed)

    async def _write(
        self,
        name: str,
        request: Request,
        progress: Any,
        path: str,
        body: Any,
        *,
        typed: bool = True,
        shown: Callable[[Any], Any] = lambda body: body,
    ) -> Any:
        def call(key: str) -> Awaitable[Any]:
            return self.client.request("POST", path, json=body, idempotency_key=key)

        return await self._recorded(name, request, progress, call, shown, typed=typed)

    @activity.defn(name="GetAccount")
    async def get_account(self, request: Request, progress: Any = None) -> Any:
        path = f"/api/ledger/{_segment(request['ledger'])}/accounts/{_segment(request['id'])}"
        return await self._read("GetAccount", request, progress, path)

    @activity.defn(name="CreateTransaction")
    async def create_transaction(self, request: Request, progress: Any = None) -> Any:
        path = f"/api/ledger/v2/{_segment(request['Ledger'])}/transactions"
        return await self._write("CreateTransaction", request, progress, path, request["Data"], shown=_transaction_history)

    @activity.defn(name="AddAccountMetadata")
    async def add_account_metadata(self, request: Request, progress: Any = None) -> Any:
        account = f"{_segment(request['ledger'])}/accounts/{_segment(request['account'])}"
        path = f"/api/ledger/v2/{account}/metadata"
        return await self._write("AddAccountMetadata", request, progress, path, request["metadata"])

    @activity.defn(name="GetWallet")
    async def get_wallet(self, request: Request, progress: Any = None) -> Any:
        path = f"/api/wallets/wallets/{_segment(request['id'])}"
        return await self._read("GetWallet", request, progress, path, typed=False)

    @activity.defn(name="ListWallets")
    async def list_wallets(self, request: Request, progress: Any = None) -> Any:
        params = {"name": request["name"]}
        return await self._read("ListWallets", request, progress, "/api/wallets/wallets", params=params, typed=False)

    @activity.defn(name="CreditWallet")
    async def credit_wallet(self, request: Request, progress: Any = None) -> Any:
        path = f"/api/wallets/wallets/{_segment(request['id'])}/credit"
        return await self._write("CreditWallet", request, progress, path, request["data"], typed=False)

    @activity.defn(name="DebitWallet")
    async def debit_wallet(self, request: Request, progress: Any = None) -> Any:
        path = f"/api/wallets/wallets/{_segment(request['id'])}/debit"
        return await self._write("DebitWallet", request, progress, path, request["data"])

    @activity.defn(name="GetPayment")
    async def get_payment(self, request: Request, progress: Any = None) -> Any:
        path = f"/api/payments/payments/{_segment(request['id'])}"
        return await self._read("GetPayment", request, progress, path, typed=False)

    @activity.defn(name="CreateTransferInitiation")
    async def create_transfer_initiation(self, request: Request, progress: Any = None) -> Any:
        async def call(key: str) -> Any:
            try:
                return await self.client.request("POST", "/api/payments/transfer-initiations", json=transfer_initiation(request, key))
            except StackError as error:
                # The reference is this activity's own key: a duplicate is our earlier attempt,
                # whose answer a crash or a timeout lost. It exists; paying again is what to avoid.
                if error.code == "CONFLICT":
                    return None
                raise

        return await self._recorded("CreateTransferInitiation", request, progress, call, lambda _body: None, typed=False)

    def all(self) -> list[Callable[..., Any]]:
        return [
            self.get_account,
            self.create_transaction,
            self.add_account_metadata,
            self.get_wallet,
            self.list_wallets,
            self.credit_wallet,
            self.debit_wallet,
            self.get_payment,
            self.create_transfer_initiation,
        ]


def transfer_initiation(request: Request, reference: str) -> dict[str, Any]:
    """The Payments body (docs/stages.md, payment destination): the reference is the (instance, activity) key, so a
    retried initiation is refused by Payments as a duplicate instead of paying twice."""
    transfer_type = str(request.get("type") or "TRANSFER").upper()
    psp = str(request.get("provider") or "")
    body: dict[str, Any] = {
        "reference": reference,
        "scheduledAt": "0001-01-01T00:00:00Z",
        "description": f"{psp} {transfer_type}",
        "sourceAccountID": request.get("source") or "",
        "destinationAccountID": request["destination"],
    }
    if request.get("connectorID"):
        body["connectorID"] = request["connectorID"]
    if psp:
        body["provider"] = psp.upper()
    body.update(
        type=transfer_type,
        amount=request["amount"],
        asset=request["asset"],
        validated=not request.get("waitingValidation", False),
    )
    if request.get("metadata"):
        body["metadata"] = request["metadata"]
    return body
