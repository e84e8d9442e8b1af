"""Money moves end to end: `flows serve` runs send and update stages against its own sandbox
stack over real HTTP, through the same client code as against a real stack."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.conftest import Api
from tests.support.polling import eventually
from tests.support.stack import new_ledger


def fund(url: str, ledger: str, account: str, amount: int, asset: str = "USD/2") -> None:
    posting = {"source": "world", "destination": account, "amount": amount, "asset": asset}
    response = httpx.post(f"{url}/api/ledger/v2/{ledger}/transactions", json={"postings": [posting]})
    assert response.status_code == 200, response.text


def balance(url: str, ledger: str, account: str, asset: str = "USD/2") -> int:
    response = httpx.get(f"{url}/api/ledger/{ledger}/accounts/{account}")
    assert response.status_code == 200, response.text
    return int(response.json()["data"]["balances"].get(asset, 0))


def run(url: str, stages: list[dict], variables: dict[str, str] | None = None) -> str:
    workflow = httpx.post(f"{url}/workflows", json={"stages": stages}).json()["data"]["id"]
    response = httpx.post(f"{url}/workflows/{workflow}/instances", json=variables or {})
    assert response.status_code == 201, response.text
    return response.json()["data"]["id"]


def instance(url: str, instance_id: str) -> dict:
    return httpx.get(f"{url}/instances/{instance_id}").json()["data"]


def ended(url: str, instance_id: str) -> dict:
    return eventually(lambda: (found := instance(url, instance_id))["terminated"] and found)


def stage_history(url: str, instance_id: str, stage: int) -> list[dict]:
    response = httpx.get(f"{url}/instances/{instance_id}/stages/{stage}/history")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def send(source: dict, destination: dict, amount: int, asset: str = "USD/2", **extra: Any) -> dict:
    return {
        "send": {
            "source": source,
            "destination": destination,
            "amount": {"amount": amount, "asset": asset},
            **extra,
        }
    }


def test_account_to_account_moves_money_once_and_records_the_activity(api: Api) -> None:
    url = api.url
    ledger = new_ledger(url)
    fund(url, ledger, "users:alice", 1000)
    instance_id = run(
        url,
        [send({"account": {"id": "users:${from}", "ledger": ledger}}, {"account": {"id": "users:bob", "ledger": ledger}}, 300, metadata={"reason": "rent"})],
        {"from": "alice"},
    )
    assert "error" not in ended(url, instance_id)
    assert balance(url, ledger, "users:alice") == 700
    assert balance(url, ledger, "users:bob") == 300
    [created] = stage_history(url, instance_id, 0)
    assert created["name"] == "CreateTransaction"
    assert created["terminated"] is True and created["attempt"] == 1
    assert created["input"] == {
        "CreateTransaction": {
            "Ledger": ledger,
            "Data": {
                "metadata": {"reason": "rent"},
                "postings": [
                    {"source": "users:alice", "destination": "users:bob", "amount": 300, "asset": "USD/2"}
                ],
            },
        }
    }
    [transaction] = created["output"]["CreateTransaction"]["data"]
    assert transaction["txid"] == transaction["id"]


def test_update_adds_account_metadata(api: Api) -> None:
    url = api.url
    ledger = new_ledger(url)
    stage = {"update": {"account": {"id": "merchants:1", "ledger": ledger, "metadata": {"tier": "${tier}"}}}}
    instance_id = run(url, [stage], {"tier": "gold"})
    assert "error" not in ended(url, instance_id)
    account = httpx.get(f"{url}/api/ledger/v2/{ledger}/accounts/merchants:1").json()["data"]
    assert account["metadata"] == {"tier": "gold"}
    [added] = stage_history(url, instance_id, 0)
    assert added["name"] == "AddAccountMetadata" and "output" not in added


def test_a_validation_error_fails_the_stage_with_the_ledgers_message(api: Api) -> None:
    url = api.url
    ledger = new_ledger(url)
    instance_id = run(url, [send({"account": {"id": "world", "ledger": ledger}}, {"account": {"id": "a", "ledger": ledger}}, 5, asset="usd")])
    failed = ended(url, instance_id)
    assert failed["error"] and "asset" in failed["error"]
    [attempt] = stage_history(url, instance_id, 0)
    assert attempt["error"] == failed["error"] and attempt["terminated"] is True


def test_insufficient_funds_retry_until_funded(api: Api) -> None:
    url = api.url
    ledger = new_ledger(url)
    instance_id = run(url, [send({"account": {"id": "users:poor", "ledger": ledger}}, {"account": {"id": "users:rich", "ledger": ledger}}, 50)])

    def retrying() -> dict | None:
        entries = stage_history(url, instance_id, 0) if instance(url, instance_id).get("status") else []
        return entries[0] if entries and entries[0].get("lastFailure") and entries[0]["attempt"] >= 2 else None

    pending = eventually(retrying)
    assert pending["terminated"] is False and "nextExecution" in pending
    assert "insufficient" in pending["lastFailure"].lower()
    assert not instance(url, instance_id)["terminated"]

    fund(url, ledger, "users:poor", 50)
    # The next attempt comes after the backoff (1 s, 2 s, 4 s…): allow a few of them.
    done = eventually(lambda: (found := instance(url, instance_id))["terminated"] and found, timeout=30)
    assert "error" not in done
    assert balance(url, ledger, "users:rich") == 50


def test_abort_stops_an_instance_stuck_retrying(api: Api) -> None:
    url = api.url
    ledger = new_ledger(url)
    instance_id = run(url, [send({"account": {"id": "users:empty", "ledger": ledger}}, {"account": {"id": "users:x", "ledger": ledger}}, 10)])
    eventually(lambda: instance(url, instance_id).get("status") and stage_history(url, instance_id, 0)[0].get("lastFailure"))
    assert httpx.put(f"{url}/instances/{instance_id}/abort", timeout=10).status_code == 204
    stopped = instance(url, instance_id)
    assert stopped["terminated"] is True and stopped["error"] == "canceled"
    # The interrupted call ended with the instance, and still says why it was retrying.
    [call] = stage_history(url, instance_id, 0)
    assert call["terminated"] is True and call["error"] == "canceled" and "terminatedAt" in call
    assert "insufficient" in call["lastFailure"].lower()
    fund(url, ledger, "users:empty", 10)
    time.sleep(1.5)
    assert balance(url, ledger, "users:x") == 0
