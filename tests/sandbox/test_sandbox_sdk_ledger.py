"""formance-sdk-python 9.x parses every ledger answer of the sandbox (real HTTP, SQLite)."""

from __future__ import annotations

import uuid

import pytest
from formance_sdk_python import SDK
from formance_sdk_python.models.ledger import ErrorsV2ErrorResponse
from sandbox_support import SandboxServer

OVERDRAFT = "send [USD/2 25] (\n  source = @users:1 allowing unbounded overdraft\n  destination = @users:2\n)"


@pytest.fixture(scope="module")
def sdk(sqlite_sandbox: SandboxServer) -> SDK:
    return sqlite_sandbox.sdk


def test_ledger_v2_calls_parse(sdk: SDK) -> None:
    v2 = sdk.ledger.v2
    name = f"sdk{uuid.uuid4().hex[:10]}"
    v2.create_ledger(request={"ledger": name, "v2_create_ledger_request": {"metadata": {"team": "a"}}})
    ledger = v2.get_ledger(request={"ledger": name}).v2_get_ledger_response.data
    assert ledger.name == name and ledger.metadata == {"team": "a"} and ledger.bucket == "_default"
    listed = v2.list_ledgers(request={"page_size": 100, "request_body": {}}).v2_ledger_list_response.cursor
    assert name in [item.name for item in listed.data]

    created = v2.create_transaction(
        request={
            "ledger": name,
            "idempotency_key": "sdk-1",
            "v2_post_transaction": {
                "postings": [{"source": "world", "destination": "users:1", "amount": 100, "asset": "USD/2"}],
                "metadata": {"k": "v"},
                "reference": "ref-1",
            },
        }
    ).v2_create_transaction_response.data
    assert created.id == 1 and created.reference == "ref-1" and created.reverted is False
    assert created.post_commit_volumes is not None
    assert created.post_commit_volumes["users:1"]["USD/2"].balance == 100
    replay = v2.create_transaction(
        request={
            "ledger": name,
            "idempotency_key": "sdk-1",
            "v2_post_transaction": {
                "postings": [{"source": "world", "destination": "users:1", "amount": 100, "asset": "USD/2"}],
                "metadata": {"k": "v"},
                "reference": "ref-1",
            },
        }
    )
    assert replay.v2_create_transaction_response.data.id == 1
    scripted = v2.create_transaction(
        request={"ledger": name, "v2_post_transaction": {"script": {"plain": OVERDRAFT, "vars": {}}, "metadata": {}}}
    ).v2_create_transaction_response.data
    assert scripted.postings[0].source == "users:1" and scripted.postings[0].amount == 25

    fetched = v2.get_transaction(request={"ledger": name, "id": 1, "expand": "volumes"}).v2_get_transaction_response.data
    assert fetched.metadata == {"k": "v"} and fetched.pre_commit_volumes is not None
    transactions = v2.list_transactions(request={"ledger": name, "page_size": 1, "request_body": {}}).v2_transactions_cursor_response.cursor
    assert transactions.has_more and transactions.next and [t.id for t in transactions.data] == [2]
    following = v2.list_transactions(request={"ledger": name, "cursor": transactions.next, "request_body": {}})
    assert [t.id for t in following.v2_transactions_cursor_response.cursor.data] == [1]

    reverted = v2.revert_transaction(
        request={"ledger": name, "id": 2, "v2_revert_transaction_request": {"metadata": {"why": "sdk"}}, "idempotency_key": "rv"}
    ).v2_create_transaction_response.data
    assert reverted.postings[0].source == "users:2" and reverted.metadata["why"] == "sdk"

    v2.add_metadata_to_account(
        request={"ledger": name, "address": "users:1", "request_body": {"tier": "gold"}, "idempotency_key": "md"}
    )
    account = v2.get_account(request={"ledger": name, "address": "users:1", "expand": "volumes"}).v2_account_response.data
    assert account.metadata == {"tier": "gold"} and account.volumes is not None
    assert account.volumes["USD/2"].balance == 100
    accounts = v2.list_accounts(
        request={"ledger": name, "request_body": {"$match": {"metadata[tier]": "gold"}}}
    ).v2_accounts_cursor_response.cursor
    assert [a.address for a in accounts.data] == ["users:1"]
    aggregated = v2.get_balances_aggregated(
        request={"ledger": name, "request_body": {"$match": {"address": "users:"}}}
    ).v2_aggregate_balances_response.data
    assert aggregated == {"USD/2": 100}

    v1 = sdk.ledger.v1.get_account_ledger(request={"ledger": name, "address": "users:1"}).account_response.data
    assert v1.balances == {"USD/2": 100} and v1.volumes is not None and v1.metadata == {"tier": "gold"}
    unknown = sdk.ledger.v1.get_account_ledger(request={"ledger": name, "address": "nobody"}).account_response.data
    assert unknown.address == "nobody" and unknown.balances == {}


def test_ledger_v2_errors_parse(sdk: SDK) -> None:
    v2 = sdk.ledger.v2
    postings = [{"source": "poor", "destination": "b", "amount": 1, "asset": "USD"}]
    with pytest.raises(ErrorsV2ErrorResponse) as insufficient:
        v2.create_transaction(request={"ledger": "main", "v2_post_transaction": {"postings": postings, "metadata": {}}})
    assert insufficient.value.data.error_code == "INSUFFICIENT_FUND"
    with pytest.raises(ErrorsV2ErrorResponse) as missing:
        v2.get_transaction(request={"ledger": "main", "id": 10**9})
    assert missing.value.data.error_code == "NOT_FOUND"
    with pytest.raises(ErrorsV2ErrorResponse) as no_ledger:
        v2.create_transaction(request={"ledger": "nope", "v2_post_transaction": {"postings": postings, "metadata": {}}})
    assert no_ledger.value.data.error_code == "LEDGER_NOT_FOUND"
    reference = f"r{uuid.uuid4().hex}"
    funded = [{"source": "world", "destination": "b", "amount": 1, "asset": "USD"}]
    v2.create_transaction(request={"ledger": "main", "v2_post_transaction": {"postings": funded, "metadata": {}, "reference": reference}})
    with pytest.raises(ErrorsV2ErrorResponse) as conflict:
        v2.create_transaction(
            request={"ledger": "main", "v2_post_transaction": {"postings": funded, "metadata": {}, "reference": reference}}
        )
    assert conflict.value.data.error_code == "CONFLICT"
