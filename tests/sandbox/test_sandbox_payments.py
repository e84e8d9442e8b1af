"""Sandbox Payments v1 over real HTTP: seeding payments and accounts, transfer initiations as the
orchestration sends them, errors, and formance-sdk-python parsing every answer."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from formance_sdk_python import SDK
from formance_sdk_python.models.payments import PaymentsErrorResponse
from sandbox_support import SandboxServer

PAYMENTS = "/api/payments"


def connector(url: str, provider: str = "STRIPE") -> str:
    found = httpx.get(f"{url}{PAYMENTS}/connectors").json()["data"]
    return next(c["connectorID"] for c in found if c["provider"] == provider)


def account(url: str, kind: str = "INTERNAL", provider: str = "STRIPE") -> dict[str, Any]:
    body = {
        "reference": f"acct_{uuid.uuid4().hex[:8]}",
        "connectorID": connector(url, provider),
        "createdAt": "2025-03-01T10:00:00Z",
        "accountName": "main account",
        "type": kind,
        "defaultAsset": "USD/2",
    }
    response = httpx.post(f"{url}{PAYMENTS}/accounts", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def payment_body(url: str, **overrides: Any) -> dict[str, Any]:
    return {
        "reference": f"py_{uuid.uuid4().hex[:10]}",
        "connectorID": connector(url),
        "createdAt": "2025-03-01T10:00:00Z",
        "type": "PAY-IN",
        "amount": 1000,
        "asset": "USD/2",
        "scheme": "visa",
        "status": "SUCCEEDED",
        "metadata": {"k": "v"},
        **overrides,
    }


def orchestration_transfer(destination: str, **overrides: Any) -> dict[str, Any]:
    """The body of the orchestration's CreateTransferInitiation (docs/stages.md)."""
    return {
        "reference": f"{uuid.uuid4()}-011",
        "scheduledAt": "0001-01-01T00:00:00Z",
        "description": "stripe TRANSFER",
        "sourceAccountID": "",
        "destinationAccountID": destination,
        "provider": "STRIPE",
        "type": "TRANSFER",
        "amount": 1000,
        "asset": "USD/2",
        "validated": True,
        "metadata": {"m": "n"},
        **overrides,
    }


def test_payments_seed_get_and_list(sqlite_sandbox: SandboxServer) -> None:
    url = sqlite_sandbox.url
    destination = account(url)
    body = payment_body(url, destinationAccountID=destination["id"])
    created = httpx.post(f"{url}{PAYMENTS}/payments", json=body)
    assert created.status_code == 200, created.text
    payment = created.json()["data"]
    assert payment["reference"] == body["reference"] and payment["provider"] == "STRIPE"
    assert payment["sourceAccountID"] == "" and payment["destinationAccountID"] == destination["id"]
    assert payment["amount"] == payment["initialAmount"] == 1000 and payment["raw"] is None
    assert payment["adjustments"] == [
        {"reference": body["reference"], "createdAt": "2025-03-01T10:00:00Z", "status": "SUCCEEDED", "amount": 1000, "raw": {}}
    ]
    # Ids are base64url without padding; clients must treat them as opaque.
    assert "=" not in payment["id"]
    json.loads(base64.urlsafe_b64decode(payment["id"] + "=" * (-len(payment["id"]) % 4)))
    fetched = httpx.get(f"{url}{PAYMENTS}/payments/{payment['id']}").json()["data"]
    assert fetched == payment
    # Creating it again updates its status (Payments upserts).
    again = httpx.post(f"{url}{PAYMENTS}/payments", json={**body, "status": "REFUNDED"}).json()["data"]
    assert again["id"] == payment["id"] and again["status"] == "REFUNDED" and len(again["adjustments"]) == 2
    listed = httpx.get(f"{url}{PAYMENTS}/payments", params={"pageSize": 100}).json()["cursor"]
    assert payment["id"] in [p["id"] for p in listed["data"]]

    missing = httpx.get(f"{url}{PAYMENTS}/payments/{payment['id'][:-4]}AAAA")
    assert missing.status_code in (400, 404)
    unknown_id = base64.urlsafe_b64encode(b'{"Reference":"nope"}').decode().rstrip("=")
    assert httpx.get(f"{url}{PAYMENTS}/payments/{unknown_id}").json()["errorCode"] == "NOT_FOUND"
    bad = httpx.get(f"{url}{PAYMENTS}/payments/not*an*id")
    assert bad.status_code == 400 and bad.json()["errorCode"] == "INVALID_ID"


@pytest.mark.parametrize(
    ("overrides", "code"),
    [
        ({"reference": "ab"}, "VALIDATION"),
        ({"connectorID": "garbage"}, "VALIDATION"),
        ({"asset": "usd"}, "VALIDATION"),
        ({"createdAt": "2999-01-01T00:00:00Z"}, "VALIDATION"),
        ({"status": "CAPTURE"}, "VALIDATION"),
        ({"type": "REFUND"}, "VALIDATION"),
        ({"amount": -5}, "VALIDATION"),
    ],
)
def test_invalid_payments(sqlite_sandbox: SandboxServer, overrides: dict[str, Any], code: str) -> None:
    response = httpx.post(f"{sqlite_sandbox.url}{PAYMENTS}/payments", json=payment_body(sqlite_sandbox.url, **overrides))
    assert response.status_code == 400 and response.json()["errorCode"] == code, response.text


