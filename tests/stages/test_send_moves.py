"""`send` moving money (docs/stages.md, send): for each source → destination combination, the exact
stack calls a send stage makes, in order, with the exact requests.

Those requests are what stage history shows as each activity's input and what the activities send
to the stack, so they are asserted whole, never piecemeal. The stack double answers reads as the
Ledger (v1 GET account), Wallets and Payments do; writes succeed unless a test makes one fail with
a non-retryable remote error (retryable ones never reach the stage: the engine retries them).
"""

from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from formance_sdk_python.models.orchestration.v2workflowinstancehistorystage import (
    V2WorkflowInstanceHistoryStage,
)
from formance_sdk_python.models.orchestration.workflowinstancehistorystage import (
    WorkflowInstanceHistoryStage,
)
from stage_fakes import FakeStageContext

from flows.stages import StageFailure
from flows.stages.send import (
    Account,
    Destination,
    PaymentDestination,
    PaymentSource,
    Send,
    Source,
    Wallet,
)

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
INTERNAL = "orchestration-000-internal"
MOVE_TO = "orchestration/move-to-ledger"
MOVE_FROM = "orchestration/move-from-ledger"
USD = {"amount": 100, "asset": "USD/2"}
STRIPE_TRANSFER = PaymentDestination("stripe", "TRANSFER", "", "formanceAccountID", False, "")

Request = dict[str, Any]
Call = tuple[str, Request]


# --- the stack double ----------------------------------------------------------------------------


def wallet(id: str, name: str, ledger: str = "wallets-002", **metadata: str) -> dict[str, Any]:
    """A wallet as Wallets returns it."""
    return {
        "id": id,
        "name": name,
        "metadata": metadata,
        "createdAt": "2025-01-01T10:00:00.123456789Z",
        "ledger": ledger,
        "balances": {"main": {"expiresAt": None, "priority": 0, "assets": {}}},
    }


def payment(id: str, initial_amount: int = 100, asset: str = "USD/2") -> dict[str, Any]:
    """A PAY-IN as Payments v1 returns it; `amount` may have moved since."""
    return {
        "id": id,
        "reference": "py_123",
        "sourceAccountID": "",
        "destinationAccountID": "eyJDb25uZWN0b3JJRCI6ImEifQ",
        "type": "PAY-IN",
        "provider": "STRIPE",
        "connectorID": "eyJQcm92aWRlciI6InN0cmlwZSJ9",
        "status": "SUCCEEDED",
        "amount": initial_amount - 1,
        "initialAmount": initial_amount,
        "scheme": "visa",
        "asset": asset,
        "createdAt": "2025-01-01T10:00:00Z",
        "raw": None,
        "adjustments": [
            {
                "reference": "py_123",
                "createdAt": "2025-01-01T10:00:00Z",
                "status": "SUCCEEDED",
                "amount": initial_amount,
                "raw": {},
            }
        ],
        "metadata": {},
    }


ALICE = wallet("4f9a1c2e-8d7b-4e1a-9c3f-2b6d5e8a7c10", "alice", formanceAccountID="acct_alice")
BOB = wallet("0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f", "bob")
CAROL = wallet("9e8d7c6b-5a49-4838-a726-150f4e3d2c1b", "carol", ledger="default")


class Stack:
    """Answers a send stage's stack calls with realistic bodies; can fail the n-th call of an
    activity with a remote error, as the engine raises a non-retryable one."""

    def __init__(
        self,
        *,
        wallets: tuple[dict[str, Any], ...] = (ALICE, BOB, CAROL),
        payments: tuple[dict[str, Any], ...] = (),
        accounts: dict[tuple[str, str], dict[str, Any]] | None = None,
    ) -> None:
        self.wallets = list(wallets)
        self.payments = {found["id"]: found for found in payments}
        self.accounts = accounts or {}
        """(ledger, address) → metadata."""
        self.failures: dict[tuple[str, int], StageFailure] = {}
        self.counts: Counter[str] = Counter()
        self.answers = {
            "GetAccount": self._get_account,
            "GetWallet": self._get_wallet,
            "ListWallets": self._list_wallets,
            "GetPayment": self._get_payment,
            "CreateTransaction": self._create_transaction,
            "CreditWallet": lambda request: None,
            "DebitWallet": lambda request: None,
            "CreateTransferInitiation": lambda request: None,
        }

    def fail(
        self, activity: str, message: str, code: str | None = None, *, call: int = 1
    ) -> "Stack":
        self.failures[(activity, call)] = StageFailure(message, code)
        return self

    def __call__(self, activity: str, request: Request) -> Any:
        self.counts[activity] += 1
        failure = self.failures.get((activity, self.counts[activity]))
        if failure is not None:
            raise failure
        return self.answers[activity](request)

    def _get_account(self, request: Request) -> Any:
        # Ledger v1 answers 200 for any address: an account never used has no metadata.
        metadata = self.accounts.get((request["ledger"], request["id"]), {})
        return {
            "data": {
                "address": request["id"],
                "metadata": metadata,
                "volumes": {"USD/2": {"input": 1000, "output": 0, "balance": 1000}},
                "balances": {"USD/2": 1000},
            }
        }

    def _get_wallet(self, request: Request) -> Any:
        for found in self.wallets:
            if found["id"] == request["id"]:
                return {"data": found}
        # Wallets answers an unknown id with an empty 404, which is retried: never the stage's.
        raise AssertionError(f"the stage asked for an unknown wallet: {request}")

    def _list_wallets(self, request: Request) -> Any:
        named = [found for found in self.wallets if found["name"] == request["name"]]
        # Lists carry no balances without `expand=balances`, which ListWallets never asks for.
        listed = [{key: found[key] for key in found if key != "balances"} for found in named]
        return {"cursor": {"pageSize": 15, "hasMore": False, "data": listed}}

    def _get_payment(self, request: Request) -> Any:
        return {"data": self.payments[request["id"]]}

    def _create_transaction(self, request: Request) -> Any:
        data = request["Data"]
        return {
            "data": {
                "id": self.counts["CreateTransaction"] - 1,
                "postings": data.get("postings", []),
                "metadata": data.get("metadata", {}),
                "timestamp": data.get("timestamp", "2025-01-02T03:04:05Z"),
                "insertedAt": "2025-01-02T03:04:05Z",
                "reverted": False,
                **({"reference": data["reference"]} if "reference" in data else {}),
            }
        }


