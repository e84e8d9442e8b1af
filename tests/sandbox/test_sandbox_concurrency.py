"""Concurrent writers on the sandbox ledger: debits never overdraw, one key makes one transaction.

PostgreSQL is the interesting backend (row locks between connections); SQLite runs the same
checks with its single writer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from sandbox_support import SandboxServer, balances, transact

from tests.support.stack import new_ledger

WORKERS = 16


def test_concurrent_debits_never_overdraw(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    transact(url, ledger, [("world", "users:payer", 100, "USD")])

    def debit(index: int) -> int:
        posting = {"source": "users:payer", "destination": f"users:payee{index % 3}", "amount": 10, "asset": "USD"}
        with httpx.Client(timeout=30) as client:
            response = client.post(f"{url}/api/ledger/v2/{ledger}/transactions", json={"postings": [posting]})
        if response.status_code != 200:
            assert response.json()["errorCode"] == "INSUFFICIENT_FUND", response.text
        return response.status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        statuses = list(pool.map(debit, range(25)))
    assert statuses.count(200) == 10 and statuses.count(400) == 15
    assert balances(url, ledger, "users:payer") == {"USD": 0}
    received = sum(balances(url, ledger, f"users:payee{i}").get("USD", 0) for i in range(3))
    assert received == 100
    # Ids stay dense: failed attempts allocate none.
    listed = httpx.get(f"{url}/api/ledger/v2/{ledger}/transactions", params={"pageSize": 100}).json()
    assert sorted(t["id"] for t in listed["cursor"]["data"]) == list(range(1, 12))


def test_concurrent_requests_with_one_key_make_one_transaction(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    body = {"postings": [{"source": "world", "destination": "users:once", "amount": 7, "asset": "USD"}], "metadata": {}}

    def send(_: int) -> tuple[int, int]:
        with httpx.Client(timeout=30) as client:
            response = client.post(
                f"{url}/api/ledger/v2/{ledger}/transactions", json=body, headers={"Idempotency-Key": "same"}
            )
        assert response.status_code == 200, response.text
        return response.status_code, response.json()["data"]["id"]

    with ThreadPoolExecutor(WORKERS) as pool:
        answers = list(pool.map(send, range(WORKERS)))
    assert set(answers) == {(200, 1)}
    assert balances(url, ledger, "users:once") == {"USD": 7}


def test_concurrent_transfers_both_ways_do_not_deadlock(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    transact(url, ledger, [("world", "a", 1000, "USD"), ("world", "b", 1000, "USD")])

    def move(index: int) -> int:
        source, destination = ("a", "b") if index % 2 else ("b", "a")
        posting = {"source": source, "destination": destination, "amount": 1, "asset": "USD"}
        with httpx.Client(timeout=30) as client:
            return client.post(
                f"{url}/api/ledger/v2/{ledger}/transactions", json={"postings": [posting, {**posting, "source": destination, "destination": source}]}
            ).status_code

    with ThreadPoolExecutor(WORKERS) as pool:
        assert set(pool.map(move, range(40))) == {200}
    assert balances(url, ledger, "a") == {"USD": 1000} and balances(url, ledger, "b") == {"USD": 1000}
