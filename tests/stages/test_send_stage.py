"""`send` parameters (docs/stages.md): resolution, defaults, history input."""

from datetime import UTC, datetime
from typing import Any

import pytest
from stage_fakes import FakeStageContext

from flows.stages import StageFailure, resolve_stage
from flows.stages.send import (
    Account,
    Amount,
    Destination,
    PaymentDestination,
    PaymentSource,
    Send,
    Source,
    Wallet,
)

USD = {"amount": 100, "asset": "USD"}


def resolve(variables: dict[str, str] | None = None, **params: Any) -> Send:
    return Send.resolve(params, variables or {})


def failure(variables: dict[str, str] | None = None, **params: Any) -> str:
    with pytest.raises(StageFailure) as caught:
        Send.resolve(params, variables or {})
    return str(caught.value)


# --- defaults ------------------------------------------------------------------------------------


def test_account_defaults() -> None:
    stage = resolve(
        source={"account": {"id": "a"}}, destination={"account": {"id": "b"}}, amount=USD
    )
    assert stage.source == Source(
        account=Account(id="a", ledger="default", through_account="world", allow_overdraft=False)
    )
    assert stage.destination.account == Account(
        id="b", ledger="default", through_account="world", allow_overdraft=False
    )


def test_wallet_defaults() -> None:
    stage = resolve(
        source={"wallet": {"id": "w1"}}, destination={"wallet": {"name": "savings"}}, amount=USD
    )
    assert stage.source.wallet == Wallet(id="w1", name="", balance="main")
    assert stage.destination.wallet == Wallet(id="", name="savings", balance="main")


def test_payment_source_defaults_are_applied_at_run_time() -> None:
    stage = resolve(source={"payment": {"id": "pay-1-x"}}, destination={"account": {"id": "b"}})
    payment = stage.source.payment
    assert payment == PaymentSource(
        id="pay-1-x", ledger="", holding_account="", through_account="world", allow_overdraft=False
    )
    assert payment.ingestion_ledger == "orchestration-000-internal"
    assert payment.ingestion_account == "payment:pay_1_x"


def test_payment_source_overrides() -> None:
    payment = resolve(
        source={
            "payment": {
                "id": "p",
                "ledger": "psp",
                "holdingAccount": "hold:p",
                "throughAccount": "in",
                "allowOverdraft": True,
            }
        },
        destination={"account": {"id": "b"}},
    ).source.payment
    assert payment is not None
    assert (payment.ingestion_ledger, payment.ingestion_account) == ("psp", "hold:p")


def test_payment_destination_defaults() -> None:
    stage = resolve(
        source={"account": {"id": "a"}}, destination={"payment": {"psp": "stripe"}}, amount=USD
    )
    assert stage.destination.payment == PaymentDestination(
        psp="stripe",
        type="TRANSFER",
        source_account="",
        metadata="formanceAccountID",
        waiting_validation=False,
        connector_id="",
    )


def test_connector_id_is_read_under_both_spellings() -> None:
    for key in ("connectorId", "connectorID"):
        stage = resolve(
            source={"account": {"id": "a"}},
            destination={"payment": {"psp": "x", key: "c1"}},
            amount=USD,
        )
        assert (
            stage.destination.payment is not None and stage.destination.payment.connector_id == "c1"
        )


def test_the_transfer_type_is_case_insensitive() -> None:
    stage = resolve(
        source={"account": {"id": "a"}}, destination={"payment": {"type": "payout"}}, amount=USD
    )
    assert stage.destination.payment is not None
    assert (stage.destination.payment.type, stage.destination.payment.transfer_type) == (
        "payout",
        "PAYOUT",
    )


def test_a_string_that_interpolates_to_empty_takes_the_default() -> None:
    stage = resolve(
        source={"account": {"id": "a", "ledger": "${ledger}", "throughAccount": "${through}"}},
        destination={"payment": {"type": "${type}", "metadata": "${key}"}},
        amount=USD,
    )
    assert stage.source.account == Account(
        id="a", ledger="default", through_account="world", allow_overdraft=False
    )
    assert stage.destination.payment is not None
    assert (stage.destination.payment.type, stage.destination.payment.metadata) == (
        "TRANSFER",
        "formanceAccountID",
    )