# --- helpers -------------------------------------------------------------------------------------


def send(**params: Any) -> Send:
    return Send.resolve(params, {})


async def run(stage: Send, stack: Stack | None = None) -> list[Call]:
    ctx = FakeStageContext(NOW, stack=stack or Stack())
    await stage.run(ctx)
    return ctx.calls


async def failure(stage: Send, stack: Stack | None = None) -> tuple[str, list[Call]]:
    ctx = FakeStageContext(NOW, stack=stack or Stack())
    with pytest.raises(StageFailure) as caught:
        await stage.run(ctx)
    return str(caught.value), ctx.calls


def transaction(
    ledger: str,
    source: str,
    destination: str,
    metadata: dict[str, str] | None = None,
    *,
    amount: int = 100,
    asset: str = "USD/2",
    **extra: Any,
) -> Call:
    """CreateTransaction with one posting (the reference's "TX")."""
    posting = {"source": source, "destination": destination, "amount": amount, "asset": asset}
    data = {"metadata": metadata or {}, "postings": [posting], **extra}
    return ("CreateTransaction", {"Ledger": ledger, "Data": data})


def overdraft_transaction(
    ledger: str,
    source: str,
    destination: str,
    metadata: dict[str, str] | None = None,
    *,
    amount: int = 100,
    asset: str = "USD/2",
    **extra: Any,
) -> Call:
    """CreateTransaction as Numscript with unbounded overdraft on the source (the reference's
    "OD-TX"); the exact text is pinned by test_the_overdraft_numscript_is_exactly_the_template."""
    script = (
        f"send [{asset} {amount}] (\n"
        f"  source = @{source} allowing unbounded overdraft\n"
        f"  destination = @{destination}\n"
        ")"
    )
    data = {"metadata": metadata or {}, "script": {"plain": script}, **extra}
    return ("CreateTransaction", {"Ledger": ledger, "Data": data})


def account(identifier: str) -> dict[str, str]:
    return {"type": "ACCOUNT", "identifier": identifier}


def credit(
    target: dict[str, Any],
    sources: list[dict[str, str]],
    metadata: dict[str, str] | None = None,
    *,
    balance: str = "main",
    amount: dict[str, Any] = USD,
) -> Call:
    data = {"amount": amount, "balance": balance, "metadata": metadata or {}, "sources": sources}
    return ("CreditWallet", {"id": target["id"], "data": data})


def debit(
    source: dict[str, Any],
    metadata: dict[str, str] | None = None,
    *,
    balance: str = "main",
    destination: dict[str, str] | None = None,
    amount: dict[str, Any] = USD,
) -> Call:
    data: dict[str, Any] = {"amount": amount, "balances": [balance], "metadata": metadata or {}}
    if destination is not None:
        data["destination"] = destination
    return ("DebitWallet", {"id": source["id"], "data": data})


def get_wallet(found: dict[str, Any]) -> Call:
    return ("GetWallet", {"id": found["id"]})


# --- account → account ---------------------------------------------------------------------------


async def test_account_to_account_on_one_ledger_is_one_transaction_keeping_the_metadata() -> None:
    stage = send(
        source={"account": {"id": "foo"}},
        destination={"account": {"id": "bar"}},
        amount=USD,
        metadata={"foo": "bar"},
    )
    assert await run(stage) == [transaction("default", "foo", "bar", {"foo": "bar"})]


async def test_on_one_ledger_through_accounts_and_overdraft_are_ignored() -> None:
    stage = send(
        source={
            "account": {"id": "a", "ledger": "main", "throughAccount": "o", "allowOverdraft": True}
        },
        destination={
            "account": {"id": "b", "ledger": "main", "throughAccount": "i", "allowOverdraft": True}
        },
        amount=USD,
    )
    assert await run(stage) == [transaction("main", "a", "b")]


async def test_across_ledgers_the_money_leaves_to_world_and_enters_from_world() -> None:
    stage = send(
        source={"account": {"id": "account1", "ledger": "ledger1"}},
        destination={"account": {"id": "account2", "ledger": "ledger2"}},
        amount=USD,
    )
    assert await run(stage) == [
        transaction("ledger1", "account1", "world", {MOVE_TO: "ledger2"}),
        transaction("ledger2", "world", "account2", {MOVE_FROM: "ledger1"}),
    ]


async def test_across_ledgers_each_side_goes_through_its_through_account() -> None:
    stage = send(
        source={"account": {"id": "a", "ledger": "l1", "throughAccount": "bridge:out"}},
        destination={"account": {"id": "b", "ledger": "l2", "throughAccount": "bridge:in"}},
        amount={"amount": 2819, "asset": "EUR/2"},
        metadata={"order": "o-1"},
    )
    assert await run(stage) == [
        transaction(
            "l1", "a", "bridge:out", {"order": "o-1", MOVE_TO: "l2"}, amount=2819, asset="EUR/2"
        ),
        transaction(
            "l2", "bridge:in", "b", {"order": "o-1", MOVE_FROM: "l1"}, amount=2819, asset="EUR/2"
        ),
    ]


