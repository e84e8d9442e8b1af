"""Crash safety of `send`: the worker dies (SIGKILL) while a stack call has committed but not yet
answered; once it is back, the activity is retried with the same Idempotency-Key (or, for a
transfer initiation, the same reference) and the money moves exactly once.

The stack is the session's `remote` stack process, which survives; the worker is a `flows serve
--stack-url …` of this test only, killed and restarted on its data dir. Sandbox holds park each
request after it committed. Activities heartbeat every 2 s with a 10 s heartbeat timeout, so
Temporal retries the lost attempts about 10 s after the kill.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from money_support import (
    ASSET,
    WALLETS_LEDGER,
    Flows,
    Stack,
    posting,
    remote_worker_flags,
    send,
    unique,
)

from tests.support.polling import eventually
from tests.support.service import FlowsProcess

# Heartbeat timeout, retry backoff, restart of `flows serve` and its embedded Temporal.
RECOVERY_TIMEOUT_S = 60


def test_a_worker_killed_while_its_writes_are_in_flight_moves_money_once(
    tmp_path: Path, remote_stack_service: FlowsProcess, remote_stack: Stack
) -> None:
    stack = remote_stack
    worker = FlowsProcess(
        tmp_path / "data", *remote_worker_flags(remote_stack_service)
    ).start()
    flows = Flows("crash", worker.url, stack)
    holds: dict[str, str] = {}
    try:
        # A: a ledger transaction.
        ledger = stack.new_ledger()
        stack.fund(ledger, "users:alice", 1000)
        # B: a wallet credit.
        account = unique("users:")
        stack.fund(WALLETS_LEDGER, account, 1000)
        wallet = stack.create_wallet()
        # C: a transfer initiation (after its ledger debit).
        payout_ledger = stack.new_ledger()
        psp_account = stack.payment_account("INTERNAL")
        stack.fund(payout_ledger, "users:carol", 1000)
        stack.set_metadata(
            payout_ledger, "users:carol", {"formanceAccountID": psp_account}
        )

        holds |= {
            "transaction": stack.hold("POST", f"/api/ledger/v2/{ledger}/transactions"),
            "credit": stack.hold("POST", f"/api/wallets/wallets/{wallet['id']}/credit"),
            # Catches the next transfer initiation of the stack, this test's (count 1).
            "transfer": stack.hold("POST", "/api/payments/transfer-initiations"),
        }
        since = stack.mark()
        transaction = flows.start(
            [
                send(
                    {"account": {"id": "users:alice", "ledger": ledger}},
                    {"account": {"id": "users:bob", "ledger": ledger}},
                    300,
                    metadata={"reason": "crash"},
                )
            ]
        )
        credit = flows.start(
            [
                send(
                    {"account": {"id": account, "ledger": WALLETS_LEDGER}},
                    {"wallet": {"id": wallet["id"]}},
                    250,
                )
            ]
        )
        transfer = flows.start(
            [
                send(
                    {"account": {"id": "users:carol", "ledger": payout_ledger}},
                    {"payment": {"psp": "stripe"}},
                    400,
                )
            ]
        )
        eventually(
            lambda: all(stack.held(hold_id) == 1 for hold_id in holds.values()),
            timeout=20,
        )

        # Committed, not yet answered: the money has moved, the worker has not heard of it.
        assert stack.balance(ledger, "users:bob") == 300
        assert stack.wallet_balance(wallet["id"]) == 250
        assert len(stack.transfers(f"{transfer}-0-2")) == 1

        worker.kill()
        for hold_id in holds.values():
            stack.release(hold_id)
        worker.start()

        for instance_id in (transaction, credit, transfer):
            done = flows.ended(instance_id, timeout=RECOVERY_TIMEOUT_S)
            assert "error" not in done, (done, flows.stage_history(instance_id, 0))

        # A: one transaction besides the funding one; both attempts carried the same key.
        _funding, moved = stack.transactions(ledger)
        assert moved["postings"] == [posting("users:alice", "users:bob", 300)]
        assert moved["metadata"] == {"reason": "crash"}
        assert stack.balances(ledger, "users:alice", "users:bob") == {
            "users:alice": 700,
            "users:bob": 300,
        }
        body = {
            "metadata": {"reason": "crash"},
            "postings": [posting("users:alice", "users:bob", 300)],
        }
        assert _attempts(stack, since, transaction) == [
            (
                "POST",
                f"/api/ledger/v2/{ledger}/transactions",
                f"{transaction}-0-0",
                body,
                200,
            ),
            (
                "POST",
                f"/api/ledger/v2/{ledger}/transactions",
                f"{transaction}-0-0",
                body,
                200,
            ),
        ]
        [created] = flows.stage_history(transaction, 0)
        assert created["name"] == "CreateTransaction" and created["terminated"] is True
        assert created["attempt"] >= 2 and "error" not in created
        [moved_output] = created["output"]["CreateTransaction"]["data"]
        assert moved_output["id"] == moved["id"]

        # B: the wallet is credited once.
        assert stack.wallet_balance(wallet["id"]) == 250
        assert stack.balance(WALLETS_LEDGER, account) == 750
        credit_body = {
            "amount": {"amount": 250, "asset": ASSET},
            "balance": "main",
            "metadata": {},
            "sources": [{"type": "ACCOUNT", "identifier": account}],
        }
        credit_path = f"/api/wallets/wallets/{wallet['id']}/credit"
        assert _attempts(stack, since, credit, writes_only=True) == [
            ("POST", credit_path, f"{credit}-0-1", credit_body, 204),
            ("POST", credit_path, f"{credit}-0-1", credit_body, 204),
        ]

        # C: one transfer initiation; its retry was refused as a duplicate and that is success.
        reference = f"{transfer}-0-2"
        assert len(stack.transfers(reference)) == 1
        assert stack.balance(payout_ledger, "users:carol") == 600
        retried = [
            r
            for r in _attempts(stack, since, transfer, writes_only=True)
            if r[1] == "/api/payments/transfer-initiations"
        ]
        assert [(r[3]["reference"], r[4]) for r in retried] == [
            (reference, 200),
            (reference, 400),
        ]
    finally:
        worker.stop()
        for hold_id in holds.values():
            # Retire the holds even when the test failed early (a released one is gone: 404).
            stack.http.delete(f"/api/sandbox/holds/{hold_id}")


def _attempts(
    stack: Stack, since: int, instance_id: str, writes_only: bool = False
) -> list[tuple[str, str, str | None, Any, int]]:
    found = stack.received(since, [instance_id])
    return [
        (r["method"], r["path"], r["idempotencyKey"], r["body"], r["status"])
        for r in found
        if not writes_only or r["method"] != "GET"
    ]
