"""`delay` (docs/stages.md): a Go duration or an RFC 3339 date, exactly one."""

from datetime import UTC, datetime, timedelta

import pytest
from stage_fakes import FakeStageContext

from flows.stages import StageFailure
from flows.stages.delay import Delay

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_a_duration_resolves_to_nanoseconds_and_shows_as_go_prints_it() -> None:
    stage = Delay.resolve({"duration": "90s"}, {})
    assert stage == Delay(duration=90_000_000_000)
    assert stage.history_input() == {"duration": "1m30s"}


@pytest.mark.parametrize(
    ("written", "shown"),
    [("1.5s", "1.5s"), ("1h30m", "1h30m0s"), ("500ms", "500ms"), ("0", "0s"), ("-2m", "-2m0s")],
)
def test_durations_show_in_go_form(written: str, shown: str) -> None:
    assert Delay.resolve({"duration": written}, {}).history_input() == {"duration": shown}


def test_a_date_resolves_to_utc_and_shows_as_rfc3339() -> None:
    stage = Delay.resolve({"until": "2025-01-02T05:04:05.250+02:00"}, {})
    assert stage == Delay(until=datetime(2025, 1, 2, 3, 4, 5, 250_000, tzinfo=UTC))
    assert stage.history_input() == {"until": "2025-01-02T03:04:05.25Z"}


def test_values_come_from_variables() -> None:
    assert Delay.resolve({"duration": "${wait}"}, {"wait": "10s"}) == Delay(duration=10_000_000_000)
    assert Delay.resolve({"until": "${deadline}"}, {"deadline": "2025-01-02T03:04:05Z"}) == Delay(
        until=NOW
    )


def test_the_one_whose_variable_is_given_is_used() -> None:
    params = {"duration": "${wait}", "until": "${deadline}"}
    assert Delay.resolve(params, {"wait": "1s"}) == Delay(duration=1_000_000_000)


@pytest.mark.parametrize(
    ("params", "variables", "message"),
    [
        ({}, {}, "delay: exactly one of 'duration' or 'until' is required"),
        ({"duration": "${wait}"}, {}, "delay: exactly one of 'duration' or 'until' is required"),
        ({"until": "${deadline}"}, {}, "delay: exactly one of 'duration' or 'until' is required"),
        (
            {"duration": "1s", "until": "2025-01-02T03:04:05Z"},
            {},
            "delay: only one of 'duration' or 'until' may be given, got 'duration' and 'until'",
        ),
        (
            {"duration": "${wait}"},
            {"wait": "1 day"},
            "delay.duration: expected a duration with units",
        ),
        (
            {"until": "${deadline}"},
            {"deadline": "tomorrow"},
            "delay.until: expected an RFC 3339 date",
        ),
    ],
)
def test_resolution_fails_with_a_message_naming_the_field(
    params: dict[str, str], variables: dict[str, str], message: str
) -> None:
    with pytest.raises(StageFailure) as caught:
        Delay.resolve(params, variables)
    assert str(caught.value).startswith(message)


def test_a_bad_variable_value_is_quoted_with_its_template() -> None:
    with pytest.raises(StageFailure, match=r"got '1 day' \(from '\$\{wait\}'\)"):
        Delay.resolve({"duration": "${wait}"}, {"wait": "1 day"})


async def test_a_duration_sleeps_that_long(ctx: FakeStageContext) -> None:
    await Delay.resolve({"duration": "1m30s"}, {}).run(ctx)
    assert ctx.slept == [90.0]


async def test_until_sleeps_from_the_engine_clock(ctx: FakeStageContext) -> None:
    ctx.clock = NOW
    deadline = NOW + timedelta(minutes=5, milliseconds=500)
    await Delay(until=deadline).run(ctx)
    assert ctx.slept == [300.5]


@pytest.mark.parametrize(
    "stage",
    [
        Delay(duration=0),
        Delay(duration=-120_000_000_000),
        Delay(until=NOW),
        Delay(until=NOW - timedelta(days=1)),
    ],
)
async def test_zero_negative_and_past_delays_return_without_sleeping(
    ctx: FakeStageContext, stage: Delay
) -> None:
    ctx.clock = NOW
    await stage.run(ctx)
    assert ctx.slept == []