async def test_the_overdraft_numscript_is_exactly_the_template() -> None:
    stage = send(
        source={"account": {"id": "users:1", "ledger": "l1", "allowOverdraft": True}},
        destination={"account": {"id": "users:2", "ledger": "l2"}},
        amount={"amount": 2819, "asset": "EUR/2"},
    )
    calls = await run(stage)
    assert calls[0] == (
        "CreateTransaction",
        {
            "Ledger": "l1",
            "Data": {
                "metadata": {MOVE_TO: "l2"},
                "script": {
                    "plain": "send [EUR/2 2819] (\n"
                    "  source = @users:1 allowing unbounded overdraft\n"
                    "  destination = @world\n"
                    ")"
                },
            },
        },
    )


INJECTED = "a\n)\nsend [USD/2 100] (\n  source = @bank allowing unbounded overdraft\n  destination = @me"


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        ({"who": INJECTED, "asset": "USD/2"}, f"invalid account address '{INJECTED[:40]}'"),
        ({"who": "a", "asset": "USD/2 1] (x"}, "invalid asset 'USD/2 1] (x'"),
    ],
)
async def test_variables_spliced_into_numscript_must_be_ledger_names(
    variables: dict[str, str], message: str
) -> None:
    # Otherwise a variable could write postings of its own into the overdraft script.
    params = {
        "source": {"account": {"id": "${who}", "ledger": "l1", "allowOverdraft": True}},
        "destination": {"account": {"id": "b", "ledger": "l2"}},
        "amount": {"amount": 100, "asset": "${asset}"},
    }
    assert await failure(Send.resolve(params, variables)) == (message, [])


async def test_source_overdraft_applies_to_the_source_account_even_through_world() -> None:
    stage = send(
        source={"account": {"id": "a", "ledger": "l1", "allowOverdraft": True}},
        destination={"account": {"id": "b", "ledger": "l2"}},
        amount=USD,
    )
    assert await run(stage) == [
        overdraft_transaction("l1", "a", "world", {MOVE_TO: "l2"}),
        transaction("l2", "world", "b", {MOVE_FROM: "l1"}),
    ]


async def test_destination_overdraft_applies_to_its_through_account_only_when_not_world() -> None:
    through = send(
        source={"account": {"id": "a", "ledger": "l1"}},
        destination={
            "account": {"id": "b", "ledger": "l2", "throughAccount": "bank", "allowOverdraft": True}
        },
        amount=USD,
    )
    assert await run(through) == [
        transaction("l1", "a", "world", {MOVE_TO: "l2"}),
        overdraft_transaction("l2", "bank", "b", {MOVE_FROM: "l1"}),
    ]
    world = send(
        source={"account": {"id": "a", "ledger": "l1"}},
        destination={"account": {"id": "b", "ledger": "l2", "allowOverdraft": True}},
        amount=USD,
    )
    assert await run(world) == [
        transaction("l1", "a", "world", {MOVE_TO: "l2"}),
        transaction("l2", "world", "b", {MOVE_FROM: "l1"}),
    ]


async def test_overdraft_on_both_legs() -> None:
    stage = send(
        source={
            "account": {"id": "a", "ledger": "l1", "throughAccount": "out", "allowOverdraft": True}
        },
        destination={
            "account": {"id": "b", "ledger": "l2", "throughAccount": "in", "allowOverdraft": True}
        },
        amount=USD,
    )
    assert await run(stage) == [
        overdraft_transaction("l1", "a", "out", {MOVE_TO: "l2"}),
        overdraft_transaction("l2", "in", "b", {MOVE_FROM: "l1"}),
    ]


async def test_service_metadata_keys_override_the_stages_own() -> None:
    stage = send(
        source={"account": {"id": "a", "ledger": "l1"}},
        destination={"account": {"id": "b", "ledger": "l2"}},
        amount=USD,
        metadata={MOVE_TO: "mine", MOVE_FROM: "mine too", "k": "v"},
    )
    assert await run(stage) == [
        transaction("l1", "a", "world", {MOVE_TO: "l2", MOVE_FROM: "mine too", "k": "v"}),
        transaction("l2", "world", "b", {MOVE_TO: "mine", MOVE_FROM: "l1", "k": "v"}),
    ]


@pytest.mark.parametrize(
    "source",
    [
        Source(account=Account("a", "default", "world", False)),
        Source(wallet=Wallet(ALICE["id"], "", "main")),
    ],
    ids=["account", "wallet"],
)
@pytest.mark.parametrize(
    "destination",
    [
        Destination(account=Account("b", "default", "world", False)),
        Destination(wallet=Wallet(BOB["id"], "", "main")),
        Destination(payment=STRIPE_TRANSFER),
    ],
    ids=["account", "wallet", "payment"],
)
async def test_without_a_payment_source_the_amount_must_be_specified(
    source: Source, destination: Destination
) -> None:
    # Resolution already refuses such a stage; the mover checks again before any call.
    message, calls = await failure(Send(source=source, destination=destination))
    assert (message, calls) == ("amount must be specified", [])


# --- account → wallet ----------------------------------------------------------------------------


async def test_account_to_wallet_on_the_wallets_ledger_credits_it_from_the_account() -> None:
    stage = send(
        source={"account": {"id": "foo", "ledger": "wallets-002"}},
        destination={"wallet": {"id": BOB["id"]}},
        amount=USD,
    )
    assert await run(stage) == [get_wallet(BOB), credit(BOB, [account("foo")])]


async def test_a_wallet_is_found_by_name_and_credited_on_the_named_balance() -> None:
    stage = send(
        source={"account": {"id": "foo", "ledger": "wallets-002"}},
        destination={"wallet": {"name": "bob", "balance": "gifts"}},
        amount=USD,
        metadata={"k": "v"},
    )
    assert await run(stage) == [
        ("ListWallets", {"name": "bob"}),
        credit(BOB, [account("foo")], {"k": "v"}, balance="gifts"),
    ]