# --- interpolation and parsing -------------------------------------------------------------------


def test_variables_are_interpolated_everywhere() -> None:
    stage = resolve(
        {
            "var1": "1",
            "var2": "2",
            "var3": "3",
            "paymentID": "pay_42",
            "amount": "2819",
            "asset": "EUR/2",
        },
        source={"payment": {"id": "${paymentID}"}},
        destination={"account": {"id": "test:${var1}:test:${var2}:test:${var3}:test"}},
        amount={"amount": "${amount}", "asset": "${asset}"},
    )
    assert stage.source.payment is not None and stage.source.payment.id == "pay_42"
    assert (
        stage.destination.account is not None
        and stage.destination.account.id == "test:1:test:2:test:3:test"
    )
    assert stage.amount == Amount(amount=2819, asset="EUR/2")


@pytest.mark.parametrize(
    ("written", "value"),
    [(100, 100), ("2819", 2819), ("0", 0), (2**70, 2**70), (str(2**60 + 1), 2**60 + 1)],
)
def test_amounts_are_integers_taken_exactly(written: Any, value: int) -> None:
    stage = resolve(
        source={"account": {"id": "a"}},
        destination={"account": {"id": "b"}},
        amount={"amount": written, "asset": "USD"},
    )
    assert stage.amount == Amount(amount=value, asset="USD")


@pytest.mark.parametrize(
    ("written", "value"),
    [(True, True), ("true", True), ("TRUE", True), ("False", False), ("${flag}", True)],
)
def test_bools_are_json_bools_or_true_false_strings(written: Any, value: bool) -> None:
    stage = resolve(
        {"flag": "true"},
        source={"account": {"id": "a", "allowOverdraft": written}},
        destination={"account": {"id": "b"}},
        amount=USD,
    )
    assert stage.source.account is not None and stage.source.account.allow_overdraft is value


def test_a_bool_variable_that_is_not_given_takes_the_default() -> None:
    stage = resolve(
        source={"account": {"id": "a", "allowOverdraft": "${flag}"}},
        destination={"account": {"id": "b"}},
        amount=USD,
    )
    assert stage.source.account is not None and stage.source.account.allow_overdraft is False


def test_timestamps_are_rfc3339_literals_or_variables() -> None:
    params = {
        "source": {"account": {"id": "a"}},
        "destination": {"account": {"id": "b"}},
        "amount": USD,
    }
    literal = Send.resolve(params | {"timestamp": "2025-01-02T04:04:05.1234567+01:00"}, {})
    assert literal.timestamp == datetime(2025, 1, 2, 3, 4, 5, 123_457, tzinfo=UTC)
    variable = Send.resolve(params | {"timestamp": "${ts}"}, {"ts": "2025-01-02T03:04:05Z"})
    assert variable.timestamp == datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    # A missing variable leaves the timestamp unset (the reference would send year 1).
    assert Send.resolve(params | {"timestamp": "${ts}"}, {}).timestamp is None


def test_metadata_values_are_interpolated() -> None:
    stage = resolve(
        {"order": "o-1"},
        source={"account": {"id": "a"}},
        destination={"account": {"id": "b"}},
        amount=USD,
        metadata={"order": "${order}", "missing": "${nope}"},
    )
    assert stage.metadata == {"order": "o-1", "missing": ""}


# --- run-time failures ---------------------------------------------------------------------------


