"""Workflow configs are validated in full at creation (docs/differences.md#4).

Each rejected config raises ConfigError whose message starts with the path of the culprit, so
that the API can answer 400 with it.
"""

from typing import Any

import pytest

from flows.stages import ConfigError
from flows.workflows import MAX_STAGES, validate_config


def rejected(config: Any) -> str:
    with pytest.raises(ConfigError) as caught:
        validate_config(config)
    return str(caught.value)


def one_stage(kind: str, params: Any) -> dict[str, Any]:
    return {"stages": [{kind: params}]}


ACCOUNT = {"account": {"id": "users:001"}}
USD = {"amount": 100, "asset": "USD/2"}


def send(**params: Any) -> dict[str, Any]:
    return one_stage(
        "send",
        {"source": ACCOUNT, "destination": {"account": {"id": "bank"}}, "amount": USD} | params,
    )


# --- the config as a whole ---------------------------------------------------------------------


def test_a_valid_config_is_returned_unchanged() -> None:
    config = {
        "name": "example",
        "stages": [
            {"noop": {}},
            {"delay": {"duration": "1m30s"}},
            {"wait_event": {"event": "approved"}},
            {"send": {"source": ACCOUNT, "destination": {"wallet": {"name": "w"}}, "amount": USD}},
            {"update": {"account": {"id": "users:001", "metadata": {"k": "v"}}}},
        ],
        "unknownTopLevel": 1,
    }
    snapshot = repr(config)
    assert validate_config(config) is config
    assert repr(config) == snapshot


def test_an_empty_stage_list_is_a_valid_config() -> None:
    assert validate_config({"stages": []}) == {"stages": []}


@pytest.mark.parametrize("body", [None, [], "stages", 3])
def test_the_config_must_be_an_object(body: Any) -> None:
    assert rejected(body) == "a workflow config must be an object"


@pytest.mark.parametrize("config", [{}, {"name": "x"}, {"stages": None}])
def test_stages_are_required(config: dict[str, Any]) -> None:
    assert "a workflow config needs 'stages'" in rejected(config)


@pytest.mark.parametrize("stages", [{}, "noop", 1])
def test_stages_must_be_a_list(stages: Any) -> None:
    assert rejected({"stages": stages}) == "stages: expected a list"


def test_the_name_is_an_optional_string() -> None:
    assert validate_config({"stages": [], "name": "n"})
    assert validate_config({"stages": [], "name": None})
    assert rejected({"stages": [], "name": 5}) == "name: expected a string"


def test_at_most_a_thousand_stages() -> None:
    assert MAX_STAGES == 1000
    assert validate_config({"stages": [{"noop": {}}] * 1000})
    assert rejected({"stages": [{"noop": {}}] * 1001}).startswith("stages: at most 1000 stages")


def test_a_stage_is_an_object_with_exactly_one_key() -> None:
    stages: list[Any] = [{"noop": {}}, {"noop": {}}, {"noop": {}}]
    assert rejected({"stages": [*stages, {}]}) == "stages[3]: empty specification"
    assert rejected({"stages": [*stages, {"noop": {}, "delay": {}}]}) == (
        "stages[3]: a specification should have only one name"
    )
    assert rejected({"stages": [*stages, "noop"]}).startswith("stages[3]: expected an object")


def test_stage_types_are_known_and_case_sensitive() -> None:
    assert rejected({"stages": [{"noop": {}}, {"foo": {}}]}).startswith(
        "stages[1]: unknown stage type 'foo'"
    )
    assert rejected(one_stage("Noop", {})).startswith("stages[0]: unknown stage type 'Noop'")


# --- noop ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [{}, None])
def test_noop_takes_nothing(params: Any) -> None:
    assert validate_config(one_stage("noop", params))


def test_noop_rejects_any_parameter() -> None:
    assert rejected(one_stage("noop", {"x": 1})) == "stages[0].noop.x: unknown field"
    assert rejected(one_stage("noop", [])) == "stages[0].noop: expected an object"


# --- delay ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"duration": "10s"},
        {"duration": "1h30m"},
        {"duration": "-2m"},
        {"duration": "0"},
        {"duration": "${wait}"},
        {"until": "2024-01-02T03:04:05Z"},
        {"until": "2024-01-02T03:04:05.123456789+02:00"},
        {"until": "${deadline}"},
        {"duration": "${wait}", "until": "${deadline}"},  # only one may turn out non-empty
    ],
)
def test_delay_accepts_a_duration_or_a_date(params: dict[str, Any]) -> None:
    assert validate_config(one_stage("delay", params))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "stages[0].delay: exactly one of 'duration' or 'until' is required"),
        (None, "stages[0].delay: exactly one of 'duration' or 'until' is required"),
        ({"duration": ""}, "stages[0].delay: exactly one of 'duration' or 'until' is required"),
        (
            {"duration": "1s", "until": "2024-01-02T03:04:05Z"},
            (
                "stages[0].delay: only one of 'duration' or 'until' may be given, "
                "got 'duration' and 'until'"
            ),
        ),
        ({"duration": 10}, "stages[0].delay.duration: expected a string"),
        ({"until": 1700000000}, "stages[0].delay.until: expected a string"),
        ({"duratoin": "1s"}, "stages[0].delay.duratoin: unknown field"),
    ],
)
def test_delay_rejects(params: Any, message: str) -> None:
    assert rejected(one_stage("delay", params)) == message