@pytest.mark.parametrize(
    ("wallets", "message"),
    [
        ((ALICE,), "wallet not found"),
        (
            (BOB, wallet("5d6e7f80-1a2b-4c3d-9e4f-a0b1c2d3e4f5", "bob")),
            "found multiple wallets with the same name",
        ),
    ],
    ids=["none", "two"],
)
async def test_a_wallet_name_must_match_exactly_one_wallet(
    wallets: tuple[dict[str, Any], ...], message: str
) -> None:
    stage = send(
        source={"account": {"id": "foo"}}, destination={"wallet": {"name": "bob"}}, amount=USD
    )
    assert await failure(stage, Stack(wallets=wallets)) == (
        message,
        [("ListWallets", {"name": "bob"})],
    )


async def test_account_to_wallet_on_another_ledger_leaves_through_world() -> None:
    stage = send(
        source={"account": {"id": "account1", "ledger": "ledger1"}},
        destination={"wallet": {"id": BOB["id"]}},
        amount=USD,
    )
    assert await run(stage) == [
        get_wallet(BOB),
        transaction("ledger1", "account1", "world", {MOVE_TO: "wallets-002"}),
        credit(BOB, [account("world")], {MOVE_FROM: "ledger1"}),
    ]


async def test_account_to_wallet_on_another_ledger_through_an_account_with_overdraft() -> None:
    stage = send(
        source={
            "account": {
                "id": "account1",
                "ledger": "ledger1",
                "throughAccount": "bridge",
                "allowOverdraft": True,
            }
        },
        destination={"wallet": {"name": "bob", "balance": "gifts"}},
        amount=USD,
        metadata={"k": "v"},
    )
    assert await run(stage) == [
        ("ListWallets", {"name": "bob"}),
        overdraft_transaction("ledger1", "account1", "bridge", {"k": "v", MOVE_TO: "wallets-002"}),
        credit(BOB, [account("bridge")], {"k": "v", MOVE_FROM: "ledger1"}, balance="gifts"),
    ]


# --- account → payment ---------------------------------------------------------------------------


async def test_account_to_payment_debits_the_account_then_initiates_the_transfer() -> None:
    stage = send(
        source={"account": {"id": "foo"}},
        destination={"payment": {"psp": "stripe", "metadata": "stripeConnectID"}},
        amount=USD,
    )
    stack = Stack(accounts={("default", "foo"): {"stripeConnectID": "abcd"}})
    assert await run(stage, stack) == [
        ("GetAccount", {"ledger": "default", "id": "foo"}),
        transaction("default", "foo", "world"),
        (
            "CreateTransferInitiation",
            {
                "amount": 100,
                "asset": "USD/2",
                "provider": "stripe",
                "destination": "abcd",
                "type": "TRANSFER",
                "metadata": {},
                "waitingValidation": False,
            },
        ),
    ]


async def test_account_to_payment_with_every_option() -> None:
    stage = send(
        source={"account": {"id": "merchant:1", "ledger": "main", "throughAccount": "payouts"}},
        destination={
            "payment": {
                "psp": "wise",
                "type": "PAYOUT",
                "sourceAccount": "acct_src",
                "waitingValidation": True,
                "connectorId": "eyJQcm92aWRlciI6Indpc2UifQ",
            }
        },
        amount=USD,
        metadata={"k": "v"},
    )
    stack = Stack(accounts={("main", "merchant:1"): {"formanceAccountID": "acct_dst"}})
    assert await run(stage, stack) == [
        ("GetAccount", {"ledger": "main", "id": "merchant:1"}),
        # The debit before the payout carries no move keys: the money leaves the ledgers.
        transaction("main", "merchant:1", "payouts", {"k": "v"}),
        (
            "CreateTransferInitiation",
            {
                "amount": 100,
                "asset": "USD/2",
                "connectorID": "eyJQcm92aWRlciI6Indpc2UifQ",
                "provider": "wise",
                "destination": "acct_dst",
                "source": "acct_src",
                "type": "PAYOUT",
                "metadata": {"k": "v"},
                "waitingValidation": True,
            },
        ),
    ]


async def test_account_to_payment_with_overdraft_is_numscript_on_the_source() -> None:
    stage = send(
        source={"account": {"id": "foo", "allowOverdraft": True}},
        destination={"payment": {"psp": "stripe"}},
        amount=USD,
    )
    stack = Stack(accounts={("default", "foo"): {"formanceAccountID": "abcd"}})
    calls = await run(stage, stack)
    assert calls[1] == overdraft_transaction("default", "foo", "world")
    assert [name for name, _ in calls] == [
        "GetAccount",
        "CreateTransaction",
        "CreateTransferInitiation",
    ]


async def test_the_transfer_type_is_sent_upper_case() -> None:
    # The SDKs read a CreateTransferInitiation input's `type` as the enum TRANSFER | PAYOUT.
    stage = send(
        source={"account": {"id": "foo"}},
        destination={"payment": {"psp": "stripe", "type": "payout"}},
        amount=USD,
    )
    stack = Stack(accounts={("default", "foo"): {"formanceAccountID": "abcd"}})
    name, request = (await run(stage, stack))[-1]
    assert (name, request["type"]) == ("CreateTransferInitiation", "PAYOUT")


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ({}, "expected 'formanceAccountID' metadata containing formance account ID"),
        ({"other": "abcd"}, "expected 'formanceAccountID' metadata containing formance account ID"),
        ({"formanceAccountID": ""}, "formance account ID empty"),
        ({"formanceAccountID": 0}, "formance account ID empty"),
    ],
)
async def test_the_psp_account_must_be_in_the_source_accounts_metadata(
    metadata: dict[str, Any], message: str
) -> None:
    stage = send(
        source={"account": {"id": "foo"}}, destination={"payment": {"psp": "stripe"}}, amount=USD
    )
    stack = Stack(accounts={("default", "foo"): metadata})
    assert await failure(stage, stack) == (
        message,
        [("GetAccount", {"ledger": "default", "id": "foo"})],
    )


