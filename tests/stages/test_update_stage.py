"""`update` (docs/stages.md): metadata on a ledger account."""

import pytest
from stage_fakes import FakeStageContext

from flows.stages import StageFailure
from flows.stages.update import AccountUpdate, Update


def test_values_are_interpolated_keys_are_not() -> None:
    stage = Update.resolve(
        {
            "account": {
                "id": "merchant:${merchantID}",
                "metadata": {"${key}": "${paymentAccountID}"},
            }
        },
        {"merchantID": "m1", "paymentAccountID": "acc_1", "key": "k"},
    )
    assert stage == Update(
        account=AccountUpdate(id="merchant:m1", ledger="main", metadata={"${key}": "acc_1"})
    )


def test_the_ledger_defaults_to_main() -> None:
    assert Update.resolve({"account": {"id": "a", "metadata": {}}}, {}).account.ledger == "main"
    assert (
        Update.resolve(
            {"account": {"id": "a", "ledger": "${l}", "metadata": {}}}, {}
        ).account.ledger
        == "main"
    )
    assert (
        Update.resolve(
            {"account": {"id": "a", "ledger": "${l}", "metadata": {}}}, {"l": "x"}
        ).account.ledger
        == "x"
    )


def test_the_history_input_shows_the_resolved_account() -> None:
    stage = Update.resolve(
        {"account": {"id": "abcd", "ledger": "default", "metadata": {"foo": "bar"}}}, {}
    )
    assert stage.history_input() == {
        "account": {"id": "abcd", "ledger": "default", "metadata": {"foo": "bar"}}
    }


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "update.account: required"),
        ({"account": {"id": "${missing}", "metadata": {}}}, "update.account.id: required"),
        ({"account": {"id": "a"}}, "update.account.metadata: required"),
    ],
)
def test_resolution_fails_with_a_message_naming_the_field(
    params: dict[str, object], message: str
) -> None:
    with pytest.raises(StageFailure) as caught:
        Update.resolve(params, {})
    assert str(caught.value) == message


async def test_running_adds_the_metadata_to_the_account(ctx: FakeStageContext) -> None:
    stage = Update.resolve(
        {"account": {"id": "merchant:${id}", "metadata": {"status": "${status}"}}},
        {"id": "42", "status": "active"},
    )
    await stage.run(ctx)
    assert ctx.calls == [
        (
            "AddAccountMetadata",
            {"ledger": "main", "account": "merchant:42", "metadata": {"status": "active"}},
        )
    ]
