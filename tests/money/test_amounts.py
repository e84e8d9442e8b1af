"""Amounts are integers, moved exactly or refused, never rounded (flows/stages/amounts.py).

On each database backend, a real `flows serve` moves an amount beyond 2^53 through every layer
it crosses — the stored config, Temporal payloads, the stack client's JSON, the sandbox's storage,
stage and activity history — and the ledger shows it exactly through the official SDK. A
fractional amount is refused when the workflow is created, and a variable that is not an integer
fails the stage before any money moves.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from money_support import ASSET, Flows, Stack

from tests.conftest import Api

BIG = 2**60 + 1
"""Beyond 2^53: anything on the way that goes through a float makes it 2^60."""


@pytest.fixture
def flows(api: Api) -> Flows:
    return Flows(api.backend, api.url, Stack(api.url))


def ledger_balance(api: Api, ledger: str, address: str) -> int:
    """The balance as the official SDK reads it from ledger v2, checked against ledger v1."""
    v2 = api.sdk.ledger.v2.get_account(
        request={"ledger": ledger, "address": address, "expand": "volumes"}
    ).v2_account_response.data
    assert v2.volumes is not None
    v1 = api.sdk.ledger.v1.get_account_ledger(request={"ledger": ledger, "address": address})
    assert v1.account_response.data.balances == {ASSET: v2.volumes[ASSET].balance}
    return v2.volumes[ASSET].balance


def send(source: dict[str, Any], destination: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"send": {"source": source, "destination": destination, **extra}}


def test_an_amount_beyond_2_53_moves_exactly_across_ledgers(api: Api, flows: Flows) -> None:
    # Across ledgers with an overdraft: Numscript on the way out, a posting on the way in.
    bank, shop = flows.stack.new_ledger(), flows.stack.new_ledger()
    stage = send(
        {"account": {"id": "treasury", "ledger": bank, "allowOverdraft": True}},
        {"account": {"id": "merchants:1", "ledger": shop}},
        amount={"amount": BIG, "asset": ASSET},
    )
    instance_id = flows.succeeded([stage])

    assert ledger_balance(api, shop, "merchants:1") == BIG
    assert ledger_balance(api, bank, "treasury") == -BIG
    workflow_id = flows.instance(instance_id)["workflowID"]
    stored = httpx.get(f"{flows.url}/workflows/{workflow_id}", timeout=10).json()["data"]
    assert stored["config"]["stages"][0]["send"]["amount"]["amount"] == BIG
    history = httpx.get(f"{flows.url}/instances/{instance_id}/history", timeout=10).json()
    assert history["data"][0]["input"]["amount"] == {"amount": BIG, "asset": ASSET}
    leaving, entering = flows.stage_history(instance_id, 0)
    assert f"send [{ASSET} {BIG}]" in leaving["input"]["CreateTransaction"]["Data"]["script"]["plain"]
    [posting] = entering["input"]["CreateTransaction"]["Data"]["postings"]
    assert posting["amount"] == BIG
    [created] = entering["output"]["CreateTransaction"]["data"]
    assert created["postings"][0]["amount"] == BIG


def test_a_big_payment_moves_exactly_into_a_wallet_and_out_by_a_variable(
    api: Api, flows: Flows
) -> None:
    wallet = flows.stack.create_wallet()
    payment_id = flows.stack.payment(BIG)
    shop = flows.stack.new_ledger()
    into_wallet = send({"payment": {"id": payment_id}}, {"wallet": {"id": wallet["id"]}})
    out_of_wallet = send(
        {"wallet": {"id": wallet["id"]}},
        {"account": {"id": "merchants:1", "ledger": shop}},
        amount={"amount": "${amount}", "asset": ASSET},
    )
    instance_id = flows.start([into_wallet, out_of_wallet], {"amount": str(BIG)})
    done = flows.ended(instance_id)
    assert "error" not in done, (done, flows.stage_history(instance_id, 1))

    wallets = api.sdk.wallets.v1
    found = wallets.get_wallet(request={"id": wallet["id"]}).get_wallet_response.data
    assert found.balances.main.assets == {ASSET: 0}
    assert ledger_balance(api, shop, "merchants:1") == BIG
    debit = [a for a in flows.stage_history(instance_id, 1) if a["name"] == "DebitWallet"]
    assert debit[0]["input"]["DebitWallet"]["data"]["amount"] == {"amount": BIG, "asset": ASSET}


@pytest.mark.parametrize("amount", ["1.5", "1e3"])
def test_an_amount_variable_that_is_not_an_integer_fails_the_stage_moving_nothing(
    flows: Flows, amount: str
) -> None:
    ledger = flows.stack.new_ledger()
    stage = send(
        {"account": {"id": "world", "ledger": ledger}},
        {"account": {"id": "users:1", "ledger": ledger}},
        amount={"amount": "${amount}", "asset": ASSET},
    )
    instance_id = flows.start([stage], {"amount": amount})
    failed = flows.ended(instance_id)
    assert failed["error"] == (
        f"send.amount.amount: '{amount}' (from '${{amount}}') "
        "is not an integer (expected digits only, like 2819)"
    )
    assert flows.stage_history(instance_id, 0, started=False) == []
    assert flows.stack.transactions(ledger) == []
    assert flows.stack.balance(ledger, "users:1") == 0


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (1.5, "expected an integer in the asset's smallest unit, got 1.5"),
        (0.5, "expected an integer in the asset's smallest unit, got 0.5"),
        (1e3, "expected an integer in the asset's smallest unit, got 1000.0"),
        (-1, "must not be negative, got -1"),
        (2**256, "must be at most 2^256-1"),
        (True, "expected an integer or a string"),
    ],
)
def test_an_amount_that_is_not_an_integer_in_range_is_refused_at_creation(
    flows: Flows, amount: Any, message: str
) -> None:
    stage = send(
        {"account": {"id": "world"}},
        {"account": {"id": "users:1"}},
        amount={"amount": amount, "asset": ASSET},
    )
    response = httpx.post(
        f"{flows.url}/workflows", json={"stages": [stage]}, timeout=10
    )
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "VALIDATION"
    assert response.json()["errorMessage"].startswith(f"stages[0].send.amount.amount: {message}")