async def test_a_psp_account_that_is_not_a_string_is_sent_as_its_text() -> None:
    stage = send(
        source={"account": {"id": "foo"}}, destination={"payment": {"psp": "stripe"}}, amount=USD
    )
    stack = Stack(accounts={("default", "foo"): {"formanceAccountID": 42}})
    _, request = (await run(stage, stack))[-1]
    assert request["destination"] == "42"


async def test_a_failure_to_read_the_source_account_names_it() -> None:
    stage = send(
        source={"account": {"id": "foo", "ledger": "bad ledger"}},
        destination={"payment": {"psp": "stripe"}},
        amount=USD,
    )
    stack = Stack().fail("GetAccount", "invalid ledger name", "VALIDATION")
    assert await failure(stage, stack) == (
        "reading account: foo: invalid ledger name",
        [("GetAccount", {"ledger": "bad ledger", "id": "foo"})],
    )


# --- wallet → account ----------------------------------------------------------------------------


async def test_wallet_to_account_on_the_wallets_ledger_debits_it_to_the_account() -> None:
    stage = send(
        source={"wallet": {"id": ALICE["id"]}},
        destination={"account": {"id": "bar", "ledger": "wallets-002"}},
        amount=USD,
    )
    assert await run(stage) == [
        get_wallet(ALICE),
        # The reference passes null metadata here; the SDKs (and Wallets' own) require an object.
        debit(ALICE, {}, destination=account("bar")),
    ]


async def test_wallet_to_account_debits_the_named_balance_with_the_metadata() -> None:
    stage = send(
        source={"wallet": {"name": "alice", "balance": "savings"}},
        destination={"account": {"id": "bar", "ledger": "wallets-002"}},
        amount=USD,
        metadata={"k": "v"},
    )
    assert await run(stage) == [
        ("ListWallets", {"name": "alice"}),
        debit(ALICE, {"k": "v"}, balance="savings", destination=account("bar")),
    ]


async def test_wallet_to_account_on_another_ledger_enters_from_world() -> None:
    stage = send(
        source={"wallet": {"id": ALICE["id"]}},
        destination={"account": {"id": "account", "ledger": "ledger2"}},
        amount=USD,
    )
    assert await run(stage) == [
        get_wallet(ALICE),
        # No destination: Wallets debits to world.
        debit(ALICE, {MOVE_TO: "ledger2"}),
        transaction("ledger2", "world", "account", {MOVE_FROM: "wallets-002"}),
    ]


async def test_wallet_to_account_on_another_ledger_through_an_account() -> None:
    def stage(allow_overdraft: bool, through: str) -> Send:
        destination = {
            "id": "b",
            "ledger": "l2",
            "throughAccount": through,
            "allowOverdraft": allow_overdraft,
        }
        return send(
            source={"wallet": {"id": ALICE["id"], "balance": "savings"}},
            destination={"account": destination},
            amount=USD,
            metadata={"k": "v"},
        )

    leaving = debit(ALICE, {"k": "v", MOVE_TO: "l2"}, balance="savings")
    entering = {"k": "v", MOVE_FROM: "wallets-002"}
    assert await run(stage(False, "bank")) == [
        get_wallet(ALICE),
        leaving,
        transaction("l2", "bank", "b", entering),
    ]
    assert await run(stage(True, "bank")) == [
        get_wallet(ALICE),
        leaving,
        overdraft_transaction("l2", "bank", "b", entering),
    ]
    assert await run(stage(True, "world")) == [
        get_wallet(ALICE),
        leaving,
        transaction("l2", "world", "b", entering),
    ]


# --- wallet → wallet -----------------------------------------------------------------------------


async def test_wallet_to_wallet_on_one_ledger_credits_from_the_source_main_balance() -> None:
    stage = send(
        source={"wallet": {"id": ALICE["id"], "balance": "savings"}},
        destination={"wallet": {"id": BOB["id"], "balance": "gifts"}},
        amount=USD,
        metadata={"k": "v"},
    )
    assert await run(stage) == [
        get_wallet(ALICE),
        get_wallet(BOB),
        # The source's `balance` is not used: the reference always names `main` here.
        credit(
            BOB,
            [{"type": "WALLET", "identifier": ALICE["id"], "balance": "main"}],
            {"k": "v"},
            balance="gifts",
        ),
    ]


async def test_wallet_to_wallet_across_ledgers_debits_then_credits() -> None:
    stage = send(
        source={"wallet": {"name": "alice", "balance": "savings"}},
        destination={"wallet": {"name": "carol"}},
        amount=USD,
        metadata={"k": "v"},
    )
    assert await run(stage) == [
        ("ListWallets", {"name": "alice"}),
        ("ListWallets", {"name": "carol"}),
        debit(ALICE, {"k": "v", MOVE_TO: "default"}, balance="savings"),
        # No source subject: Wallets credits from world. `sources` is required by the SDKs' model.
        credit(CAROL, [], {"k": "v", MOVE_FROM: "wallets-002"}),
    ]


async def test_wallet_to_wallet_fails_when_the_destination_is_not_found() -> None:
    stage = send(
        source={"wallet": {"id": ALICE["id"]}}, destination={"wallet": {"name": "dave"}}, amount=USD
    )
    assert await failure(stage) == (
        "wallet not found",
        [get_wallet(ALICE), ("ListWallets", {"name": "dave"})],
    )


# --- wallet → payment ----------------------------------------------------------------------------


async def test_wallet_to_payment_debits_the_wallet_then_initiates_the_transfer() -> None:
    stage = send(
        source={"wallet": {"id": ALICE["id"]}},
        destination={"payment": {"psp": "stripe"}},
        amount=USD,
    )
    assert await run(stage) == [
        get_wallet(ALICE),
        debit(ALICE),
        (
            "CreateTransferInitiation",
            {
                "amount": 100,
                "asset": "USD/2",
                "provider": "stripe",
                "destination": "acct_alice",
                "type": "TRANSFER",
                "metadata": {},
                "waitingValidation": False,
            },
        ),
    ]