def test_transfer_initiations(sqlite_sandbox: SandboxServer) -> None:
    url = sqlite_sandbox.url
    internal, external = account(url, "INTERNAL"), account(url, "EXTERNAL")
    body = orchestration_transfer(internal["id"])
    created = httpx.post(f"{url}{PAYMENTS}/transfer-initiations", json=body)
    assert created.status_code == 200, created.text
    transfer = created.json()["data"]
    assert transfer["status"] == "VALIDATED" and transfer["provider"] == "STRIPE"
    assert transfer["connectorID"] == connector(url) and transfer["scheduledAt"] == "0001-01-01T00:00:00Z"
    assert transfer["amount"] == transfer["initialAmount"] == 1000 and transfer["metadata"] == {"m": "n"}
    assert httpx.get(f"{url}{PAYMENTS}/transfer-initiations/{transfer['id']}").json()["data"] == transfer
    duplicate = httpx.post(f"{url}{PAYMENTS}/transfer-initiations", json=body)
    assert duplicate.status_code == 400 and duplicate.json()["errorCode"] == "CONFLICT"

    waiting = orchestration_transfer(external["id"], type="PAYOUT", validated=False, provider="", connectorID=connector(url))
    pending = httpx.post(f"{url}{PAYMENTS}/transfer-initiations", json=waiting).json()["data"]
    assert pending["status"] == "WAITING_FOR_VALIDATION"
    assert httpx.post(f"{url}{PAYMENTS}/transfer-initiations/{pending['id']}/status", json={"status": "VALIDATED"}).status_code == 204
    assert httpx.get(f"{url}{PAYMENTS}/transfer-initiations/{pending['id']}").json()["data"]["status"] == "VALIDATED"

    def rejected(payload: dict[str, Any]) -> str:
        response = httpx.post(f"{url}{PAYMENTS}/transfer-initiations", json=payload)
        assert response.status_code == 400, response.text
        return str(response.json()["errorCode"])

    assert rejected(orchestration_transfer(external["id"])) == "VALIDATION"  # TRANSFER needs INTERNAL
    assert rejected(orchestration_transfer(internal["id"], type="PAYOUT")) == "VALIDATION"
    assert rejected(orchestration_transfer(internal["id"], provider="PAYPAL")) == "VALIDATION"
    assert rejected(orchestration_transfer(internal["id"], provider="")) == "VALIDATION"
    assert rejected(orchestration_transfer("missing-account")) == "VALIDATION"
    assert rejected(orchestration_transfer(internal["id"], type="OTHER")) == "VALIDATION"
    listed = httpx.get(f"{url}{PAYMENTS}/transfer-initiations", params={"pageSize": 1}).json()["cursor"]
    assert listed["hasMore"] and len(listed["data"]) == 1
    rest = httpx.get(f"{url}{PAYMENTS}/transfer-initiations", params={"cursor": listed["next"]}).json()["cursor"]
    assert listed["data"][0]["id"] not in [t["id"] for t in rest["data"]]


def test_sdk_parses_payments_answers(sqlite_sandbox: SandboxServer) -> None:
    sdk: SDK = sqlite_sandbox.sdk
    p = sdk.payments.v1
    connectors = p.list_all_connectors().connectors_response.data
    stripe = next(c for c in connectors if c.provider == "STRIPE").connector_id
    created_account = p.create_account(
        request={
            "connector_id": stripe,
            "created_at": "2025-03-01T10:00:00Z",
            "reference": f"acct_{uuid.uuid4().hex[:8]}",
            "type": "INTERNAL",
            "account_name": "sdk",
            "default_asset": "USD/2",
        }
    ).account_response.data
    assert p.get_account_payments(request={"account_id": created_account.id}).account_response.data.id == created_account.id
    assert created_account.id in [a.id for a in p.list_accounts_payments(request={"page_size": 100}).accounts_cursor.cursor.data]
    payment = p.create_payment(
        request={
            "amount": 2500,
            "asset": "EUR/2",
            "connector_id": stripe,
            "created_at": "2025-03-01T10:00:00Z",
            "reference": f"py_{uuid.uuid4().hex[:8]}",
            "scheme": "sepa credit",
            "status": "SUCCEEDED",
            "type": "PAY-IN",
            "destination_account_id": created_account.id,
        }
    ).payment_response.data
    fetched = p.get_payment(request={"payment_id": payment.id}).payment_response.data
    assert fetched.initial_amount == 2500 and fetched.provider == "STRIPE" and fetched.adjustments[0].amount == 2500
    assert payment.id in [x.id for x in p.list_payments(request={"page_size": 100}).payments_cursor.cursor.data]
    p.update_metadata(request={"payment_id": payment.id, "request_body": {"extra": "1"}})
    assert p.get_payment(request={"payment_id": payment.id}).payment_response.data.metadata == {"extra": "1"}
    transfer = p.create_transfer_initiation(
        request={
            "amount": 100,
            "asset": "USD/2",
            "description": "sdk TRANSFER",
            "destination_account_id": created_account.id,
            "reference": f"ti_{uuid.uuid4().hex}",
            "scheduled_at": "0001-01-01T00:00:00Z",
            "source_account_id": "",
            "type": "TRANSFER",
            "validated": False,
            "connector_id": stripe,
        }
    ).transfer_initiation_response.data
    assert transfer.status == "WAITING_FOR_VALIDATION" and transfer.provider == "STRIPE"
    assert p.get_transfer_initiation(request={"transfer_id": transfer.id}).transfer_initiation_response.data.id == transfer.id
    listed = p.list_transfer_initiations(request={"page_size": 100}).transfer_initiations_cursor.cursor.data
    assert transfer.id in [t.id for t in listed]
    p.update_transfer_initiation_status(
        request={"transfer_id": transfer.id, "update_transfer_initiation_status_request": {"status": "REJECTED"}}
    )
    with pytest.raises(PaymentsErrorResponse) as missing:
        p.get_payment(request={"payment_id": base64.urlsafe_b64encode(b'{"x":1}').decode().rstrip("=")})
    assert missing.value.data.error_code == "NOT_FOUND"
