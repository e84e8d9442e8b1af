"""Sandbox Wallets over real HTTP: the ledger layout of wallets-002, credits, debits, holds,
lists, idempotency, and formance-sdk-python parsing every answer."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from formance_sdk_python import SDK
from formance_sdk_python.models.wallets import ErrorResponse
from sandbox_support import SandboxServer, balances, transact

WALLETS = "/api/wallets/wallets"
LEDGER = "wallets-002"


def create(url: str, name: str | None = None, metadata: dict[str, str] | None = None, key: str | None = None) -> dict[str, Any]:
    headers = {"Idempotency-Key": key} if key else {}
    response = httpx.post(
        f"{url}{WALLETS}", json={"name": name or f"w-{uuid.uuid4().hex[:8]}", "metadata": metadata or {}}, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()["data"]  # type: ignore[no-any-return]


def main_account(wallet_id: str, balance: str = "main") -> str:
    return f"wallets:{wallet_id.replace('-', '')}:{balance}"


def credit(url: str, wallet_id: str, amount: int, expect: int = 204, key: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    payload = {"amount": {"amount": amount, "asset": "USD/2"}, **body}
    response = httpx.post(f"{url}{WALLETS}/{wallet_id}/credit", json=payload, headers=headers)
    assert response.status_code == expect, response.text
    return response


def debit(url: str, wallet_id: str, amount: int, expect: int = 204, key: str | None = None, **body: Any) -> httpx.Response:
    headers = {"Idempotency-Key": key} if key else {}
    payload = {"amount": {"amount": amount, "asset": "USD/2"}, "metadata": {}, **body}
    response = httpx.post(f"{url}{WALLETS}/{wallet_id}/debit", json=payload, headers=headers)
    assert response.status_code == expect, response.text
    return response


def last_transaction(url: str) -> dict[str, Any]:
    page = httpx.get(f"{url}/api/ledger/v2/{LEDGER}/transactions", params={"pageSize": 1}).json()
    return page["cursor"]["data"][0]  # type: ignore[no-any-return]


def test_wallet_accounts_as_wallets_lays_them_out(sandbox: SandboxServer) -> None:
    url = sandbox.url
    wallet = create(url, "alice", {"tier": "gold"})
    assert wallet["name"] == "alice" and wallet["ledger"] == LEDGER and wallet["metadata"] == {"tier": "gold"}
    uuid.UUID(wallet["id"])
    account = httpx.get(f"{url}/api/ledger/v2/{LEDGER}/accounts/{main_account(wallet['id'])}").json()["data"]
    assert account["metadata"] == {
        "wallets/spec/type": "wallets.primary",
        "wallets/id": wallet["id"],
        "wallets/name": "alice",
        "wallets/balances": "true",
        "wallets/balances/name": "main",
        "wallets/createdAt": wallet["createdAt"],
        "wallets/custom_data_tier": "gold",
    }
    fetched = httpx.get(f"{url}{WALLETS}/{wallet['id']}")
    assert fetched.status_code == 200
    assert fetched.json()["data"]["balances"] == {"main": {"expiresAt": None, "priority": 0, "assets": {}}}
    missing = httpx.get(f"{url}{WALLETS}/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.content == b""
    # An account that is not a wallet is not one either.
    transact(url, LEDGER, [("world", "wallets:notawallet:main", 1, "USD/2")])
    assert httpx.get(f"{url}{WALLETS}/notawallet").status_code == 404


def test_credit_and_debit_write_wallets_transactions(sandbox: SandboxServer) -> None:
    url = sandbox.url
    wallet = create(url)
    address = main_account(wallet["id"])
    credit(url, wallet["id"], 1000, metadata={"orchestration/move-from-ledger": "x"}, reference=f"cr-{wallet['id']}")
    made = last_transaction(url)
    assert made["postings"] == [{"source": "world", "destination": address, "amount": 1000, "asset": "USD/2"}]
    assert made["metadata"] == {"wallets/transaction": "true", "wallets/custom_data_orchestration/move-from-ledger": "x"}
    assert made["reference"] == f"cr-{wallet['id']}"
    assert httpx.get(f"{url}{WALLETS}/{wallet['id']}").json()["data"]["balances"]["main"]["assets"] == {"USD/2": 1000}

    debit(url, wallet["id"], 300, balances=["main"], destination={"type": "ACCOUNT", "identifier": "users:bob"}, metadata={"k": "v"})
    made = last_transaction(url)
    assert made["postings"] == [{"source": address, "destination": "users:bob", "amount": 300, "asset": "USD/2"}]
    assert made["metadata"] == {"wallets/transaction": "true", "wallets/custom_data_k": "v"}
    debit(url, wallet["id"], 100)
    assert last_transaction(url)["postings"][0]["destination"] == "world"
    assert balances(url, LEDGER, address) == {"USD/2": 600}
    assert balances(url, LEDGER, "users:bob") == {"USD/2": 300}

    short = debit(url, wallet["id"], 601, expect=400)
    assert short.json() == {"errorCode": "INSUFFICIENT_FUND", "errorMessage": "insufficient fund"}
    unknown_balance = debit(url, wallet["id"], 1, expect=500, balances=["nope"])
    assert unknown_balance.json()["errorCode"] == "INTERNAL_ERROR"
    invalid = debit(url, wallet["id"], -1, expect=400)
    assert invalid.json() == {"errorCode": "VALIDATION", "errorMessage": "invalid balance specified"}


def test_credit_sources_and_wallet_to_wallet(sqlite_sandbox: SandboxServer) -> None:
    url = sqlite_sandbox.url
    payer, payee = create(url), create(url)
    source = f"users:{uuid.uuid4().hex[:8]}"
    # An ACCOUNT source is balance-checked; Wallets answers a bare internal error.
    failed = credit(url, payee["id"], 50, expect=500, sources=[{"type": "ACCOUNT", "identifier": source}])
    assert failed.json() == {"errorCode": "INTERNAL_ERROR", "errorMessage": "internal server error"}
    transact(url, LEDGER, [("world", source, 50, "USD/2")])
    credit(url, payee["id"], 50, sources=[{"type": "ACCOUNT", "identifier": source}])
    assert last_transaction(url)["postings"] == [
        {"source": source, "destination": main_account(payee["id"]), "amount": 50, "asset": "USD/2"}
    ]
    credit(url, payer["id"], 20)
    credit(url, payee["id"], 20, sources=[{"type": "WALLET", "identifier": payer["id"], "balance": "main"}])
    assert last_transaction(url)["postings"] == [
        {"source": main_account(payer["id"]), "destination": main_account(payee["id"]), "amount": 20, "asset": "USD/2"}
    ]
    # Sources are drained in order.
    credit(url, payer["id"], 5)
    credit(url, payee["id"], 8, sources=[{"type": "WALLET", "identifier": payer["id"]}, {"type": "ACCOUNT", "identifier": "world"}])
    assert [(p["source"], p["amount"]) for p in last_transaction(url)["postings"]] == [(main_account(payer["id"]), 5), ("world", 3)]
    # Credit does not check that the wallet exists.
    ghost = str(uuid.uuid4())
    credit(url, ghost, 1)
    assert balances(url, LEDGER, main_account(ghost)) == {"USD/2": 1}
    assert httpx.get(f"{url}{WALLETS}/{ghost}").status_code == 404
    # A named balance must exist to be credited.
    assert credit(url, payee["id"], 1, expect=400, balance="savings").json()["errorCode"] == "VALIDATION"


def test_idempotency_of_credits_debits_and_creation(sqlite_sandbox: SandboxServer) -> None:
    url = sqlite_sandbox.url
    wallet = create(url)
    key = f"ik-{uuid.uuid4().hex}"
    credit(url, wallet["id"], 10, key=key)
    credit(url, wallet["id"], 10, key=key)
    assert balances(url, LEDGER, main_account(wallet["id"])) == {"USD/2": 10}
    assert credit(url, wallet["id"], 11, expect=500, key=key).json()["errorCode"] == "INTERNAL_ERROR"
    debit_key = f"ik-{uuid.uuid4().hex}"
    debit(url, wallet["id"], 4, key=debit_key, balances=["main"])
    debit(url, wallet["id"], 4, key=debit_key, balances=["main"])
    assert balances(url, LEDGER, main_account(wallet["id"])) == {"USD/2": 6}
    wildcard = debit(url, wallet["id"], 1, expect=400, key=f"ik-{uuid.uuid4().hex}", balances=["*"])
    assert wildcard.json()["errorCode"] == "VALIDATION"

    create_key = f"ik-{uuid.uuid4().hex}"
    first = create(url, "same", {"a": "b"}, key=create_key)
    again = create(url, "same", {"a": "b"}, key=create_key)
    assert again == first
    other = httpx.post(f"{url}{WALLETS}", json={"name": "different"}, headers={"Idempotency-Key": create_key})
    assert other.status_code == 409 and other.json()["errorCode"] == "CONFLICT"


def test_list_wallets_by_name_metadata_and_pages(sqlite_sandbox: SandboxServer) -> None:
    url = sqlite_sandbox.url
    tag = uuid.uuid4().hex[:8]
    made = [create(url, f"{tag}-{i}", {"group": tag, "parity": str(i % 2)}) for i in range(5)]
    credit(url, made[0]["id"], 7)
    by_name = httpx.get(f"{url}{WALLETS}", params={"name": f"{tag}-3"}).json()["cursor"]
    assert [w["id"] for w in by_name["data"]] == [made[3]["id"]]
    # Lists leave assets empty unless expanded.
    assert by_name["data"][0]["balances"]["main"]["assets"] == {}
    odd = httpx.get(f"{url}{WALLETS}", params={"metadata[group]": tag, "metadata[parity]": "1"}).json()["cursor"]["data"]
    assert sorted(w["name"] for w in odd) == [f"{tag}-1", f"{tag}-3"]
    expanded = httpx.get(f"{url}{WALLETS}", params={"name": f"{tag}-0", "expand": "balances"}).json()["cursor"]["data"]
    assert expanded[0]["balances"]["main"]["assets"] == {"USD/2": 7}
    seen: list[str] = []
    page = httpx.get(f"{url}{WALLETS}", params={"metadata[group]": tag, "pageSize": 2}).json()["cursor"]
    while True:
        seen.extend(w["id"] for w in page["data"])
        if not page["hasMore"]:
            break
        page = httpx.get(f"{url}{WALLETS}", params={"cursor": page["next"]}).json()["cursor"]
    # Ordered by ledger address, i.e. by id without dashes.
    assert seen == sorted((w["id"] for w in made), key=lambda i: i.replace("-", ""))
    assert httpx.get(f"{url}{WALLETS}", params={"name": "nobody-has-this-name"}).json()["cursor"]["data"] == []


def test_named_balances_wildcard_debit_and_holds(sqlite_sandbox: SandboxServer) -> None:
    url = sqlite_sandbox.url
    wallet = create(url)
    wid = wallet["id"]
    created = httpx.post(f"{url}{WALLETS}/{wid}/balances", json={"name": "savings", "priority": 5})
    assert created.status_code == 201 and created.json()["data"] == {"name": "savings", "expiresAt": None, "priority": 5}
    assert httpx.post(f"{url}{WALLETS}/{wid}/balances", json={"name": "main"}).status_code == 400
    credit(url, wid, 30, balance="savings")
    credit(url, wid, 100)
    debit(url, wid, 50, balances=["*"])
    assert [(p["source"], p["amount"]) for p in last_transaction(url)["postings"]] == [
        (main_account(wid, "savings"), 30),
        (main_account(wid), 20),
    ]
    savings = httpx.get(f"{url}{WALLETS}/{wid}/balances/savings").json()["data"]
    assert savings["assets"] == {"USD/2": 0}
    listed = httpx.get(f"{url}{WALLETS}/{wid}/balances").json()["cursor"]["data"]
    assert [b["name"] for b in listed] == ["main", "savings"]

    pending = debit(url, wid, 40, expect=201, pending=True, description="reserve", destination={"type": "ACCOUNT", "identifier": "users:shop"})
    hold = pending.json()["data"]
    assert hold["walletID"] == wid and hold["destination"] == {"type": "ACCOUNT", "identifier": "users:shop"}
    hold_address = f"wallets:holds:{hold['id'].replace('-', '')}"
    assert balances(url, LEDGER, hold_address) == {"USD/2": 40}
    hold_account = httpx.get(f"{url}/api/ledger/v2/{LEDGER}/accounts/{hold_address}").json()["data"]
    assert hold_account["metadata"]["wallets/spec/type"] == "wallets.hold"
    assert hold_account["metadata"]["wallets/holds/wallet_id"] == wid
    expanded = httpx.get(f"{url}/api/wallets/holds/{hold['id']}").json()["data"]
    assert expanded["originalAmount"] == 40 and expanded["remaining"] == 40
    assert httpx.post(f"{url}/api/wallets/holds/{hold['id']}/confirm", json={"amount": 41}).status_code == 400
    assert httpx.post(f"{url}/api/wallets/holds/{hold['id']}/confirm", json={"amount": 15}).status_code == 204
    assert balances(url, LEDGER, "users:shop") == {"USD/2": 15}
    assert httpx.post(f"{url}/api/wallets/holds/{hold['id']}/void").status_code == 204
    assert balances(url, LEDGER, main_account(wid)) == {"USD/2": 65}
    closed = httpx.post(f"{url}/api/wallets/holds/{hold['id']}/void")
    assert closed.status_code == 400 and closed.json()["errorCode"] == "HOLD_CLOSED"
    holds = httpx.get(f"{url}/api/wallets/holds", params={"walletID": wid}).json()["cursor"]["data"]
    assert [h["id"] for h in holds] == [hold["id"]]


def test_content_type_must_be_json(sqlite_sandbox: SandboxServer) -> None:
    response = httpx.post(
        f"{sqlite_sandbox.url}{WALLETS}", content=b'{"name": "x"}', headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 415 and response.content == b""
    assert response.headers["content-type"] == "application/json"


def test_sdk_parses_wallets_answers(sqlite_sandbox: SandboxServer) -> None:
    sdk: SDK = sqlite_sandbox.sdk
    w = sdk.wallets.v1
    created = w.create_wallet(request={"create_wallet_request": {"name": "sdk", "metadata": {"a": "b"}}, "idempotency_key": uuid.uuid4().hex})
    wallet = created.create_wallet_response.data
    assert wallet.name == "sdk" and wallet.ledger == LEDGER
    w.credit_wallet(
        request={
            "id": wallet.id,
            "idempotency_key": uuid.uuid4().hex,
            "credit_wallet_request": {
                "amount": {"amount": 500, "asset": "USD/2"},
                "sources": [{"type": "ACCOUNT", "identifier": "world"}],
                "metadata": {"m": "n"},
                "balance": "main",
            },
        }
    )
    fetched = w.get_wallet(request={"id": wallet.id}).get_wallet_response
    assert fetched is not None and fetched.data.balances.main.assets == {"USD/2": 500}
    missing = w.get_wallet(request={"id": str(uuid.uuid4())})
    assert missing.get_wallet_response is None and missing.status_code == 404
    listed = w.list_wallets(request={"name": "sdk", "metadata": {"a": "b"}}).list_wallets_response.cursor
    assert wallet.id in [item.id for item in listed.data]
    w.debit_wallet(
        request={
            "id": wallet.id,
            "debit_wallet_request": {
                "amount": {"amount": 100, "asset": "USD/2"},
                "balances": ["main"],
                "destination": {"type": "ACCOUNT", "identifier": "users:sdk"},
                "metadata": {},
            },
        }
    )
    held = w.debit_wallet(
        request={"id": wallet.id, "debit_wallet_request": {"amount": {"amount": 10, "asset": "USD/2"}, "metadata": {}, "pending": True}}
    ).debit_wallet_response
    assert held is not None and held.data.wallet_id == wallet.id
    hold = w.get_hold(request={"hold_id": held.data.id}).get_hold_response.data
    assert hold.remaining == 10 and hold.original_amount == 10
    assert [h.id for h in w.get_holds(request={"wallet_id": wallet.id}).get_holds_response.cursor.data] == [held.data.id]
    w.confirm_hold(request={"hold_id": held.data.id, "confirm_hold_request": {"amount": 10}})
    w.create_balance(request={"id": wallet.id, "balance": {"name": "extra", "priority": 1}})
    assert {b.name for b in w.list_balances(request={"id": wallet.id}).list_balances_response.cursor.data} == {"main", "extra"}
    main = w.get_balance(request={"id": wallet.id, "balance_name": "main"}).get_balance_response.data
    assert main.assets == {"USD/2": 390}
    assert w.get_server_info_wallets().server_info.version
    with pytest.raises(ErrorResponse) as insufficient:
        w.debit_wallet(request={"id": wallet.id, "debit_wallet_request": {"amount": {"amount": 10**6, "asset": "USD/2"}, "metadata": {}}})
    assert insufficient.value.data.error_code == "INSUFFICIENT_FUND"