async def test_wallet_to_payment_payout_from_a_source_account() -> None:
    stage = send(
        source={"wallet": {"name": "alice", "balance": "savings"}},
        destination={
            "payment": {
                "psp": "stripe",
                "type": "PAYOUT",
                "sourceAccount": "acct_platform",
                "metadata": "formanceAccountID",
            }
        },
        amount=USD,
        metadata={"k": "v"},
    )
    assert await run(stage) == [
        ("ListWallets", {"name": "alice"}),
        debit(ALICE, {"k": "v"}, balance="savings"),
        (
            "CreateTransferInitiation",
            {
                "amount": 100,
                "asset": "USD/2",
                "provider": "stripe",
                "destination": "acct_alice",
                "source": "acct_platform",
                "type": "PAYOUT",
                "metadata": {"k": "v"},
                "waitingValidation": False,
            },
        ),
    ]


async def test_wallet_to_payment_needs_the_psp_account_in_the_wallets_metadata() -> None:
    stage = send(
        source={"wallet": {"id": BOB["id"]}},
        destination={"payment": {"psp": "stripe"}},
        amount=USD,
    )
    assert await failure(stage) == (
        "expected 'formanceAccountID' metadata containing formance account ID",
        [get_wallet(BOB)],
    )


async def test_wallet_to_payment_names_the_wallet_it_could_not_read() -> None:
    by_id = send(
        source={"wallet": {"id": ALICE["id"]}},
        destination={"payment": {"psp": "stripe"}},
        amount=USD,
    )
    stack = Stack().fail("GetWallet", "wallet gone", "VALIDATION")
    assert await failure(by_id, stack) == (
        f"reading account: {ALICE['id']}: wallet gone",
        [get_wallet(ALICE)],
    )
    # By name the reference names the (empty) id.
    by_name = send(
        source={"wallet": {"name": "dave"}}, destination={"payment": {"psp": "stripe"}}, amount=USD
    )
    assert await failure(by_name) == (
        "reading account: : wallet not found",
        [("ListWallets", {"name": "dave"})],
    )


# --- payment → account ---------------------------------------------------------------------------


async def test_payment_to_account_ingests_the_payment_then_moves_it() -> None:
    stage = send(
        source={"payment": {"id": "payment1"}},
        destination={"account": {"id": "foo"}},
        amount=USD,
    )
    assert await run(stage, Stack(payments=(payment("payment1"),))) == [
        ("GetPayment", {"id": "payment1"}),
        transaction(INTERNAL, "world", "payment:payment1", reference="payment:payment1"),
        transaction(INTERNAL, "payment:payment1", "world", {MOVE_TO: "default"}),
        transaction("default", "world", "foo", {MOVE_FROM: INTERNAL}),
    ]


async def test_a_payment_id_with_dashes_makes_a_ledger_address_with_underscores() -> None:
    pay_id = "eyJDb25uZWN0b3JJRCI6-e30-_Q"
    stage = send(source={"payment": {"id": pay_id}}, destination={"account": {"id": "foo"}})
    holding = "payment:eyJDb25uZWN0b3JJRCI6_e30__Q"
    assert await run(stage, Stack(payments=(payment(pay_id),))) == [
        ("GetPayment", {"id": pay_id}),
        transaction(INTERNAL, "world", holding, reference=holding),
        transaction(INTERNAL, holding, "world", {MOVE_TO: "default"}),
        transaction("default", "world", "foo", {MOVE_FROM: INTERNAL}),
    ]


async def test_the_initial_amount_is_ingested_and_moved_unless_an_amount_is_given() -> None:
    stack = Stack(payments=(payment("p1", initial_amount=1500, asset="EUR/2"),))
    leaving, entering = {"k": "v", MOVE_TO: "default"}, {"k": "v", MOVE_FROM: INTERNAL}
    ingestion = transaction(
        INTERNAL,
        "world",
        "payment:p1",
        {"k": "v"},
        amount=1500,
        asset="EUR/2",
        reference="payment:p1",
    )
    whole = send(
        source={"payment": {"id": "p1"}},
        destination={"account": {"id": "foo"}},
        metadata={"k": "v"},
    )
    assert await run(whole, stack) == [
        ("GetPayment", {"id": "p1"}),
        ingestion,
        transaction(INTERNAL, "payment:p1", "world", leaving, amount=1500, asset="EUR/2"),
        transaction("default", "world", "foo", entering, amount=1500, asset="EUR/2"),
    ]
    part = send(
        source={"payment": {"id": "p1"}},
        destination={"account": {"id": "foo"}},
        amount={"amount": 1000, "asset": "EUR/2"},
        metadata={"k": "v"},
    )
    assert await run(part, stack) == [
        ("GetPayment", {"id": "p1"}),
        ingestion,
        transaction(INTERNAL, "payment:p1", "world", leaving, amount=1000, asset="EUR/2"),
        transaction("default", "world", "foo", entering, amount=1000, asset="EUR/2"),
    ]


async def test_a_big_initial_amount_is_ingested_and_moved_exactly() -> None:
    big = 2**60 + 1  # beyond 2^53: a float on the way would make it 2^60
    stack = Stack(payments=(payment("p1", initial_amount=big),))
    stage = send(source={"payment": {"id": "p1"}}, destination={"account": {"id": "foo"}})
    calls = await run(stage, stack)
    assert [request["Data"]["postings"][0]["amount"] for _, request in calls[1:]] == [big] * 3