@pytest.mark.parametrize("duration", ["10", "1d", "1h 30m", "soon", "${}"])
def test_delay_duration_must_be_a_go_duration(duration: str) -> None:
    assert rejected(one_stage("delay", {"duration": duration})).startswith(
        "stages[0].delay.duration: expected a duration with units ns, us, ms, s, m or h "
        f"(like 30s or 1h30m), got '{duration}'"
    )


@pytest.mark.parametrize(
    "until", ["2024-01-02", "2024-01-02T03:04:05", "2024-01-02 03:04:05Z", "2024-13-02T03:04:05Z"]
)
def test_delay_until_must_be_rfc3339_with_a_zone(until: str) -> None:
    assert rejected(one_stage("delay", {"until": until})).startswith(
        "stages[0].delay.until: expected an RFC 3339 date"
    )


# --- wait_event ----------------------------------------------------------------------------------


def test_wait_event_needs_an_event_name() -> None:
    assert validate_config(one_stage("wait_event", {"event": "approved"}))
    assert validate_config(one_stage("wait_event", {"event": "${event}"}))
    assert rejected(one_stage("wait_event", {})) == "stages[0].wait_event.event: required"
    assert (
        rejected(one_stage("wait_event", {"event": ""})) == "stages[0].wait_event.event: required"
    )
    assert (
        rejected(one_stage("wait_event", {"event": 1}))
        == "stages[0].wait_event.event: expected a string"
    )
    assert rejected(one_stage("wait_event", {"event": "a", "timeout": "1s"})) == (
        "stages[0].wait_event.timeout: unknown field"
    )


# --- update --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"account": {"id": "users:001", "metadata": {"kyc": "done"}}},
        {"account": {"id": "merchant:${merchantID}", "ledger": "main", "metadata": {}}},
        {"account": {"id": "a", "metadata": {"paymentAccount": "${paymentAccountID}"}}},
    ],
)
def test_update_accepts_account_metadata(params: dict[str, Any]) -> None:
    assert validate_config(one_stage("update", params))


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "stages[0].update.account: required"),
        ({"account": {"metadata": {}}}, "stages[0].update.account.id: required"),
        ({"account": {"id": "a"}}, "stages[0].update.account.metadata: required"),
        (
            {"account": {"id": "a", "metadata": {"n": 1}}},
            "stages[0].update.account.metadata.n: expected a string",
        ),
        (
            {"account": {"id": "a", "metadata": ["x"]}},
            "stages[0].update.account.metadata: expected an object of strings",
        ),
        (
            {"account": {"id": "a", "metadata": {}, "ledgr": "x"}},
            "stages[0].update.account.ledgr: unknown field",
        ),
        ({"wallet": {}}, "stages[0].update.wallet: unknown field"),
        ({"account": "a"}, "stages[0].update.account: expected an object"),
    ],
)
def test_update_rejects(params: Any, message: str) -> None:
    assert rejected(one_stage("update", params)) == message


