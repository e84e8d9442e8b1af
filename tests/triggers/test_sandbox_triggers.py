"""End to end in the embedded setup: writes to the sandbox stack of a real `flows serve` publish
their events into the trigger pipeline, with no broker (issue 4, "Events in")."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from tests.api.helpers import create_workflow, history
from tests.conftest import Api
from tests.support.polling import eventually
from tests.support.stack import new_ledger
from tests.triggers.test_trigger_firing import (
    WAIT_DEST,
    create_trigger,
    instance_ids,
    occurrences,
)


def post_transaction(api: Api, ledger: str, destination: str, amount: int) -> dict[str, Any]:
    posting = {"source": "world", "destination": destination, "amount": amount, "asset": "USD/2"}
    response = httpx.post(
        f"{api.url}/api/ledger/v2/{ledger}/transactions", json={"postings": [posting]}, timeout=30
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def test_a_sandbox_transaction_fires_a_trigger(sqlite_api: Api) -> None:
    api = sqlite_api
    ledger = new_ledger(api.url, "trig")
    workflow_id = create_workflow(api, WAIT_DEST)
    trigger_id = create_trigger(
        api,
        workflow_id,
        "COMMITTED_TRANSACTIONS",
        filter=f'event.ledger == "{ledger}" && event.transactions[0].postings[0].amount > 50',
        vars={"dest": "event.transactions[0].postings[0].destination"},
    )
    destination = "users:" + uuid.uuid4().hex[:8]
    transaction = post_transaction(api, ledger, destination, 100)

    [occurrence] = eventually(lambda: occurrences(api, trigger_id))
    assert occurrence.error is None
    assert occurrence.event["app"] == "ledger" and occurrence.event["version"] == "v2"
    assert occurrence.event["type"] == "COMMITTED_TRANSACTIONS"
    assert occurrence.event["payload"]["ledger"] == ledger
    assert occurrence.event["payload"]["transactions"] == [transaction]
    instance_id = occurrence.workflow_instance_id
    assert instance_ids(api, workflow_id) == [instance_id]
    [wait] = eventually(lambda: history(api, instance_id))
    assert wait["name"] == "RunWaitEvent"
    assert wait["input"] == {"event": destination}

    # Not matching: a small amount on this ledger, a large one on another ledger.
    post_transaction(api, ledger, "users:small", 10)
    post_transaction(api, new_ledger(api.url, "trig"), "users:elsewhere", 1000)
    # A later matching transaction shows the non-matching ones were handled before it.
    post_transaction(api, ledger, "users:last", 60)
    eventually(lambda: len(occurrences(api, trigger_id)) == 2)
    time.sleep(0.5)
    found = occurrences(api, trigger_id)
    assert len(found) == 2
    destinations = sorted(o.event["payload"]["transactions"][0]["postings"][0]["destination"] for o in found)
    assert destinations == sorted([destination, "users:last"])
    assert len(instance_ids(api, workflow_id)) == 2


def test_a_non_matching_sandbox_transaction_records_nothing(sqlite_api: Api) -> None:
    api = sqlite_api
    ledger = new_ledger(api.url, "trig")
    workflow_id = create_workflow(api, WAIT_DEST)
    trigger_id = create_trigger(
        api,
        workflow_id,
        "COMMITTED_TRANSACTIONS",
        filter=f'event.ledger == "{ledger}" && event.transactions[0].postings[0].amount > 50',
        vars={"dest": "event.transactions[0].postings[0].destination"},
    )
    # A witness trigger on the same ledger tells when the event has gone through the pipeline.
    witness_workflow = create_workflow(api, WAIT_DEST)
    witness = create_trigger(
        api,
        witness_workflow,
        "COMMITTED_TRANSACTIONS",
        filter=f'event.ledger == "{ledger}"',
        vars={"dest": "event.transactions[0].postings[0].destination"},
    )
    post_transaction(api, ledger, "users:1", 10)
    eventually(lambda: occurrences(api, witness))
    time.sleep(0.3)
    assert occurrences(api, trigger_id) == []
    assert instance_ids(api, workflow_id) == []


def test_a_sandbox_payment_fires_a_saved_payment_trigger(sqlite_api: Api) -> None:
    api = sqlite_api
    connectors = httpx.get(f"{api.url}/api/payments/connectors", timeout=30).json()["data"]
    connector = next(c["connectorID"] for c in connectors if c["provider"] == "STRIPE")
    reference = "py_" + uuid.uuid4().hex[:12]
    workflow_id = create_workflow(api, WAIT_DEST)
    trigger_id = create_trigger(
        api,
        workflow_id,
        "SAVED_PAYMENT",
        filter=f'event.reference == "{reference}" && event.amount > 50',
        vars={"dest": "event.provider + ':' + event.status"},
    )
    body = {
        "reference": reference,
        "connectorID": connector,
        "createdAt": "2025-03-01T10:00:00Z",
        "type": "PAY-IN",
        "amount": 1000,
        "asset": "USD/2",
        "scheme": "visa",
        "status": "SUCCEEDED",
    }
    response = httpx.post(f"{api.url}/api/payments/payments", json=body, timeout=30)
    assert response.status_code == 200, response.text
    payment_id = response.json()["data"]["id"]

    [occurrence] = eventually(lambda: occurrences(api, trigger_id))
    assert occurrence.error is None
    assert occurrence.event["app"] == "payments" and occurrence.event["version"] == "v1"
    assert occurrence.event["payload"]["id"] == payment_id
    [wait] = eventually(lambda: history(api, occurrence.workflow_instance_id))
    assert wait["input"] == {"event": "STRIPE:SUCCEEDED"}

    # Saved again (an update): SAVED_PAYMENT fires a trigger at most once per payment.
    response = httpx.post(f"{api.url}/api/payments/payments", json={**body, "status": "REFUNDED"}, timeout=30)
    assert response.status_code == 200, response.text
    time.sleep(1)
    assert len(occurrences(api, trigger_id)) == 1