NOT_AN_INTEGER = "is not an integer (expected digits only, like 2819)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1.5", f"'1.5' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("0.5", f"'0.5' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("1e3", f"'1e3' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("1000.0", f"'1000.0' (from '${{amount}}') {NOT_AN_INTEGER}"),
        (" 12", f"' 12' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("12\n", f"'12\n' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("+5", f"'+5' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("007", f"'007' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("0x10", f"'0x10' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("1_000", f"'1_000' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("NaN", f"'NaN' (from '${{amount}}') {NOT_AN_INTEGER}"),
        ("-3", "'-3' (from '${amount}') must not be negative"),
        ("-0", "'-0' (from '${amount}') must not be negative"),
        ("", "required, but '${amount}' is empty"),
        (str(2**256), f"'{str(2**256)[:40]}…' (from '${{amount}}') must be at most 2^256-1"),
        ("9" * 1_000_000, f"'{'9' * 40}…' (from '${{amount}}') must be at most 2^256-1"),
    ],
)
async def test_an_amount_variable_that_is_not_a_canonical_integer_fails_the_stage(
    value: str, message: str
) -> None:
    # Resolution runs before the stage does: the failure comes before any stack call.
    raw = {
        "source": {"account": {"id": "a"}},
        "destination": {"account": {"id": "b"}},
        "amount": {"amount": "${amount}", "asset": "USD/2"},
    }
    ctx = FakeStageContext(datetime(2025, 1, 2, tzinfo=UTC))
    with pytest.raises(StageFailure) as caught:
        stage = resolve_stage("send", raw, {"amount": value})
        await stage.run(ctx)
    assert str(caught.value).startswith(f"send.amount.amount: {message}")
    assert ctx.calls == []


def test_an_amount_variable_not_given_fails_naming_it() -> None:
    message = failure(
        source={"account": {"id": "a"}},
        destination={"account": {"id": "b"}},
        amount={"amount": "${amount}", "asset": "USD"},
    )
    assert message == "send.amount.amount: required, but '${amount}' is empty"


def test_an_amount_built_from_several_variables_is_checked_whole() -> None:
    amount = {"amount": "${whole}${cents}", "asset": "USD/2"}
    params = {"source": {"account": {"id": "a"}}, "destination": {"account": {"id": "b"}}}
    stage = Send.resolve(params | {"amount": amount}, {"whole": "12", "cents": "34"})
    assert stage.amount == Amount(amount=1234, asset="USD/2")
    with pytest.raises(StageFailure) as caught:
        Send.resolve(params | {"amount": amount}, {"whole": "12", "cents": ".34"})
    assert str(caught.value) == (
        f"send.amount.amount: '12.34' (from '${{whole}}${{cents}}') {NOT_AN_INTEGER}"
    )


def test_the_amount_may_only_be_left_out_with_a_payment_source() -> None:
    assert failure(source={"account": {"id": "a"}}, destination={"account": {"id": "b"}}) == (
        "send.amount: required (only a payment source may leave it out)"
    )
    assert (
        resolve(source={"payment": {"id": "p"}}, destination={"wallet": {"id": "w"}}).amount is None
    )


def test_payment_to_payment_is_not_supported() -> None:
    assert failure(source={"payment": {"id": "p"}}, destination={"payment": {"psp": "stripe"}}) == (
        "send: sending from a payment to a payment is not supported"
    )


def test_required_values_from_missing_variables_fail() -> None:
    assert failure(
        source={"account": {"id": "${who}"}}, destination={"account": {"id": "b"}}, amount=USD
    ) == ("send.source.account.id: required")
    assert failure(
        source={"payment": {"id": "${paymentID}"}}, destination={"account": {"id": "b"}}
    ) == ("send.source.payment.id: required")


def test_a_wallet_needs_exactly_one_of_id_or_name_once_resolved() -> None:
    wallet = {"wallet": {"id": "${walletID}", "name": "${walletName}"}}
    assert resolve(
        {"walletName": "w"}, source=wallet, destination={"account": {"id": "b"}}, amount=USD
    ).source.wallet == Wallet(id="", name="w", balance="main")
    assert failure({}, source=wallet, destination={"account": {"id": "b"}}, amount=USD) == (
        "send.source.wallet: exactly one of 'id' or 'name' is required"
    )
    assert failure(
        {"walletID": "1", "walletName": "w"},
        source=wallet,
        destination={"account": {"id": "b"}},
        amount=USD,
    ) == ("send.source.wallet: only one of 'id' or 'name' may be given, got 'id' and 'name'")


def test_source_and_destination_need_exactly_one_end() -> None:
    assert failure(source={}, destination={"account": {"id": "b"}}, amount=USD) == (
        "send.source: exactly one of 'account' or 'wallet' or 'payment' is required"
    )
    assert failure(source={"account": {"id": "a"}}, amount=USD) == "send.destination: required"


def test_bad_values_from_variables_fail() -> None:
    base: dict[str, Any] = {
        "source": {"account": {"id": "a", "allowOverdraft": "${flag}"}},
        "destination": {"account": {"id": "b"}},
        "amount": USD,
    }
    with pytest.raises(
        StageFailure,
        match=r"^send\.source\.account\.allowOverdraft: expected true or false, "
        r"got 'maybe' \(from '\$\{flag\}'\)$",
    ):
        Send.resolve(base, {"flag": "maybe"})
    payout = {
        "source": {"account": {"id": "a"}},
        "destination": {"payment": {"type": "${type}"}},
        "amount": USD,
    }
    with pytest.raises(
        StageFailure,
        match=r"^send\.destination\.payment\.type: expected TRANSFER or PAYOUT, got 'wire'$",
    ):
        Send.resolve(payout, {"type": "wire"})
    dated = base | {"timestamp": "${ts}"}
    with pytest.raises(StageFailure, match=r"^send\.timestamp: expected an RFC 3339 date"):
        Send.resolve(dated, {"flag": "true", "ts": "2025-01-02"})


# --- history input -------------------------------------------------------------------------------


def test_history_input_of_an_account_to_account_send() -> None:
    stage = resolve(
        source={"account": {"id": "a", "ledger": "l1", "allowOverdraft": True}},
        destination={"account": {"id": "b"}},
        amount={"amount": "100", "asset": "USD"},
        metadata={"k": "v"},
        timestamp="2025-01-02T03:04:05.120Z",
    )
    assert stage.history_input() == {
        "source": {
            "account": {
                "id": "a",
                "ledger": "l1",
                "throughAccount": "world",
                "allowOverdraft": True,
            }
        },
        "destination": {
            "account": {
                "id": "b",
                "ledger": "default",
                "throughAccount": "world",
                "allowOverdraft": False,
            }
        },
        "amount": {"amount": 100, "asset": "USD"},
        "metadata": {"k": "v"},
        "timestamp": "2025-01-02T03:04:05.12Z",
    }


def test_history_input_omits_what_is_unset_and_never_holds_null() -> None:
    stage = resolve(source={"payment": {"id": "p-1"}}, destination={"wallet": {"name": "w"}})
    assert stage.history_input() == {
        "source": {"payment": {"id": "p-1", "throughAccount": "world", "allowOverdraft": False}},
        "destination": {"wallet": {"id": "", "name": "w", "balance": "main"}},
    }


def test_history_input_of_payment_ends() -> None:
    payin = resolve(
        source={"payment": {"id": "p", "ledger": "psp", "holdingAccount": "hold"}},
        destination={"account": {"id": "b"}},
    )
    assert payin.history_input()["source"] == {
        "payment": {
            "id": "p",
            "ledger": "psp",
            "holdingAccount": "hold",
            "throughAccount": "world",
            "allowOverdraft": False,
        }
    }
    payout = resolve(
        source={"wallet": {"id": "w"}},
        destination={
            "payment": {
                "psp": "stripe",
                "type": "PAYOUT",
                "sourceAccount": "acct",
                "connectorID": "c1",
                "waitingValidation": "true",
            }
        },
        amount=USD,
    )
    assert payout.history_input()["destination"] == {
        "payment": {
            "psp": "stripe",
            "type": "PAYOUT",
            "sourceAccount": "acct",
            "metadata": "formanceAccountID",
            "waitingValidation": True,
            "connectorId": "c1",
        }
    }
    bare = resolve(source={"account": {"id": "a"}}, destination={"payment": {}}, amount=USD)
    assert bare.history_input()["destination"] == {
        "payment": {
            "psp": "",
            "type": "TRANSFER",
            "metadata": "formanceAccountID",
            "waitingValidation": False,
        }
    }


def test_the_resolved_stage_equals_its_model() -> None:
    stage = resolve(
        source={"account": {"id": "a"}}, destination={"wallet": {"id": "w"}}, amount=USD
    )
    assert stage == Send(
        source=Source(account=Account("a", "default", "world", False)),
        destination=Destination(wallet=Wallet("w", "", "main")),
        amount=Amount(100, "USD"),
    )