@pytest.mark.parametrize(
    ("initial_amount", "message"),
    [
        (1.5, "expected an integer in the asset's smallest unit, got 1.5"),
        (1e3, "expected an integer in the asset's smallest unit, got 1000.0"),
        ("100", "expected an integer"),
        (True, "expected an integer"),
        (None, "expected an integer"),
        (-5, "must not be negative, got -5"),
        (2**256, "must be at most 2^256-1"),
    ],
)
async def test_a_payment_whose_initial_amount_is_not_an_integer_moves_nothing(
    initial_amount: Any, message: str
) -> None:
    found = payment("p1") | {"initialAmount": initial_amount}
    stage = send(source={"payment": {"id": "p1"}}, destination={"account": {"id": "foo"}})
    error, calls = await failure(stage, Stack(payments=(found,)))
    assert error.startswith(f"payment p1: initialAmount: {message}")
    assert calls == [("GetPayment", {"id": "p1"})]


async def test_a_payment_already_ingested_is_moved_on() -> None:
    # The holding account is the ingestion's reference: a second ingestion is a CONFLICT.
    stage = send(
        source={"payment": {"id": "payment1"}},
        destination={"account": {"id": "foo"}},
        amount=USD,
    )
    stack = Stack(payments=(payment("payment1"),)).fail(
        "CreateTransaction", "reference payment:payment1 already used", "CONFLICT"
    )
    assert await run(stage, stack) == [
        ("GetPayment", {"id": "payment1"}),
        transaction(INTERNAL, "world", "payment:payment1", reference="payment:payment1"),
        transaction(INTERNAL, "payment:payment1", "world", {MOVE_TO: "default"}),
        transaction("default", "world", "foo", {MOVE_FROM: INTERNAL}),
    ]


async def test_any_other_ingestion_failure_fails_the_stage() -> None:
    stage = send(source={"payment": {"id": "payment1"}}, destination={"account": {"id": "foo"}})
    stack = Stack(payments=(payment("payment1"),)).fail(
        "CreateTransaction", "invalid ledger name", "VALIDATION"
    )
    assert await failure(stage, stack) == (
        "invalid ledger name",
        [
            ("GetPayment", {"id": "payment1"}),
            transaction(INTERNAL, "world", "payment:payment1", reference="payment:payment1"),
        ],
    )


async def test_a_failure_to_read_the_payment_names_it() -> None:
    stage = send(source={"payment": {"id": "p1"}}, destination={"account": {"id": "foo"}})
    stack = Stack().fail("GetPayment", "invalid payment id", "INVALID_ID")
    assert await failure(stage, stack) == (
        "retrieving payment: p1: invalid payment id",
        [("GetPayment", {"id": "p1"})],
    )


async def test_payment_with_its_own_ledger_holding_and_through_accounts() -> None:
    stage = send(
        source={
            "payment": {
                "id": "p1",
                "ledger": "psp",
                "holdingAccount": "psp:holding:p1",
                "throughAccount": "psp:stripe",
            }
        },
        destination={"account": {"id": "foo"}},
        amount=USD,
    )
    assert await run(stage, Stack(payments=(payment("p1"),))) == [
        ("GetPayment", {"id": "p1"}),
        transaction("psp", "psp:stripe", "psp:holding:p1", reference="psp:holding:p1"),
        # Once ingested, the money leaves the payment's ledger through world.
        transaction("psp", "psp:holding:p1", "world", {MOVE_TO: "default"}),
        transaction("default", "world", "foo", {MOVE_FROM: "psp"}),
    ]


async def test_payment_overdraft_applies_to_its_through_account_only_when_not_world() -> None:
    def stage(through: str) -> Send:
        return send(
            source={"payment": {"id": "p1", "throughAccount": through, "allowOverdraft": True}},
            destination={"account": {"id": "foo"}},
            amount=USD,
        )

    stack = Stack(payments=(payment("p1"),))
    calls = await run(stage("psp:stripe"), stack)
    assert calls[1] == overdraft_transaction(
        INTERNAL, "psp:stripe", "payment:p1", reference="payment:p1"
    )
    assert calls[2:] == [
        transaction(INTERNAL, "payment:p1", "world", {MOVE_TO: "default"}),
        transaction("default", "world", "foo", {MOVE_FROM: INTERNAL}),
    ]
    calls = await run(stage("world"), stack)
    assert calls[1] == transaction(INTERNAL, "world", "payment:p1", reference="payment:p1")


async def test_payment_ingested_on_the_destinations_ledger_is_moved_in_one_transaction() -> None:
    stage = send(
        source={"payment": {"id": "p1", "ledger": "main"}},
        destination={"account": {"id": "foo", "ledger": "main", "throughAccount": "x"}},
        amount=USD,
    )
    assert await run(stage, Stack(payments=(payment("p1"),))) == [
        ("GetPayment", {"id": "p1"}),
        transaction("main", "world", "payment:p1", reference="payment:p1"),
        transaction("main", "payment:p1", "foo"),
    ]


async def test_payment_to_account_with_destination_overdraft_through_an_account() -> None:
    stage = send(
        source={"payment": {"id": "p1"}},
        destination={
            "account": {"id": "foo", "throughAccount": "bank", "allowOverdraft": True}
        },
        amount=USD,
    )
    assert await run(stage, Stack(payments=(payment("p1"),))) == [
        ("GetPayment", {"id": "p1"}),
        transaction(INTERNAL, "world", "payment:p1", reference="payment:p1"),
        transaction(INTERNAL, "payment:p1", "world", {MOVE_TO: "default"}),
        overdraft_transaction("default", "bank", "foo", {MOVE_FROM: INTERNAL}),
    ]