# --- send ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {
            "source": ACCOUNT,
            "destination": {"account": {"id": "b", "ledger": "other"}},
            "amount": USD,
        },
        {"source": ACCOUNT, "destination": {"wallet": {"id": "w1"}}, "amount": USD},
        {
            "source": {"wallet": {"name": "main-wallet", "balance": "savings"}},
            "destination": ACCOUNT,
            "amount": USD,
        },
        {"source": {"payment": {"id": "pay-1"}}, "destination": ACCOUNT},  # amount from the payment
        {
            "source": {"payment": {"id": "pay-1"}},
            "destination": {"wallet": {"name": "w"}},
            "amount": USD,
        },
        {"source": ACCOUNT, "destination": {"payment": {"psp": "stripe"}}, "amount": USD},
        {
            "source": ACCOUNT,
            "destination": {
                "payment": {
                    "psp": "wise",
                    "type": "payout",
                    "connectorID": "c1",
                    "waitingValidation": True,
                }
            },
            "amount": USD,
        },
        {
            "source": ACCOUNT,
            "destination": {"payment": {"psp": "x", "connectorId": "c1", "type": ""}},
            "amount": USD,
        },
        {
            "source": ACCOUNT,
            "destination": ACCOUNT,
            "amount": {"amount": "${amount}", "asset": "${asset}"},
        },
        {"source": ACCOUNT, "destination": ACCOUNT, "amount": {"amount": "2819", "asset": "USD"}},
        {
            "source": ACCOUNT,
            "destination": ACCOUNT,
            "amount": USD,
            "metadata": {"k": "v", "ref": "${ref}"},
        },
        {
            "source": ACCOUNT,
            "destination": ACCOUNT,
            "amount": USD,
            "timestamp": "2024-01-02T03:04:05Z",
        },
        {"source": ACCOUNT, "destination": ACCOUNT, "amount": USD, "timestamp": "${timestamp}"},
        {
            "source": {
                "account": {"id": "a", "allowOverdraft": "${overdraft}", "throughAccount": "t"}
            },
            "destination": {"account": {"id": "b", "allowOverdraft": "TRUE"}},
            "amount": USD,
        },
        {
            "source": {"wallet": {"id": "${walletID}", "name": "${walletName}"}},
            "destination": ACCOUNT,
            "amount": USD,
        },
    ],
)
def test_send_accepts(params: dict[str, Any]) -> None:
    assert validate_config(one_stage("send", params))


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (one_stage("send", {}), "stages[0].send.source: required"),
        (one_stage("send", None), "stages[0].send.source: required"),
        (send(destination=None), "stages[0].send.destination: required"),
        (send(source="a"), "stages[0].send.source: expected an object"),
        (
            send(source={}),
            "stages[0].send.source: exactly one of 'account' or 'wallet' or 'payment' is required",
        ),
        (
            send(destination={"account": {"id": "a"}, "wallet": {"id": "w"}}),
            (
                "stages[0].send.destination: "
                "only one of 'account' or 'wallet' or 'payment' may be given, "
                "got 'account' and 'wallet'"
            ),
        ),
        (send(source={"acount": {"id": "a"}}), "stages[0].send.source.acount: unknown field"),
        (
            send(source={"account": {"id": "a", "overdraft": True}}),
            "stages[0].send.source.account.overdraft: unknown field",
        ),
        (send(source={"account": {}}), "stages[0].send.source.account.id: required"),
        (send(source={"account": {"id": ""}}), "stages[0].send.source.account.id: required"),
        (
            send(source={"account": {"id": 1}}),
            "stages[0].send.source.account.id: expected a string",
        ),
        (
            send(source={"account": {"id": "a", "ledger": 1}}),
            "stages[0].send.source.account.ledger: expected a string",
        ),
        (
            send(source={"account": {"id": "a", "allowOverdraft": "yes"}}),
            "stages[0].send.source.account.allowOverdraft: expected true or false, got 'yes'",
        ),
        (
            send(source={"account": {"id": "a", "allowOverdraft": 1}}),
            "stages[0].send.source.account.allowOverdraft: expected a boolean",
        ),
        (
            send(source={"wallet": {}}),
            "stages[0].send.source.wallet: exactly one of 'id' or 'name' is required",
        ),
        (
            send(source={"wallet": {"balance": "main"}}),
            "stages[0].send.source.wallet: exactly one of 'id' or 'name' is required",
        ),
        (
            send(source={"wallet": {"id": "w", "name": "n"}}),
            (
                "stages[0].send.source.wallet: "
                "only one of 'id' or 'name' may be given, got 'id' and 'name'"
            ),
        ),
        (send(source={"payment": {}}), "stages[0].send.source.payment.id: required"),
        (
            send(source={"payment": {"id": "p", "psp": "x"}}),
            "stages[0].send.source.payment.psp: unknown field",
        ),
        (
            send(destination={"payment": {"id": "p"}}),
            "stages[0].send.destination.payment.id: unknown field",
        ),
        (
            send(source={"payment": {"id": "p"}}, destination={"payment": {"psp": "stripe"}}),
            "stages[0].send: sending from a payment to a payment is not supported",
        ),
        (
            send(destination={"payment": {"psp": "stripe", "type": "wire"}}),
            "stages[0].send.destination.payment.type: expected TRANSFER or PAYOUT, got 'wire'",
        ),
        (
            send(destination={"payment": {"connectorId": "a", "connectorID": "b"}}),
            (
                "stages[0].send.destination.payment: "
                "'connectorId' and 'connectorID' are the same field; give only one"
            ),
        ),
        (
            send(amount=None),
            "stages[0].send.amount: required (only a payment source may leave it out)",
        ),
        (send(amount={"asset": "USD"}), "stages[0].send.amount.amount: required"),
        (send(amount={"amount": 100}), "stages[0].send.amount.asset: required"),
        (send(amount={"amount": "", "asset": "USD"}), "stages[0].send.amount.amount: required"),
        (
            send(amount={"amount": 1, "asset": "USD", "scale": 2}),
            "stages[0].send.amount.scale: unknown field",
        ),
        (send(amount=100), "stages[0].send.amount: expected an object"),
        (send(metadata={"k": 1}), "stages[0].send.metadata.k: expected a string"),
        (send(metadata="k"), "stages[0].send.metadata: expected an object of strings"),
        (send(timestamp="yesterday"), "stages[0].send.timestamp: expected an RFC 3339 date"),
        (send(timestamp=1700000000), "stages[0].send.timestamp: expected a string"),
        (send(reference="r"), "stages[0].send.reference: unknown field"),
    ],
)
def test_send_rejects(config: dict[str, Any], message: str) -> None:
    assert rejected(config).startswith(message)


