"""The sandbox ledger over real HTTP, on SQLite and PostgreSQL: double entry, overdraft rules,
references, idempotency keys, metadata, reverts, account shapes, lists and validation."""

from __future__ import annotations

import httpx
import pytest
from sandbox_support import SandboxServer, balances, transact

from tests.support.stack import new_ledger

OVERDRAFT = "send [USD/2 {amount}] (\n  source = @{source} allowing unbounded overdraft\n  destination = @{destination}\n)"


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["errorCode"]


def test_create_get_and_list_ledgers(sandbox: SandboxServer) -> None:
    url = sandbox.url
    name = new_ledger(url)
    again = httpx.post(f"{url}/api/ledger/v2/{name}", json={})
    assert error_of(again) == (400, "LEDGER_ALREADY_EXISTS")
    assert error_of(httpx.post(f"{url}/api/ledger/v2/bad.name")) == (400, "VALIDATION")
    assert error_of(httpx.post(f"{url}/api/ledger/v2/x", json={"features": {"NOPE": "ON"}})) == (400, "VALIDATION")
    found = httpx.get(f"{url}/api/ledger/v2/{name}").json()["data"]
    assert found["name"] == name and found["bucket"] == "_default" and found["metadata"] == {}
    assert found["features"]["MOVES_HISTORY"] == "ON"
    assert error_of(httpx.get(f"{url}/api/ledger/v2/nosuchledger")) == (404, "NOT_FOUND")
    # The orchestration's default ledgers and Wallets' ledger exist from the start.
    for default in ("default", "main", "orchestration-000-internal", "wallets-002"):
        assert httpx.get(f"{url}/api/ledger/v2/{default}").status_code == 200
    seen: list[str] = []
    cursor: str | None = None
    while True:
        params = {"cursor": cursor} if cursor else {"pageSize": "2"}
        page = httpx.get(f"{url}/api/ledger/v2", params=params).json()["cursor"]
        assert page["pageSize"] == 2
        seen.extend(ledger["name"] for ledger in page["data"])
        if not page["hasMore"]:
            break
        cursor = page["next"]
    assert seen[:4] == ["default", "main", "orchestration-000-internal", "wallets-002"]
    assert name in seen and len(seen) == len(set(seen))


def test_unknown_ledger_is_not_created_by_v2_writes(sandbox: SandboxServer) -> None:
    response = httpx.post(
        f"{sandbox.url}/api/ledger/v2/neverCreated/transactions",
        json={"postings": [{"source": "world", "destination": "a", "amount": 1, "asset": "USD"}]},
    )
    assert error_of(response) == (404, "LEDGER_NOT_FOUND")
    assert error_of(httpx.get(f"{sandbox.url}/api/ledger/v2/neverCreated/accounts/a")) == (404, "LEDGER_NOT_FOUND")


