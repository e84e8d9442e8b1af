"""The nine `send` combinations of docs/stages.md, run as workflows on a real `flows serve`, in
both setups of conftest.py (its own sandbox; another `flows serve`'s sandbox over OAuth2).

Each test asserts (a) the exact requests the stack received, from the sandbox's recording
(method, path, query, Idempotency-Key `<instance>-<stage>-<activity>` on writes, JSON body,
status), (b) the balances that result, read back from the ledger (v1 and v2) and from Wallets,
and (c) that the instance terminated without error.

Activity ids count every call of the stage, reads included, so the key of a write tells its
position in the stage too. Wallet → wallet across ledgers is not covered: Wallets (and the
sandbox) keeps every wallet on one ledger, `wallets-002`.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from money_support import (
    ASSET,
    INTERNAL_LEDGER,
    WALLETS_LEDGER,
    Flows,
    Stack,
    holding_account,
    overdraft_script,
    posting,
    read,
    send,
    unique,
    write,
)

from tests.support.polling import eventually
from tests.support.service import FlowsProcess

MOVE_TO = "orchestration/move-to-ledger"
MOVE_FROM = "orchestration/move-from-ledger"


def transactions_path(ledger: str) -> str:
    return f"/api/ledger/v2/{ledger}/transactions"


def wallet_path(wallet_id: str, action: str = "") -> str:
    return f"/api/wallets/wallets/{wallet_id}" + (f"/{action}" if action else "")


def key(instance_id: str, activity: int) -> str:
    return f"{instance_id}-0-{activity}"


# -- account → account ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"throughAccount": "hub", "allowOverdraft": True}],
    ids=["plain", "through-and-overdraft-ignored"],
)
def test_account_to_account_same_ledger(money: Flows, options: dict[str, Any]) -> None:
    stack = money.stack
    ledger = stack.new_ledger()
    stack.fund(ledger, "users:alice", 1000)
    since = stack.mark()
    source = {"account": {"id": "users:alice", "ledger": ledger, **options}}
    destination = {"account": {"id": "users:bob", "ledger": ledger, **options}}
    instance_id = money.succeeded(
        [send(source, destination, 300, metadata={"reason": "rent"})]
    )

    assert stack.received(since, [instance_id, ledger]) == [
        write(
            transactions_path(ledger),
            key(instance_id, 0),
            {
                "metadata": {"reason": "rent"},
                "postings": [posting("users:alice", "users:bob", 300)],
            },
        )
    ]
    assert stack.balances(ledger, "users:alice", "users:bob", "hub", "world") == {
        "users:alice": 700,
        "users:bob": 300,
        "hub": 0,
        "world": -1000,
    }


# Cross-ledger cases: the source leaves its ledger through `throughAccount`, the destination
# enters its own from its `throughAccount`; allowOverdraft turns a leg into the Numscript
# overdraft template (source: always; destination: only when its through is not `world`).
CROSS_LEDGER: dict[str, dict[str, Any]] = {
    "defaults": {
        "source": {},
        "destination": {},
        "funding": [("source", "users:alice", 1000)],
        "leave": ("postings", "world"),
        "enter": ("postings", "world"),
        "balances": {
            "source": {"users:alice": 700, "world": -700},
            "destination": {"users:bob": 300, "world": -300},
        },
    },
    "through-accounts": {
        "source": {"throughAccount": "bridge:out"},
        "destination": {"throughAccount": "bridge:in"},
        "funding": [("source", "users:alice", 1000), ("destination", "bridge:in", 500)],
        "leave": ("postings", "bridge:out"),
        "enter": ("postings", "bridge:in"),
        "balances": {
            "source": {"users:alice": 700, "bridge:out": 300},
            "destination": {"bridge:in": 200, "users:bob": 300},
        },
    },
    "overdraft-through-world": {
        "source": {"allowOverdraft": True},
        "destination": {"allowOverdraft": True},
        "funding": [],
        "leave": ("script", "world"),
        "enter": ("postings", "world"),
        "balances": {
            "source": {"users:alice": -300, "world": 300},
            "destination": {"users:bob": 300, "world": -300},
        },
    },
    "overdraft-through-accounts": {
        "source": {"throughAccount": "bridge:out", "allowOverdraft": True},
        "destination": {"throughAccount": "bridge:in", "allowOverdraft": True},
        "funding": [],
        "leave": ("script", "bridge:out"),
        "enter": ("script", "bridge:in"),
        "balances": {
            "source": {"users:alice": -300, "bridge:out": 300},
            "destination": {"bridge:in": -300, "users:bob": 300},
        },
    },
}


@pytest.mark.parametrize("case", list(CROSS_LEDGER))
def test_account_to_account_cross_ledger(money: Flows, case: str) -> None:
    spec = CROSS_LEDGER[case]
    stack = money.stack
    ledgers = {"source": stack.new_ledger(), "destination": stack.new_ledger()}
    for side, account, amount in spec["funding"]:
        stack.fund(ledgers[side], account, amount)
    since = stack.mark()
    src, dst = ledgers["source"], ledgers["destination"]
    timestamp = "2024-05-06T07:08:09.5Z"
    instance_id = money.succeeded(
        [
            send(
                {"account": {"id": "users:alice", "ledger": src, **spec["source"]}},
                {"account": {"id": "users:bob", "ledger": dst, **spec["destination"]}},
                300,
                metadata={"order": "o-1"},
                timestamp=timestamp,
            )
        ]
    )

    def leg(
        kind: str, source: str, destination: str, metadata: dict[str, str]
    ) -> dict[str, Any]:
        body: dict[str, Any] = {
            "metadata": metadata,
            "timestamp": "2024-05-06T07:08:09.5Z",
        }
        if kind == "script":
            body["script"] = overdraft_script(source, destination, 300)
        else:
            body["postings"] = [posting(source, destination, 300)]
        return body

    leave_kind, through_out = spec["leave"]
    enter_kind, through_in = spec["enter"]
    assert stack.received(since, [instance_id, src, dst]) == [
        write(
            transactions_path(src),
            key(instance_id, 0),
            leg(leave_kind, "users:alice", through_out, {"order": "o-1", MOVE_TO: dst}),
        ),
        write(
            transactions_path(dst),
            key(instance_id, 1),
            leg(enter_kind, through_in, "users:bob", {"order": "o-1", MOVE_FROM: src}),
        ),
    ]
    for side, expected in spec["balances"].items():
        assert stack.balances(ledgers[side], *expected) == expected, side
    # The stage's timestamp dates both transactions.
    for ledger in (src, dst):
        assert stack.transactions(ledger)[-1]["timestamp"] == "2024-05-06T07:08:09.5Z"


# -- account → wallet -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [{}, {"throughAccount": "hub", "allowOverdraft": True}],
    ids=["plain", "through-and-overdraft-ignored"],
)
def test_account_to_wallet_on_the_wallets_ledger_credits_from_the_account(
    money: Flows, options: dict[str, Any]
) -> None:
    stack = money.stack
    account = unique("users:")
    stack.fund(WALLETS_LEDGER, account, 1000)
    wallet = stack.create_wallet()
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {"account": {"id": account, "ledger": WALLETS_LEDGER, **options}},
                {"wallet": {"id": wallet["id"]}},
                300,
                metadata={"reason": "top-up"},
            )
        ]
    )

    assert stack.received(since, [instance_id, wallet["id"], account]) == [
        read(wallet_path(wallet["id"])),
        write(
            wallet_path(wallet["id"], "credit"),
            key(instance_id, 1),
            {
                "amount": {"amount": 300, "asset": ASSET},
                "balance": "main",
                "metadata": {"reason": "top-up"},
                "sources": [{"type": "ACCOUNT", "identifier": account}],
            },
            status=204,
        ),
    ]
    assert stack.wallet_balance(wallet["id"]) == 300
    assert stack.balance(WALLETS_LEDGER, account) == 700


def test_account_to_wallet_by_name_into_a_named_balance(money: Flows) -> None:
    stack = money.stack
    account = unique("users:")
    stack.fund(WALLETS_LEDGER, account, 1000)
    wallet = stack.create_wallet()
    stack.create_balance(wallet["id"], "savings")
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {"account": {"id": account, "ledger": WALLETS_LEDGER}},
                {"wallet": {"name": wallet["name"], "balance": "savings"}},
                250,
            )
        ]
    )

    assert stack.received(
        since, [instance_id, wallet["name"], wallet["id"], account]
    ) == [
        read("/api/wallets/wallets", query=f"name={wallet['name']}"),
        write(
            wallet_path(wallet["id"], "credit"),
            key(instance_id, 1),
            {
                "amount": {"amount": 250, "asset": ASSET},
                "balance": "savings",
                "metadata": {},
                "sources": [{"type": "ACCOUNT", "identifier": account}],
            },
            status=204,
        ),
    ]
    assert stack.wallet_balance(wallet["id"], "savings") == 250
    assert stack.wallet_balance(wallet["id"]) == 0
    assert stack.balance(WALLETS_LEDGER, account) == 750


@pytest.mark.parametrize(
    "overdraft", [False, True], ids=["through-world", "through-account-with-overdraft"]
)
def test_account_to_wallet_cross_ledger(money: Flows, overdraft: bool) -> None:
    stack = money.stack
    ledger = stack.new_ledger()
    wallet = stack.create_wallet()
    options: dict[str, Any] = {}
    through = "world"
    if overdraft:
        # The through account is the destination on the source ledger, and the credit's source
        # on the wallets ledger, where it must hold the money.
        through = unique("bridge:")
        options = {"throughAccount": through, "allowOverdraft": True}
        stack.fund(WALLETS_LEDGER, through, 500)
    else:
        stack.fund(ledger, "users:alice", 1000)
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {"account": {"id": "users:alice", "ledger": ledger, **options}},
                {"wallet": {"id": wallet["id"]}},
                300,
                metadata={"reason": "top-up"},
            )
        ]
    )

    leave: dict[str, Any] = {"metadata": {"reason": "top-up", MOVE_TO: WALLETS_LEDGER}}
    if overdraft:
        leave["script"] = overdraft_script("users:alice", through, 300)
    else:
        leave["postings"] = [posting("users:alice", "world", 300)]
    assert stack.received(since, [instance_id, wallet["id"], ledger]) == [
        read(wallet_path(wallet["id"])),
        write(transactions_path(ledger), key(instance_id, 1), leave),
        write(
            wallet_path(wallet["id"], "credit"),
            key(instance_id, 2),
            {
                "amount": {"amount": 300, "asset": ASSET},
                "balance": "main",
                "metadata": {"reason": "top-up", MOVE_FROM: ledger},
                "sources": [{"type": "ACCOUNT", "identifier": through}],
            },
            status=204,
        ),
    ]
    assert stack.wallet_balance(wallet["id"]) == 300
    if overdraft:
        assert stack.balances(ledger, "users:alice", through) == {
            "users:alice": -300,
            through: 300,
        }
        assert stack.balance(WALLETS_LEDGER, through) == 200
    else:
        assert stack.balances(ledger, "users:alice", "world") == {
            "users:alice": 700,
            "world": -700,
        }


# -- account → payment ------------------------------------------------------------------------


def test_account_to_payment_transfer(money: Flows) -> None:
    stack = money.stack
    ledger = stack.new_ledger()
    psp_account = stack.payment_account("INTERNAL")
    stack.fund(ledger, "users:alice", 1000)
    stack.set_metadata(ledger, "users:alice", {"formanceAccountID": psp_account})
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {"account": {"id": "users:alice", "ledger": ledger}},
                {"payment": {"psp": "stripe"}},
                300,
                metadata={"reason": "withdrawal"},
            )
        ]
    )

    reference = key(instance_id, 2)
    assert stack.received(since, [instance_id, ledger]) == [
        read(f"/api/ledger/{ledger}/accounts/users:alice"),
        write(
            transactions_path(ledger),
            key(instance_id, 1),
            {
                "metadata": {"reason": "withdrawal"},
                "postings": [posting("users:alice", "world", 300)],
            },
        ),
        # Payments v1 takes no Idempotency-Key: the reference (the activity's key) is unique.
        write(
            "/api/payments/transfer-initiations",
            None,
            {
                "reference": reference,
                "scheduledAt": "0001-01-01T00:00:00Z",
                "description": "stripe TRANSFER",
                "sourceAccountID": "",
                "destinationAccountID": psp_account,
                "provider": "STRIPE",
                "type": "TRANSFER",
                "amount": 300,
                "asset": ASSET,
                "validated": True,
                "metadata": {"reason": "withdrawal"},
            },
        ),
    ]
    [transfer] = stack.transfers(reference)
    assert transfer["status"] == "VALIDATED" and transfer["provider"] == "STRIPE"
    assert transfer["destinationAccountID"] == psp_account and transfer["amount"] == 300
    assert stack.balances(ledger, "users:alice", "world") == {
        "users:alice": 700,
        "world": -700,
    }


def test_account_to_payment_payout_with_every_option(money: Flows) -> None:
    stack = money.stack
    ledger = stack.new_ledger()
    external, internal = (
        stack.payment_account("EXTERNAL"),
        stack.payment_account("INTERNAL"),
    )
    connector = stack.connector("STRIPE")
    stack.set_metadata(ledger, "users:alice", {"bankAccount": external})
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {
                    "account": {
                        "id": "users:alice",
                        "ledger": ledger,
                        "throughAccount": "payouts",
                        "allowOverdraft": True,
                    }
                },
                {
                    "payment": {
                        "psp": "stripe",
                        "type": "payout",
                        "sourceAccount": internal,
                        "metadata": "bankAccount",
                        "waitingValidation": True,
                        "connectorId": connector,
                    }
                },
                300,
            )
        ]
    )

    reference = key(instance_id, 2)
    assert stack.received(since, [instance_id, ledger]) == [
        read(f"/api/ledger/{ledger}/accounts/users:alice"),
        write(
            transactions_path(ledger),
            key(instance_id, 1),
            {"metadata": {}, "script": overdraft_script("users:alice", "payouts", 300)},
        ),
        write(
            "/api/payments/transfer-initiations",
            None,
            {
                "reference": reference,
                "scheduledAt": "0001-01-01T00:00:00Z",
                "description": "stripe PAYOUT",
                "sourceAccountID": internal,
                "destinationAccountID": external,
                "connectorID": connector,
                "provider": "STRIPE",
                "type": "PAYOUT",
                "amount": 300,
                "asset": ASSET,
                "validated": False,
            },
        ),
    ]
    [transfer] = stack.transfers(reference)
    assert (
        transfer["status"] == "WAITING_FOR_VALIDATION" and transfer["type"] == "PAYOUT"
    )
    assert (
        transfer["sourceAccountID"] == internal and transfer["connectorID"] == connector
    )
    assert stack.balances(ledger, "users:alice", "payouts") == {
        "users:alice": -300,
        "payouts": 300,
    }


# -- wallet → account -------------------------------------------------------------------------


def test_wallet_to_account_on_the_wallets_ledger_debits_to_the_account(
    money: Flows,
) -> None:
    stack = money.stack
    wallet = stack.create_wallet()
    stack.credit_wallet(wallet["id"], 1000)
    account = unique("users:")
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {"wallet": {"name": wallet["name"]}},
                {"account": {"id": account, "ledger": WALLETS_LEDGER}},
                300,
            )
        ]
    )

    assert stack.received(
        since, [instance_id, wallet["name"], wallet["id"], account]
    ) == [
        read("/api/wallets/wallets", query=f"name={wallet['name']}"),
        write(
            wallet_path(wallet["id"], "debit"),
            key(instance_id, 1),
            # The reference sends null metadata here; Wallets and the SDKs need an object.
            {
                "amount": {"amount": 300, "asset": ASSET},
                "balances": ["main"],
                "metadata": {},
                "destination": {"type": "ACCOUNT", "identifier": account},
            },
            status=204,
        ),
    ]
    assert stack.wallet_balance(wallet["id"]) == 700
    assert stack.balance(WALLETS_LEDGER, account) == 300


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"allowOverdraft": True},
        {"throughAccount": "bridge:in"},
        {"throughAccount": "bridge:in", "allowOverdraft": True},
    ],
    ids=[
        "defaults",
        "overdraft-through-world",
        "through-account",
        "overdraft-through-account",
    ],
)
def test_wallet_to_account_cross_ledger(money: Flows, options: dict[str, Any]) -> None:
    stack = money.stack
    ledger = stack.new_ledger()
    wallet = stack.create_wallet()
    stack.create_balance(wallet["id"], "savings")
    stack.credit_wallet(wallet["id"], 1000)
    stack.credit_wallet(wallet["id"], 500, balance="savings")
    through = options.get("throughAccount", "world")
    overdraft = options.get("allowOverdraft", False) and through != "world"
    if through != "world" and not overdraft:
        stack.fund(ledger, through, 400)
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {"wallet": {"id": wallet["id"], "balance": "savings"}},
                {"account": {"id": "users:bob", "ledger": ledger, **options}},
                300,
                metadata={"reason": "cash-out"},
            )
        ]
    )

    enter: dict[str, Any] = {
        "metadata": {"reason": "cash-out", MOVE_FROM: WALLETS_LEDGER}
    }
    if overdraft:
        enter["script"] = overdraft_script(through, "users:bob", 300)
    else:
        enter["postings"] = [posting(through, "users:bob", 300)]
    assert stack.received(since, [instance_id, wallet["id"], ledger]) == [
        read(wallet_path(wallet["id"])),
        # No destination: Wallets debits to `world` of its own ledger.
        write(
            wallet_path(wallet["id"], "debit"),
            key(instance_id, 1),
            {
                "amount": {"amount": 300, "asset": ASSET},
                "balances": ["savings"],
                "metadata": {"reason": "cash-out", MOVE_TO: ledger},
            },
            status=204,
        ),
        write(transactions_path(ledger), key(instance_id, 2), enter),
    ]
    assert stack.wallet_balance(wallet["id"], "savings") == 200
    assert stack.wallet_balance(wallet["id"]) == 1000
    expected_through = (
        {"world": -300} if through == "world" else {through: -300 if overdraft else 100}
    )
    assert stack.balances(ledger, "users:bob", through) == {
        "users:bob": 300,
        **expected_through,
    }


def test_wallet_debit_with_insufficient_funds_retries_until_the_wallet_is_credited(
    sqlite_service: FlowsProcess,
) -> None:
    # Retrying does not depend on the setup: the local one is enough.
    money = Flows("local", sqlite_service.url, Stack(sqlite_service.url))
    stack = money.stack
    wallet = stack.create_wallet()
    stack.credit_wallet(wallet["id"], 100)
    account = unique("users:")
    instance_id = money.start(
        [
            send(
                {"wallet": {"id": wallet["id"]}},
                {"account": {"id": account, "ledger": WALLETS_LEDGER}},
                300,
            )
        ]
    )

    def retrying() -> dict[str, Any] | None:
        debits = [
            a
            for a in money.stage_history(instance_id, 0, started=False)
            if a["name"] == "DebitWallet"
        ]
        return (
            debits[0]
            if debits and debits[0].get("lastFailure") and debits[0]["attempt"] >= 2
            else None
        )

    pending = eventually(retrying)
    assert pending["terminated"] is False and "nextExecution" in pending
    assert "insufficient fund" in pending["lastFailure"].lower()
    assert not money.instance(instance_id)["terminated"]
    assert stack.wallet_balance(wallet["id"]) == 100

    stack.credit_wallet(wallet["id"], 200)
    done = money.ended(instance_id, timeout=30)
    assert "error" not in done
    assert stack.wallet_balance(wallet["id"]) == 0
    assert stack.balance(WALLETS_LEDGER, account) == 300


# -- wallet → wallet --------------------------------------------------------------------------


def test_wallet_to_wallet_credits_from_the_source_wallets_main_balance(
    money: Flows,
) -> None:
    stack = money.stack
    source, destination = stack.create_wallet(), stack.create_wallet()
    stack.create_balance(source["id"], "savings")
    stack.credit_wallet(source["id"], 1000)
    stack.credit_wallet(source["id"], 100, balance="savings")
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                # As the reference does, the source `balance` is not used: `main` pays.
                {"wallet": {"id": source["id"], "balance": "savings"}},
                {"wallet": {"name": destination["name"]}},
                300,
                metadata={"reason": "gift"},
            )
        ]
    )

    assert stack.received(
        since, [instance_id, source["id"], destination["id"], destination["name"]]
    ) == [
        read(wallet_path(source["id"])),
        read("/api/wallets/wallets", query=f"name={destination['name']}"),
        write(
            wallet_path(destination["id"], "credit"),
            key(instance_id, 2),
            {
                "amount": {"amount": 300, "asset": ASSET},
                "balance": "main",
                "metadata": {"reason": "gift"},
                "sources": [
                    {"type": "WALLET", "identifier": source["id"], "balance": "main"}
                ],
            },
            status=204,
        ),
    ]
    assert stack.wallet_balance(source["id"]) == 700
    assert stack.wallet_balance(source["id"], "savings") == 100
    assert stack.wallet_balance(destination["id"]) == 300


def test_wallet_to_wallet_into_a_named_balance(money: Flows) -> None:
    stack = money.stack
    source, destination = stack.create_wallet(), stack.create_wallet()
    stack.create_balance(destination["id"], "savings")
    stack.credit_wallet(source["id"], 1000)
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {"wallet": {"name": source["name"]}},
                {"wallet": {"id": destination["id"], "balance": "savings"}},
                400,
            )
        ]
    )

    assert stack.received(
        since, [instance_id, source["id"], source["name"], destination["id"]]
    ) == [
        read("/api/wallets/wallets", query=f"name={source['name']}"),
        read(wallet_path(destination["id"])),
        write(
            wallet_path(destination["id"], "credit"),
            key(instance_id, 2),
            {
                "amount": {"amount": 400, "asset": ASSET},
                "balance": "savings",
                "metadata": {},
                "sources": [
                    {"type": "WALLET", "identifier": source["id"], "balance": "main"}
                ],
            },
            status=204,
        ),
    ]
    assert stack.wallet_balance(source["id"]) == 600
    assert stack.wallet_balance(destination["id"], "savings") == 400
    assert stack.wallet_balance(destination["id"]) == 0


# -- wallet → payment -------------------------------------------------------------------------


def test_wallet_to_payment_debits_then_initiates_the_transfer(money: Flows) -> None:
    stack = money.stack
    psp_account = stack.payment_account("INTERNAL")
    wallet = stack.create_wallet({"formanceAccountID": psp_account})
    stack.credit_wallet(wallet["id"], 1000)
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {"wallet": {"id": wallet["id"]}},
                {"payment": {"psp": "stripe"}},
                300,
                metadata={"reason": "payout"},
            )
        ]
    )

    reference = key(instance_id, 2)
    assert stack.received(since, [instance_id, wallet["id"]]) == [
        read(wallet_path(wallet["id"])),
        write(
            wallet_path(wallet["id"], "debit"),
            key(instance_id, 1),
            {
                "amount": {"amount": 300, "asset": ASSET},
                "balances": ["main"],
                "metadata": {"reason": "payout"},
            },
            status=204,
        ),
        write(
            "/api/payments/transfer-initiations",
            None,
            {
                "reference": reference,
                "scheduledAt": "0001-01-01T00:00:00Z",
                "description": "stripe TRANSFER",
                "sourceAccountID": "",
                "destinationAccountID": psp_account,
                "provider": "STRIPE",
                "type": "TRANSFER",
                "amount": 300,
                "asset": ASSET,
                "validated": True,
                "metadata": {"reason": "payout"},
            },
        ),
    ]
    [transfer] = stack.transfers(reference)
    assert (
        transfer["status"] == "VALIDATED"
        and transfer["destinationAccountID"] == psp_account
    )
    assert stack.wallet_balance(wallet["id"]) == 700


def test_wallet_to_payment_without_the_psp_account_metadata_fails_before_moving(
    money: Flows,
) -> None:
    stack = money.stack
    wallet = stack.create_wallet({"other": "x"})
    stack.credit_wallet(wallet["id"], 1000)
    since = stack.mark()
    instance_id = money.start(
        [send({"wallet": {"id": wallet["id"]}}, {"payment": {"psp": "stripe"}}, 300)]
    )
    failed = money.ended(instance_id)
    assert (
        failed["error"]
        == "expected 'formanceAccountID' metadata containing formance account ID"
    )
    assert stack.received(since, [instance_id, wallet["id"]]) == [
        read(wallet_path(wallet["id"]))
    ]
    assert stack.wallet_balance(wallet["id"]) == 1000


# -- payment → account ------------------------------------------------------------------------


def test_payment_to_account_with_defaults_ingests_on_the_internal_ledger(
    money: Flows,
) -> None:
    stack = money.stack
    payment_id = stack.payment(1000)
    holding = holding_account(payment_id)
    ledger = stack.new_ledger()
    since = stack.mark()
    # No amount: the payment's initial amount moves.
    instance_id = money.succeeded(
        [
            send(
                {"payment": {"id": payment_id}},
                {"account": {"id": "users:bob", "ledger": ledger}},
                metadata={"psp": "stripe"},
            )
        ]
    )

    assert stack.received(since, [instance_id, payment_id, holding, ledger]) == [
        read(f"/api/payments/payments/{payment_id}"),
        write(
            transactions_path(INTERNAL_LEDGER),
            key(instance_id, 1),
            {
                "metadata": {"psp": "stripe"},
                "postings": [posting("world", holding, 1000)],
                "reference": holding,
            },
        ),
        write(
            transactions_path(INTERNAL_LEDGER),
            key(instance_id, 2),
            {
                "metadata": {"psp": "stripe", MOVE_TO: ledger},
                "postings": [posting(holding, "world", 1000)],
            },
        ),
        write(
            transactions_path(ledger),
            key(instance_id, 3),
            {
                "metadata": {"psp": "stripe", MOVE_FROM: INTERNAL_LEDGER},
                "postings": [posting("world", "users:bob", 1000)],
            },
        ),
    ]
    assert stack.balance(INTERNAL_LEDGER, holding) == 0
    assert stack.balances(ledger, "users:bob", "world") == {
        "users:bob": 1000,
        "world": -1000,
    }


def test_payment_to_account_on_its_ledger_ingests_once_across_instances(
    money: Flows,
) -> None:
    stack = money.stack
    payment_id = stack.payment(1000)
    holding = holding_account(payment_id)
    ledger = stack.new_ledger()
    stage = send(
        {"payment": {"id": payment_id, "ledger": ledger}},
        {"account": {"id": "users:bob", "ledger": ledger}},
        400,
    )
    ingestion = {
        "metadata": {},
        "postings": [posting("world", holding, 1000)],
        "reference": holding,
    }
    move = {"metadata": {}, "postings": [posting(holding, "users:bob", 400)]}

    since = stack.mark()
    first = money.succeeded([stage])
    assert stack.received(since, [first, payment_id, ledger]) == [
        read(f"/api/payments/payments/{payment_id}"),
        write(transactions_path(ledger), key(first, 1), ingestion),
        write(transactions_path(ledger), key(first, 2), move),
    ]
    since = stack.mark()
    # The payment is already ingested: the ledger answers CONFLICT (same reference), which the
    # stage ignores, and moves the amount again from the holding account.
    second = money.succeeded([stage])
    assert stack.received(since, [second, payment_id, ledger]) == [
        read(f"/api/payments/payments/{payment_id}"),
        write(transactions_path(ledger), key(second, 1), ingestion, status=409),
        write(transactions_path(ledger), key(second, 2), move),
    ]
    assert stack.balances(ledger, holding, "users:bob", "world") == {
        holding: 200,
        "users:bob": 800,
        "world": -1000,
    }
    assert len(stack.transactions(ledger)) == 3


def test_payment_to_account_through_an_overdraft_account_into_a_custom_holding_account(
    money: Flows,
) -> None:
    stack = money.stack
    payment_id = stack.payment(1000)
    psp_ledger, ledger = stack.new_ledger(), stack.new_ledger()
    source = {
        "payment": {
            "id": payment_id,
            "ledger": psp_ledger,
            "holdingAccount": "psp:holding",
            "throughAccount": "psp:stripe",
            "allowOverdraft": True,
        }
    }
    since = stack.mark()
    instance_id = money.succeeded(
        [send(source, {"account": {"id": "users:bob", "ledger": ledger}}, 300)]
    )

    assert stack.received(since, [instance_id, payment_id, psp_ledger, ledger]) == [
        read(f"/api/payments/payments/{payment_id}"),
        write(
            transactions_path(psp_ledger),
            key(instance_id, 1),
            {
                "metadata": {},
                "script": overdraft_script("psp:stripe", "psp:holding", 1000),
                "reference": "psp:holding",
            },
        ),
        # After ingestion the holding account is the source, through `world`, no overdraft.
        write(
            transactions_path(psp_ledger),
            key(instance_id, 2),
            {
                "metadata": {MOVE_TO: ledger},
                "postings": [posting("psp:holding", "world", 300)],
            },
        ),
        write(
            transactions_path(ledger),
            key(instance_id, 3),
            {
                "metadata": {MOVE_FROM: psp_ledger},
                "postings": [posting("world", "users:bob", 300)],
            },
        ),
    ]
    assert stack.balances(psp_ledger, "psp:stripe", "psp:holding") == {
        "psp:stripe": -1000,
        "psp:holding": 700,
    }
    assert stack.balance(ledger, "users:bob") == 300


# -- payment → wallet -------------------------------------------------------------------------


def test_payment_to_wallet_with_defaults(money: Flows) -> None:
    stack = money.stack
    payment_id = stack.payment(1000)
    holding = holding_account(payment_id)
    wallet = stack.create_wallet()
    since = stack.mark()
    instance_id = money.succeeded(
        [send({"payment": {"id": payment_id}}, {"wallet": {"id": wallet["id"]}})]
    )

    assert stack.received(since, [instance_id, payment_id, holding, wallet["id"]]) == [
        read(f"/api/payments/payments/{payment_id}"),
        write(
            transactions_path(INTERNAL_LEDGER),
            key(instance_id, 1),
            {
                "metadata": {},
                "postings": [posting("world", holding, 1000)],
                "reference": holding,
            },
        ),
        read(wallet_path(wallet["id"])),
        write(
            transactions_path(INTERNAL_LEDGER),
            key(instance_id, 3),
            {
                "metadata": {MOVE_TO: WALLETS_LEDGER},
                "postings": [posting(holding, "world", 1000)],
            },
        ),
        write(
            wallet_path(wallet["id"], "credit"),
            key(instance_id, 4),
            {
                "amount": {"amount": 1000, "asset": ASSET},
                "balance": "main",
                "metadata": {MOVE_FROM: INTERNAL_LEDGER},
                "sources": [{"type": "ACCOUNT", "identifier": "world"}],
            },
            status=204,
        ),
    ]
    assert stack.balance(INTERNAL_LEDGER, holding) == 0
    assert stack.wallet_balance(wallet["id"]) == 1000


def test_payment_to_wallet_ingested_on_the_wallets_ledger(money: Flows) -> None:
    stack = money.stack
    payment_id = stack.payment(1000)
    holding = holding_account(payment_id)
    wallet = stack.create_wallet()
    since = stack.mark()
    instance_id = money.succeeded(
        [
            send(
                {"payment": {"id": payment_id, "ledger": WALLETS_LEDGER}},
                {"wallet": {"name": wallet["name"]}},
                600,
                metadata={"reason": "pay-in"},
            )
        ]
    )

    assert stack.received(
        since, [instance_id, payment_id, holding, wallet["id"], wallet["name"]]
    ) == [
        read(f"/api/payments/payments/{payment_id}"),
        write(
            transactions_path(WALLETS_LEDGER),
            key(instance_id, 1),
            {
                "metadata": {"reason": "pay-in"},
                "postings": [posting("world", holding, 1000)],
                "reference": holding,
            },
        ),
        read("/api/wallets/wallets", query=f"name={wallet['name']}"),
        write(
            wallet_path(wallet["id"], "credit"),
            key(instance_id, 3),
            {
                "amount": {"amount": 600, "asset": ASSET},
                "balance": "main",
                "metadata": {"reason": "pay-in"},
                "sources": [{"type": "ACCOUNT", "identifier": holding}],
            },
            status=204,
        ),
    ]
    assert stack.balance(WALLETS_LEDGER, holding) == 400
    assert stack.wallet_balance(wallet["id"]) == 600


# -- payment → payment ------------------------------------------------------------------------


def test_payment_to_payment_is_rejected(money: Flows) -> None:
    stack = money.stack
    payment_id = stack.payment(1000)
    since = stack.mark()
    created = money.create_workflow(
        [send({"payment": {"id": payment_id}}, {"payment": {"psp": "stripe"}}, 100)]
    )
    assert created.status_code == 400, created.text
    error = created.json()
    assert error["errorCode"] == "VALIDATION"
    assert "from a payment to a payment is not supported" in error["errorMessage"]
    assert stack.received(since, [payment_id]) == []


def test_the_remote_stack_serves_only_the_workers_credentials(
    remote_stack_service: FlowsProcess,
) -> None:
    # What the `remote` setup proves: its worker reached the stack with OAuth2 client credentials.
    url = remote_stack_service.url
    for path in (
        "/api/ledger/v2/default/transactions",
        "/api/wallets/wallets",
        "/api/payments/payments",
    ):
        assert httpx.get(f"{url}{path}", timeout=10).status_code == 401, path
    wrong = httpx.post(
        f"{url}/api/auth/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "stack",
            "client_secret": "wrong",
        },
        timeout=10,
    )
    assert wrong.status_code == 401