# Amounts are integers of the asset's smallest unit, taken exactly or refused: never rounded.
NOT_AN_INTEGER = "is not an integer (expected digits only, like 2819)"
NEVER_ROUNDED = "(amounts are never rounded)"
TOO_LARGE = "must be at most 2^256-1 (a 78-digit number)"


@pytest.mark.parametrize(
    "amount",
    [0, 1, 2819, 2**53 + 1, 2**60 + 1, 2**63 - 1, 2**64, 2**256 - 1, "0", "2819", str(2**60 + 1)],
)
def test_send_accepts_integer_amounts(amount: Any) -> None:
    config = send(amount={"amount": amount, "asset": "USD/2"})
    assert validate_config(config) == config


@pytest.mark.parametrize(
    ("amount", "message"),
    [
        (1.5, f"expected an integer in the asset's smallest unit, got 1.5 {NEVER_ROUNDED}"),
        (0.5, f"expected an integer in the asset's smallest unit, got 0.5 {NEVER_ROUNDED}"),
        # Integral floats too: `1e3` and `1000.0` are how JSON writes floats, not integers.
        (1e3, f"expected an integer in the asset's smallest unit, got 1000.0 {NEVER_ROUNDED}"),
        (1.0, f"expected an integer in the asset's smallest unit, got 1.0 {NEVER_ROUNDED}"),
        (2.0**60, f"expected an integer in the asset's smallest unit, got {2.0**60!r}"),
        (-1, "must not be negative, got -1"),
        (-(2**60), f"must not be negative, got {-(2**60)}"),
        (2**256, TOO_LARGE),
        (10**100, TOO_LARGE),
        (True, "expected an integer or a string"),
        (False, "expected an integer or a string"),
        ([1], "expected an integer or a string"),
        ({"value": 1}, "expected an integer or a string"),
        ("abc", f"'abc' {NOT_AN_INTEGER}"),
        ("1.5", f"'1.5' {NOT_AN_INTEGER}"),
        ("1e3", f"'1e3' {NOT_AN_INTEGER}"),
        ("1000.0", f"'1000.0' {NOT_AN_INTEGER}"),
        (" 12", f"' 12' {NOT_AN_INTEGER}"),
        ("12 ", f"'12 ' {NOT_AN_INTEGER}"),
        ("+5", f"'+5' {NOT_AN_INTEGER}"),
        ("007", f"'007' {NOT_AN_INTEGER}"),
        ("0x10", f"'0x10' {NOT_AN_INTEGER}"),
        ("1_000", f"'1_000' {NOT_AN_INTEGER}"),
        ("١٢", f"'١٢' {NOT_AN_INTEGER}"),  # Arabic-Indic digits: int() reads them, JSON does not
        ("-3", "'-3' must not be negative"),
        (str(2**256), f"'{str(2**256)[:40]}…' {TOO_LARGE}"),
        ("9" * 100_000, f"'{'9' * 40}…' {TOO_LARGE}"),
    ],
)
def test_send_rejects_amounts_that_are_not_integers_in_range(amount: Any, message: str) -> None:
    config = send(amount={"amount": amount, "asset": "USD/2"})
    assert rejected(config).startswith(f"stages[0].send.amount.amount: {message}")


def test_an_amount_is_checked_in_every_stage_and_named_by_its_position() -> None:
    ok = send()["stages"][0]
    bad = send(amount={"amount": 0.5, "asset": "USD/2"})["stages"][0]
    assert rejected({"stages": [ok, {"noop": {}}, bad]}).startswith(
        "stages[2].send.amount.amount: expected an integer"
    )


def test_errors_name_the_stage_position() -> None:
    config = {
        "stages": [
            {"noop": {}},
            {"noop": {}},
            {"delay": {"duration": "5s"}},
            {"send": {"source": {}}},
        ]
    }
    assert rejected(config).startswith("stages[3].send.source: ")