# --- payment → wallet ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reference", "lookup"),
    [
        ({"id": CAROL["id"]}, get_wallet(CAROL)),
        ({"name": "carol"}, ("ListWallets", {"name": "carol"})),
    ],
    ids=["by id", "by name"],
)
async def test_payment_to_wallet_ingests_the_payment_then_credits_the_wallet(
    reference: dict[str, str], lookup: Call
) -> None:
    stage = send(
        source={"payment": {"id": "payment1"}},
        destination={"wallet": reference},
        amount=USD,
    )
    assert await run(stage, Stack(payments=(payment("payment1"),))) == [
        ("GetPayment", {"id": "payment1"}),
        transaction(INTERNAL, "world", "payment:payment1", reference="payment:payment1"),
        lookup,
        transaction(INTERNAL, "payment:payment1", "world", {MOVE_TO: "default"}),
        credit(CAROL, [account("world")], {MOVE_FROM: INTERNAL}),
    ]


async def test_payment_ingested_on_the_wallets_ledger_credits_it_from_the_holding_account() -> None:
    stage = send(
        source={"payment": {"id": "p1", "ledger": "wallets-002"}},
        destination={"wallet": {"id": BOB["id"], "balance": "gifts"}},
    )
    assert await run(stage, Stack(payments=(payment("p1", initial_amount=250),))) == [
        ("GetPayment", {"id": "p1"}),
        transaction("wallets-002", "world", "payment:p1", amount=250, reference="payment:p1"),
        get_wallet(BOB),
        credit(
            BOB,
            [account("payment:p1")],
            balance="gifts",
            amount={"amount": 250, "asset": "USD/2"},
        ),
    ]


# --- payment → payment ---------------------------------------------------------------------------


async def test_payment_to_payment_is_rejected_before_any_call() -> None:
    # Resolution already refuses such a stage; the mover checks again.
    stage = Send(
        source=Source(payment=PaymentSource("p1", "", "", "world", False)),
        destination=Destination(payment=STRIPE_TRANSFER),
    )
    assert await failure(stage) == ("send from payment to payment is not supported", [])


# --- timestamp -----------------------------------------------------------------------------------

WRITES = ("CreateTransaction", "CreditWallet", "DebitWallet")

COMBINATIONS: dict[str, dict[str, Any]] = {
    "account to account": {
        "source": {"account": {"id": "a", "ledger": "l1", "allowOverdraft": True}},
        "destination": {"account": {"id": "b", "ledger": "l2"}},
    },
    "account to wallet": {
        "source": {"account": {"id": "a", "ledger": "l1"}},
        "destination": {"wallet": {"id": BOB["id"]}},
    },
    "account to payment": {
        "source": {"account": {"id": "a"}},
        "destination": {"payment": {"psp": "stripe", "type": "payout"}},
    },
    "wallet to account": {
        "source": {"wallet": {"id": ALICE["id"]}},
        "destination": {"account": {"id": "b", "ledger": "wallets-002"}},
    },
    "wallet to account across ledgers": {
        "source": {"wallet": {"id": ALICE["id"]}},
        "destination": {"account": {"id": "b"}},
    },
    "wallet to wallet": {
        "source": {"wallet": {"name": "alice"}},
        "destination": {"wallet": {"name": "bob"}},
    },
    "wallet to wallet across ledgers": {
        "source": {"wallet": {"id": ALICE["id"]}},
        "destination": {"wallet": {"id": CAROL["id"]}},
    },
    "wallet to payment": {
        "source": {"wallet": {"id": ALICE["id"]}},
        "destination": {"payment": {"psp": "stripe"}},
    },
    "payment to account": {
        "source": {"payment": {"id": "p1", "throughAccount": "psp", "allowOverdraft": True}},
        "destination": {"account": {"id": "b"}},
    },
    "payment to wallet": {
        "source": {"payment": {"id": "p1"}},
        "destination": {"wallet": {"id": CAROL["id"]}},
    },
}


def combination_stack() -> Stack:
    return Stack(
        payments=(payment("p1"),), accounts={("default", "a"): {"formanceAccountID": "acct_a"}}
    )


@pytest.mark.parametrize("params", COMBINATIONS.values(), ids=COMBINATIONS.keys())
async def test_the_timestamp_dates_every_ledger_and_wallet_write(params: dict[str, Any]) -> None:
    stage = send(**params, amount=USD, timestamp="2025-01-02T04:04:05.12+01:00")
    calls = await run(stage, combination_stack())
    assert any(name in WRITES for name, _ in calls)
    for name, request in calls:
        if name == "CreateTransaction":
            assert request["Data"]["timestamp"] == "2025-01-02T03:04:05.12Z"
        elif name in WRITES:
            assert request["data"]["timestamp"] == "2025-01-02T03:04:05.12Z"
        else:
            assert "timestamp" not in request
    untimed = await run(send(**params, amount=USD), combination_stack())
    assert [request for _, request in untimed] == [
        _without_timestamp(name, request) for name, request in calls
    ]


def _without_timestamp(name: str, request: Request) -> Request:
    key = "Data" if name == "CreateTransaction" else "data"
    if key not in request:
        return request
    data = {field: value for field, value in request[key].items() if field != "timestamp"}
    return {**request, key: data}


# --- stage history -------------------------------------------------------------------------------


@pytest.mark.parametrize("params", COMBINATIONS.values(), ids=COMBINATIONS.keys())
async def test_every_request_reads_back_through_the_sdks_stage_history_models(
    params: dict[str, Any],
) -> None:
    # Stage history shows each activity as {"input": {<name>: <request>}}; both API versions'
    # models must accept it (docs/api.md: every response satisfies the official SDKs).
    for metadata in (None, {"k": "v"}):
        extra = {"metadata": metadata} if metadata is not None else {}
        stage = send(**params, amount=USD, timestamp="2025-01-02T03:04:05Z", **extra)
        for name, request in await run(stage, combination_stack()):
            item = {
                "name": name,
                "input": {name: request},
                "terminated": True,
                "startedAt": "2025-01-02T03:04:05Z",
                "attempt": 1,
            }
            WorkflowInstanceHistoryStage.model_validate(item)
            V2WorkflowInstanceHistoryStage.model_validate(item)