def test_double_entry_volumes_and_balances(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    first = transact(url, ledger, [("world", "users:1", 100, "USD/2")])["data"]
    assert first["id"] == 1
    second = transact(url, ledger, [("users:1", "users:2", 30, "USD/2"), ("users:2", "users:3", 10, "USD/2")])["data"]
    assert second["id"] == 2
    assert second["postings"] == [
        {"source": "users:1", "destination": "users:2", "amount": 30, "asset": "USD/2"},
        {"source": "users:2", "destination": "users:3", "amount": 10, "asset": "USD/2"},
    ]
    # A later posting may spend what an earlier one of the same transaction brought.
    assert second["preCommitVolumes"]["users:2"]["USD/2"] == {"input": 0, "output": 0, "balance": 0}
    assert second["postCommitVolumes"]["users:2"]["USD/2"] == {"input": 30, "output": 10, "balance": 20}
    assert second["postCommitVolumes"]["users:1"]["USD/2"] == {"input": 100, "output": 30, "balance": 70}
    assert balances(url, ledger, "world") == {"USD/2": -100}
    assert balances(url, ledger, "users:1") == {"USD/2": 70}
    assert balances(url, ledger, "users:2") == {"USD/2": 20}
    assert balances(url, ledger, "users:3") == {"USD/2": 10}
    # Amounts beyond 64 bits stay exact.
    huge = 2**70 + 1
    transact(url, ledger, [("world", "users:big", huge, "COIN")])
    assert balances(url, ledger, "users:big") == {"COIN": huge}
    assert balances(url, ledger, "world") == {"USD/2": -100, "COIN": -huge}


def test_only_world_may_go_negative(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    transact(url, ledger, [("world", "a", 50, "EUR/2")])
    failed = transact(url, ledger, [("a", "b", 51, "EUR/2")], expect=400)
    assert failed["errorCode"] == "INSUFFICIENT_FUND" and "@a" in failed["errorMessage"]
    # Nothing of a failed transaction is kept; the next id is still 2.
    assert balances(url, ledger, "a") == {"EUR/2": 50}
    assert transact(url, ledger, [("a", "b", 50, "EUR/2")])["data"]["id"] == 2
    # Another asset is another balance.
    assert transact(url, ledger, [("a", "b", 1, "USD/2")], expect=400)["errorCode"] == "INSUFFICIENT_FUND"
    # force=true lets a postings source overdraw.
    transact(url, ledger, [("a", "b", 5, "EUR/2")], force=True)
    assert balances(url, ledger, "a") == {"EUR/2": -5}
    # A negative balance has nothing available.
    assert transact(url, ledger, [("a", "b", 1, "EUR/2")], expect=400)["errorCode"] == "INSUFFICIENT_FUND"


def test_overdraft_numscript_of_the_orchestration(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    script = OVERDRAFT.format(amount=100, source="users:1", destination="users:2")
    created = transact(url, ledger, script=script, metadata={"orchestration/move-to-ledger": "x"})["data"]
    assert created["postings"] == [{"source": "users:1", "destination": "users:2", "amount": 100, "asset": "USD/2"}]
    assert created["metadata"] == {"orchestration/move-to-ledger": "x"}
    assert balances(url, ledger, "users:1") == {"USD/2": -100}
    plain = "send [USD/2 40] (\n  source = @users:2\n  destination = @users:3\n)"
    transact(url, ledger, script=plain)
    assert balances(url, ledger, "users:2") == {"USD/2": 60}
    world = OVERDRAFT.format(amount=1, source="world", destination="users:2")
    assert transact(url, ledger, script=world, expect=400)["errorCode"] == "COMPILATION_FAILED"
    one_line = "send [USD/2 1] ( source = @world destination = @b )"
    assert transact(url, ledger, script=one_line, expect=400)["errorCode"] == "COMPILATION_FAILED"
    too_much = "send [USD/2 61] (\n  source = @users:2\n  destination = @users:3\n)"
    assert transact(url, ledger, script=too_much, expect=400)["errorCode"] == "INSUFFICIENT_FUND"
    with_vars = "vars {\n  monetary $m\n  account $d\n}\nsend $m (\n  source = @world\n  destination = $d\n)\nset_tx_meta(\"why\", \"test\")"
    made = transact(url, ledger, script=with_vars, vars={"m": "USD/2 7", "d": "users:9"})["data"]
    assert made["metadata"] == {"why": "test"} and balances(url, ledger, "users:9") == {"USD/2": 7}
    clash = transact(url, ledger, script=with_vars, vars={"m": "USD/2 7", "d": "users:9"}, metadata={"why": "x"}, expect=400)
    assert clash["errorCode"] == "METADATA_OVERRIDE"


def test_unique_reference_conflicts(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    transact(url, ledger, [("world", "payment:p1", 10, "USD/2")], reference="payment:p1")
    again = transact(url, ledger, [("world", "payment:p1", 10, "USD/2")], reference="payment:p1", expect=409)
    assert again["errorCode"] == "CONFLICT" and "payment:p1" in again["errorMessage"]
    assert balances(url, ledger, "payment:p1") == {"USD/2": 10}
    # References are unique per ledger only.
    other = new_ledger(url)
    transact(url, other, [("world", "payment:p1", 10, "USD/2")], reference="payment:p1")


def test_idempotency_keys_replay_and_mismatch(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    body = {"postings": [{"source": "world", "destination": "a", "amount": 5, "asset": "USD"}], "metadata": {"k": "v"}}
    endpoint = f"{url}/api/ledger/v2/{ledger}/transactions"
    first = httpx.post(endpoint, json=body, headers={"Idempotency-Key": "ik-1"})
    replay = httpx.post(endpoint, json=body, headers={"Idempotency-Key": "ik-1"})
    assert first.status_code == replay.status_code == 200
    assert "idempotency-hit" not in first.headers
    assert replay.headers["Idempotency-Hit"] == "true"
    assert replay.json() == first.json()
    assert balances(url, ledger, "a") == {"USD": 5}
    changed = {**body, "metadata": {"k": "other"}}
    mismatch = httpx.post(endpoint, json=changed, headers={"Idempotency-Key": "ik-1"})
    assert error_of(mismatch) == (400, "VALIDATION")
    assert "invalid idempotency hash" in mismatch.json()["errorMessage"]
    # The same key on another endpoint of the ledger is another input.
    metadata = httpx.post(f"{url}/api/ledger/v2/{ledger}/accounts/a/metadata", json={"x": "y"}, headers={"Idempotency-Key": "ik-1"})
    assert error_of(metadata) == (400, "VALIDATION")
    # A failed attempt stores nothing: the key works once the funds are there.
    spend = {"postings": [{"source": "a", "destination": "b", "amount": 6, "asset": "USD"}]}
    assert error_of(httpx.post(endpoint, json=spend, headers={"Idempotency-Key": "ik-2"})) == (400, "INSUFFICIENT_FUND")
    transact(url, ledger, [("world", "a", 1, "USD")])
    assert httpx.post(endpoint, json=spend, headers={"Idempotency-Key": "ik-2"}).status_code == 200
    # Keys are scoped per ledger.
    other = new_ledger(url)
    elsewhere = httpx.post(f"{url}/api/ledger/v2/{other}/transactions", json=changed, headers={"Idempotency-Key": "ik-1"})
    assert elsewhere.status_code == 200 and elsewhere.json()["data"]["id"] == 1
    listed = httpx.get(f"{endpoint}?pageSize=100").json()["cursor"]["data"]
    assert [t["id"] for t in listed] == [3, 2, 1]


def test_account_metadata_merges(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    endpoint = f"{url}/api/ledger/v2/{ledger}/accounts/merchants:1/metadata"
    first = httpx.post(endpoint, json={"a": "1", "b": "2"})
    assert first.status_code == 204 and first.headers["content-type"] == "application/json"
    assert httpx.post(endpoint, json={"b": "3", "c": "4"}, headers={"Idempotency-Key": "m1"}).status_code == 204
    replay = httpx.post(endpoint, json={"b": "3", "c": "4"}, headers={"Idempotency-Key": "m1"})
    assert replay.status_code == 204 and replay.headers["Idempotency-Hit"] == "true"
    assert error_of(httpx.post(endpoint, json={"n": 1})) == (400, "VALIDATION")
    account = httpx.get(f"{url}/api/ledger/v2/{ledger}/accounts/merchants:1").json()["data"]
    assert account["metadata"] == {"a": "1", "b": "3", "c": "4"}
    assert "volumes" not in account
    # Metadata in a transaction body lands on the accounts too.
    transact(url, ledger, [("world", "merchants:1", 1, "USD")], accountMetadata={"merchants:1": {"d": "5"}})
    account = httpx.get(f"{url}/api/ledger/v2/{ledger}/accounts/merchants:1?expand=volumes").json()["data"]
    assert account["metadata"] == {"a": "1", "b": "3", "c": "4", "d": "5"}
    assert account["volumes"] == {"USD": {"input": 1, "output": 0, "balance": 1}}


def test_revert(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    transact(url, ledger, [("world", "a", 100, "USD")])
    original = transact(url, ledger, [("a", "b", 30, "USD"), ("a", "c", 20, "USD")])["data"]
    endpoint = f"{url}/api/ledger/v2/{ledger}/transactions/{original['id']}/revert"
    reverted = httpx.post(endpoint, json={"metadata": {"why": "mistake"}})
    assert reverted.status_code == 201, reverted.text
    revert = reverted.json()["data"]
    assert revert["postings"] == [
        {"source": "c", "destination": "a", "amount": 20, "asset": "USD"},
        {"source": "b", "destination": "a", "amount": 30, "asset": "USD"},
    ]
    assert revert["metadata"] == {"why": "mistake", "com.formance.spec/state/reverts": str(original["id"])}
    assert balances(url, ledger, "a") == {"USD": 100}
    after = httpx.get(f"{url}/api/ledger/v2/{ledger}/transactions/{original['id']}").json()["data"]
    assert after["reverted"] is True and "revertedAt" in after and "postCommitVolumes" not in after
    assert error_of(httpx.post(endpoint)) == (400, "ALREADY_REVERT")
    # A revert that would overdraw an account fails unless forced.
    spent = transact(url, ledger, [("a", "d", 100, "USD")])["data"]
    transact(url, ledger, [("d", "e", 100, "USD")])
    spent_revert = f"{url}/api/ledger/v2/{ledger}/transactions/{spent['id']}/revert"
    assert error_of(httpx.post(spent_revert)) == (400, "INSUFFICIENT_FUND")
    assert httpx.post(f"{spent_revert}?force=true").status_code == 201
    assert balances(url, ledger, "d") == {"USD": -100}
    assert error_of(httpx.post(f"{url}/api/ledger/v2/{ledger}/transactions/999/revert")) == (404, "NOT_FOUND")
    assert error_of(httpx.post(f"{url}/api/ledger/v2/{ledger}/transactions/x/revert")) == (400, "VALIDATION")


def test_v1_and_v2_account_shapes(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    transact(url, ledger, [("world", "users:1", 70, "USD/2"), ("users:1", "world", 20, "USD/2")])
    httpx.post(f"{url}/api/ledger/v2/{ledger}/accounts/users:1/metadata", json={"formanceAccountID": "acc"})
    v1 = httpx.get(f"{url}/api/ledger/{ledger}/accounts/users:1").json()["data"]
    assert v1["address"] == "users:1" and v1["metadata"] == {"formanceAccountID": "acc"}
    assert v1["balances"] == {"USD/2": 50}
    assert v1["volumes"] == {"USD/2": {"input": 70, "output": 20, "balance": 50}}
    assert {"firstUsage", "insertionDate", "updatedAt"} <= set(v1)
    unknown = httpx.get(f"{url}/api/ledger/{ledger}/accounts/users:none")
    assert unknown.status_code == 200
    assert unknown.json()["data"] == {
        "address": "users:none",
        "metadata": {},
        "firstUsage": "0001-01-01T00:00:00Z",
        "insertionDate": "0001-01-01T00:00:00Z",
        "updatedAt": "0001-01-01T00:00:00Z",
        "balances": {},
    }
    assert error_of(httpx.get(f"{url}/api/ledger/v2/{ledger}/accounts/users:none")) == (404, "NOT_FOUND")
    # The v1 route creates a missing ledger, with the ledger's name as bucket.
    fresh = f"v1{ledger}"
    assert httpx.get(f"{url}/api/ledger/{fresh}/accounts/a").status_code == 200
    assert httpx.get(f"{url}/api/ledger/v2/{fresh}").json()["data"]["bucket"] == fresh
    assert error_of(httpx.get(f"{url}/api/ledger/bad.name/accounts/a")) == (400, "VALIDATION")


def test_lists_filters_and_aggregates(sandbox: SandboxServer) -> None:
    url = sandbox.url
    ledger = new_ledger(url)
    for index in range(5):
        transact(url, ledger, [("world", f"users:{index}", 10 * (index + 1), "USD")], metadata={"n": str(index)})
    httpx.post(f"{url}/api/ledger/v2/{ledger}/accounts/users:3/metadata", json={"tier": "gold"})
    ids: list[int] = []
    page = httpx.get(f"{url}/api/ledger/v2/{ledger}/transactions", params={"pageSize": 2}).json()["cursor"]
    while True:
        ids.extend(t["id"] for t in page["data"])
        if not page["hasMore"]:
            break
        page = httpx.get(f"{url}/api/ledger/v2/{ledger}/transactions", params={"cursor": page["next"]}).json()["cursor"]
    assert ids == [5, 4, 3, 2, 1]
    matched = httpx.request(
        "GET", f"{url}/api/ledger/v2/{ledger}/transactions", json={"$match": {"metadata[n]": "2"}}
    ).json()["cursor"]["data"]
    assert [t["id"] for t in matched] == [3]
    by_account = httpx.get(
        f"{url}/api/ledger/v2/{ledger}/transactions",
        params={"query": '{"$match": {"account": "users:4"}}', "expand": "volumes"},
    ).json()["cursor"]["data"]
    assert [t["id"] for t in by_account] == [5] and "postCommitVolumes" in by_account[0]
    accounts = httpx.get(f"{url}/api/ledger/v2/{ledger}/accounts", params={"pageSize": 3}).json()["cursor"]
    assert [a["address"] for a in accounts["data"]] == ["users:0", "users:1", "users:2"] and accounts["hasMore"]
    rest = httpx.get(f"{url}/api/ledger/v2/{ledger}/accounts", params={"cursor": accounts["next"]}).json()["cursor"]
    assert [a["address"] for a in rest["data"]] == ["users:3", "users:4", "world"] and not rest["hasMore"]
    gold = httpx.request(
        "GET", f"{url}/api/ledger/v2/{ledger}/accounts", json={"$match": {"metadata[tier]": "gold"}}
    ).json()["cursor"]["data"]
    assert [a["address"] for a in gold] == ["users:3"]
    rich = httpx.request(
        "GET",
        f"{url}/api/ledger/v2/{ledger}/accounts",
        params={"expand": "volumes"},
        json={"$and": [{"$match": {"address": "users:"}}, {"$gte": {"balance[USD]": 30}}]},
    ).json()["cursor"]["data"]
    assert [a["address"] for a in rich] == ["users:2", "users:3", "users:4"]
    assert rich[0]["volumes"]["USD"]["balance"] == 30
    total = httpx.request(
        "GET", f"{url}/api/ledger/v2/{ledger}/aggregate/balances", json={"$match": {"address": "users:"}}
    ).json()["data"]
    assert total == {"USD": 150}
    assert httpx.get(f"{url}/api/ledger/v2/{ledger}/aggregate/balances").json()["data"] == {"USD": 0}
    bad = httpx.request("GET", f"{url}/api/ledger/v2/{ledger}/accounts", json={"$nope": {}})
    assert error_of(bad) == (400, "VALIDATION")


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "NO_POSTINGS"),
        ({"postings": []}, "NO_POSTINGS"),
        ({"postings": [{"source": "world", "destination": "a", "amount": 1, "asset": "usd"}]}, "VALIDATION"),
        ({"postings": [{"source": "world", "destination": "a b", "amount": 1, "asset": "USD"}]}, "VALIDATION"),
        ({"postings": [{"source": "w:", "destination": "a", "amount": 1, "asset": "USD"}]}, "VALIDATION"),
        ({"postings": [{"source": "world", "destination": "a", "amount": -1, "asset": "USD"}]}, "VALIDATION"),
        ({"postings": [{"source": "world", "destination": "a", "asset": "USD"}]}, "VALIDATION"),
        ({"postings": [{"source": "world", "destination": "a", "amount": 1, "asset": "USD"}], "metadata": {"a": 1}}, "VALIDATION"),
        ({"postings": [{"source": "world", "destination": "a", "amount": 1, "asset": "USD"}], "timestamp": "yesterday"}, "VALIDATION"),
        (
            {
                "postings": [{"source": "world", "destination": "a", "amount": 1, "asset": "USD"}],
                "script": {"plain": "send [USD 1] (\n source = @world\n destination = @a\n)"},
            },
            "VALIDATION",
        ),
        ({"script": {"plain": "send [USD 1] (\n source = @world\n destination = @a\n"}}, "COMPILATION_FAILED"),
        ({"script": {"plain": "vars {\n account $a\n}\nsend [USD 1] (\n source = @world\n destination = $a\n)"}}, "COMPILATION_FAILED"),
    ],
)
def test_invalid_transactions(sqlite_sandbox: SandboxServer, body: dict, code: str) -> None:
    ledger = "main"
    response = httpx.post(f"{sqlite_sandbox.url}/api/ledger/v2/{ledger}/transactions", json=body)
    assert error_of(response) == (400, code), response.text


def test_timestamps_and_dry_run(sqlite_sandbox: SandboxServer) -> None:
    url = sqlite_sandbox.url
    ledger = new_ledger(url)
    dated = transact(url, ledger, [("world", "a", 1, "USD")], timestamp="2024-02-29T23:59:59.123456+02:00")["data"]
    assert dated["timestamp"] == "2024-02-29T21:59:59.123456Z"
    assert dated["insertedAt"] != dated["timestamp"]
    account = httpx.get(f"{url}/api/ledger/v2/{ledger}/accounts/a").json()["data"]
    assert account["firstUsage"] == "2024-02-29T21:59:59.123456Z"
    dry = httpx.post(
        f"{url}/api/ledger/v2/{ledger}/transactions?dryRun=true",
        json={"postings": [{"source": "world", "destination": "a", "amount": 5, "asset": "USD"}]},
    )
    assert dry.status_code == 200 and dry.json()["data"]["id"] == 2
    assert balances(url, ledger, "a") == {"USD": 1}
    assert transact(url, ledger, [("world", "a", 1, "USD")])["data"]["id"] == 2
