"""The events the sandbox publishes after each committed write (docs/sandbox.md), as its sink sees
them: exact envelopes and payload shapes; nothing for a failed write, a dry run or a replay."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sandbox_support import Recorder, SandboxServer, transact
from test_sandbox_payments import (
    PAYMENTS,
    account,
    orchestration_transfer,
    payment_body,
)

from flows.storage.database import sqlalchemy_url
from tests.support.stack import new_ledger

DATE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z")
STACK_URL = "https://stack.example"
ENVELOPE_KEYS = ["idempotency_key", "date", "app", "version", "type", "payload"]


@pytest.fixture(scope="module")
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, recorder: Recorder) -> Iterator[SandboxServer]:
    path = tmp_path_factory.mktemp("sandbox-events") / "flows.sqlite"
    running = SandboxServer(sqlalchemy_url(None, path), events=recorder, stack_url=STACK_URL).start()
    yield running
    running.stop()


def check_envelope(envelope: dict[str, Any], app: str, version: str, event_type: str) -> dict[str, Any]:
    assert list(envelope) == ENVELOPE_KEYS
    assert envelope["idempotency_key"] == ""
    assert DATE.fullmatch(envelope["date"]), envelope["date"]
    assert (envelope["app"], envelope["version"], envelope["type"]) == (app, version, event_type)
    return envelope["payload"]  # type: ignore[no-any-return]


def test_committed_transactions(server: SandboxServer, recorder: Recorder) -> None:
    ledger = new_ledger(server.url)
    mark = recorder.mark()
    created = transact(
        server.url,
        ledger,
        [("world", "users:1", 100, "USD/2")],
        metadata={"k": "v"},
        reference="ref-" + uuid.uuid4().hex[:6],
        accountMetadata={"users:1": {"tier": "gold"}},
    )["data"]
    [event] = recorder.since(mark)
    payload = check_envelope(event, "ledger", "v2", "COMMITTED_TRANSACTIONS")
    assert list(payload) == ["ledger", "transactions", "accountMetadata"]
    assert payload["ledger"] == ledger
    assert payload["accountMetadata"] == {"users:1": {"tier": "gold"}}
    [transaction] = payload["transactions"]
    assert transaction == created
    assert list(transaction) == [
        "postings", "metadata", "timestamp", "reference", "id", "insertedAt", "updatedAt",
        "postCommitVolumes", "reverted", "preCommitVolumes",
    ]  # fmt: skip
    assert transaction["id"] == 1 and transaction["reverted"] is False
    assert transaction["postings"] == [{"source": "world", "destination": "users:1", "amount": 100, "asset": "USD/2"}]
    assert transaction["postCommitVolumes"]["users:1"]["USD/2"] == {"input": 100, "output": 0, "balance": 100}

    # Without account metadata, `accountMetadata` is {}; message ids are fresh.
    transact(server.url, ledger, [("world", "users:2", 5, "USD/2")])
    [second] = recorder.since(mark + 1)
    assert second["payload"]["accountMetadata"] == {}
    ids = [message_id for _, message_id in recorder.received[mark:]]
    assert len(set(ids)) == 2 and all(uuid.UUID(i) for i in ids)


def test_script_account_metadata_is_in_the_event(server: SandboxServer, recorder: Recorder) -> None:
    ledger = new_ledger(server.url)
    mark = recorder.mark()
    script = 'send [USD/2 10] (\n  source = @world\n  destination = @users:9\n)\nset_account_meta(@users:9, "k", "v")\n'
    transact(server.url, ledger, script=script)
    [event] = recorder.since(mark)
    assert event["payload"]["accountMetadata"] == {"users:9": {"k": "v"}}


def test_saved_metadata(server: SandboxServer, recorder: Recorder) -> None:
    ledger = new_ledger(server.url)
    mark = recorder.mark()
    response = httpx.post(f"{server.url}/api/ledger/v2/{ledger}/accounts/users:1/metadata", json={"tier": "gold"})
    assert response.status_code == 204, response.text
    [event] = recorder.since(mark)
    payload = check_envelope(event, "ledger", "v2", "SAVED_METADATA")
    assert payload == {"ledger": ledger, "targetType": "ACCOUNT", "targetId": "users:1", "metadata": {"tier": "gold"}}
    assert list(payload) == ["ledger", "targetType", "targetId", "metadata"]


def test_reverted_transaction(server: SandboxServer, recorder: Recorder) -> None:
    ledger = new_ledger(server.url)
    transact(server.url, ledger, [("world", "users:1", 100, "USD/2")])
    mark = recorder.mark()
    response = httpx.post(f"{server.url}/api/ledger/v2/{ledger}/transactions/1/revert")
    assert response.status_code == 201, response.text
    [event] = recorder.since(mark)
    payload = check_envelope(event, "ledger", "v2", "REVERTED_TRANSACTION")
    assert list(payload) == ["ledger", "revertedTransaction", "revertTransaction"]
    assert payload["ledger"] == ledger
    original = httpx.get(f"{server.url}/api/ledger/v2/{ledger}/transactions/1").json()["data"]
    assert payload["revertedTransaction"]["id"] == 1 and payload["revertedTransaction"]["reverted"] is True
    assert "revertedAt" in payload["revertedTransaction"]
    assert payload["revertedTransaction"]["postings"] == original["postings"]
    assert payload["revertTransaction"] == response.json()["data"]
    assert payload["revertTransaction"]["postings"] == [
        {"source": "users:1", "destination": "world", "amount": 100, "asset": "USD/2"}
    ]


def test_wallet_credit_and_debit_are_ledger_transactions(server: SandboxServer, recorder: Recorder) -> None:
    mark = recorder.mark()
    response = httpx.post(f"{server.url}/api/wallets/wallets", json={"name": "w", "metadata": {}})
    assert response.status_code == 201, response.text
    wallet = response.json()["data"]["id"]
    # Creating a wallet writes its account's metadata.
    [created] = recorder.since(mark)
    assert created["type"] == "SAVED_METADATA" and created["payload"]["ledger"] == "wallets-002"
    mark = recorder.mark()
    credit = {"amount": {"asset": "USD/2", "amount": 100}}
    assert httpx.post(f"{server.url}/api/wallets/wallets/{wallet}/credit", json=credit).status_code == 204
    debit = {"amount": {"asset": "USD/2", "amount": 30}}
    assert httpx.post(f"{server.url}/api/wallets/wallets/{wallet}/debit", json=debit).status_code == 204
    events = recorder.since(mark)
    assert [e["type"] for e in events] == ["COMMITTED_TRANSACTIONS", "COMMITTED_TRANSACTIONS"]
    assert all(e["payload"]["ledger"] == "wallets-002" for e in events)
    address = "wallets:" + wallet.replace("-", "") + ":main"
    assert events[0]["payload"]["transactions"][0]["postings"][0]["destination"] == address
    assert events[1]["payload"]["transactions"][0]["postings"][0]["source"] == address


def test_no_event_for_failed_dry_run_or_replayed_writes(server: SandboxServer, recorder: Recorder) -> None:
    ledger = new_ledger(server.url)
    mark = recorder.mark()
    # Insufficient funds: rolled back.
    transact(server.url, ledger, [("users:1", "users:2", 100, "USD/2")], expect=400)
    # Duplicate reference: the second write fails after the first committed.
    transact(server.url, ledger, [("world", "users:1", 1, "USD/2")], reference="dup")
    transact(server.url, ledger, [("world", "users:1", 1, "USD/2")], reference="dup", expect=409)
    # Unknown ledger, dry run.
    transact(server.url, "missing" + uuid.uuid4().hex[:6], [("world", "a", 1, "USD/2")], expect=404)
    response = httpx.post(
        f"{server.url}/api/ledger/v2/{ledger}/transactions?dryRun=true",
        json={"postings": [{"source": "world", "destination": "a", "amount": 1, "asset": "USD/2"}]},
    )
    assert response.status_code == 200, response.text
    # Reverting twice: the second fails.
    assert httpx.post(f"{server.url}/api/ledger/v2/{ledger}/transactions/1/revert").status_code == 201
    assert httpx.post(f"{server.url}/api/ledger/v2/{ledger}/transactions/1/revert").status_code == 400
    assert [e["type"] for e in recorder.since(mark)] == ["COMMITTED_TRANSACTIONS", "REVERTED_TRANSACTION"]

    # An idempotent replay answers the stored result and publishes nothing new.
    mark = recorder.mark()
    first = transact(server.url, ledger, [("world", "users:1", 7, "USD/2")], key="k1")
    again = transact(server.url, ledger, [("world", "users:1", 7, "USD/2")], key="k1")
    assert first == again
    url = f"{server.url}/api/ledger/v2/{ledger}/accounts/users:1/metadata"
    for _ in range(2):
        assert httpx.post(url, json={"a": "b"}, headers={"Idempotency-Key": "k2"}).status_code == 204
    assert [e["type"] for e in recorder.since(mark)] == ["COMMITTED_TRANSACTIONS", "SAVED_METADATA"]


def test_a_failing_sink_does_not_fail_the_write(server: SandboxServer, recorder: Recorder) -> None:
    ledger = new_ledger(server.url)
    recorder.failing = True
    try:
        transact(server.url, ledger, [("world", "users:1", 100, "USD/2")])
    finally:
        recorder.failing = False
    found = httpx.get(f"{server.url}/api/ledger/v2/{ledger}/transactions/1")
    assert found.status_code == 200


def test_saved_account(server: SandboxServer, recorder: Recorder) -> None:
    mark = recorder.mark()
    created = account(server.url)
    [event] = recorder.since(mark)
    payload = check_envelope(event, "payments", "v1", "SAVED_ACCOUNT")
    assert payload == {
        "id": created["id"],
        "createdAt": "2025-03-01T10:00:00Z",
        "reference": created["reference"],
        "connectorId": created["connectorID"],
        "provider": "STRIPE",
        "defaultAsset": "USD/2",
        "accountName": "main account",
        "type": "INTERNAL",
    }
    assert list(payload) == list(payload.keys())  # key order as built
    # Creating it again saves nothing.
    body = {k: created[k] for k in ("reference", "connectorID", "type")}
    assert httpx.post(f"{server.url}{PAYMENTS}/accounts", json=body).status_code == 200
    assert recorder.since(mark + 1) == []


def test_saved_payment(server: SandboxServer, recorder: Recorder) -> None:
    source, destination = account(server.url), account(server.url)
    mark = recorder.mark()
    body = payment_body(server.url, sourceAccountID=source["id"], destinationAccountID=destination["id"])
    response = httpx.post(f"{server.url}{PAYMENTS}/payments", json=body)
    assert response.status_code == 200, response.text
    created = response.json()["data"]
    [event] = recorder.since(mark)
    payload = check_envelope(event, "payments", "v1", "SAVED_PAYMENT")
    assert list(payload) == [
        "id", "reference", "createdAt", "connectorId", "provider", "type", "status", "scheme", "asset",
        "sourceAccountId", "destinationAccountId", "links", "rawData", "initialAmount", "amount", "metadata",
    ]  # fmt: skip
    assert payload == {
        "id": created["id"],
        "reference": body["reference"],
        "createdAt": "2025-03-01T10:00:00Z",
        "connectorId": body["connectorID"],
        "provider": "STRIPE",
        "type": "PAY-IN",
        "status": "SUCCEEDED",
        "scheme": "visa",
        "asset": "USD/2",
        "sourceAccountId": source["id"],
        "destinationAccountId": destination["id"],
        "links": [
            {"name": "source_account", "uri": f"{STACK_URL}/api/payments/accounts/{source['id']}"},
            {"name": "destination_account", "uri": f"{STACK_URL}/api/payments/accounts/{destination['id']}"},
        ],
        "rawData": None,
        "initialAmount": 1000,
        "amount": 1000,
        "metadata": {"k": "v"},
    }

    # Updated: saved again, with the new status; metadata updates too.
    mark = recorder.mark()
    response = httpx.post(f"{server.url}{PAYMENTS}/payments", json={**body, "status": "REFUNDED", "amount": 0})
    assert response.status_code == 200, response.text
    patch = httpx.patch(f"{server.url}{PAYMENTS}/payments/{created['id']}/metadata", json={"x": "y"})
    assert patch.status_code == 204, patch.text
    updated, patched = recorder.since(mark)
    assert updated["type"] == "SAVED_PAYMENT" and updated["payload"]["id"] == created["id"]
    assert (updated["payload"]["status"], updated["payload"]["amount"], updated["payload"]["initialAmount"]) == (
        "REFUNDED", 0, 1000
    )
    assert patched["payload"]["metadata"] == {"k": "v", "x": "y"}


def test_saved_payment_without_accounts_has_null_links(server: SandboxServer, recorder: Recorder) -> None:
    mark = recorder.mark()
    assert httpx.post(f"{server.url}{PAYMENTS}/payments", json=payment_body(server.url)).status_code == 200
    [event] = recorder.since(mark)
    payload = event["payload"]
    assert payload["links"] is None
    assert "sourceAccountId" not in payload and "destinationAccountId" not in payload
    # A rejected payment publishes nothing.
    bad = httpx.post(f"{server.url}{PAYMENTS}/payments", json=payment_body(server.url, amount=-1))
    assert bad.status_code == 400
    assert recorder.since(mark + 1) == []


def test_saved_transfer_initiation(server: SandboxServer, recorder: Recorder) -> None:
    destination = account(server.url)
    mark = recorder.mark()
    body = orchestration_transfer(destination["id"], validated=False)
    response = httpx.post(f"{server.url}{PAYMENTS}/transfer-initiations", json=body)
    assert response.status_code == 200, response.text
    created = response.json()["data"]
    [event] = recorder.since(mark)
    payload = check_envelope(event, "payments", "v1", "SAVED_TRANSFER_INITIATION")
    assert payload == {
        "id": created["id"],
        "createdAt": created["createdAt"],
        "scheduledAt": "0001-01-01T00:00:00Z",
        "connectorId": created["connectorID"],
        "provider": "STRIPE",
        "description": "stripe TRANSFER",
        "type": "TRANSFER",
        "sourceAccountId": "",
        "destinationAccountId": destination["id"],
        "amount": 1000,
        "asset": "USD/2",
        "attempts": 1,
        "status": "WAITING_FOR_VALIDATION",
        "error": "",
        "relatedPayments": [],
    }
    mark = recorder.mark()
    status = httpx.post(f"{server.url}{PAYMENTS}/transfer-initiations/{created['id']}/status", json={"status": "VALIDATED"})
    assert status.status_code == 204, status.text
    [updated] = recorder.since(mark)
    assert updated["type"] == "SAVED_TRANSFER_INITIATION" and updated["payload"]["status"] == "VALIDATED"
