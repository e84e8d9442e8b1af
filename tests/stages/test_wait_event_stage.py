"""`wait_event` (docs/stages.md)."""

import pytest
from stage_fakes import FakeStageContext

from flows.stages import StageFailure
from flows.stages.wait_event import WaitEvent


def test_the_event_name_is_interpolated() -> None:
    assert WaitEvent.resolve({"event": "approved"}, {}) == WaitEvent(event="approved")
    assert WaitEvent.resolve({"event": "paid-${id}"}, {"id": "42"}) == WaitEvent(event="paid-42")


def test_the_history_input_is_the_event_name() -> None:
    assert WaitEvent(event="approved").history_input() == {"event": "approved"}


@pytest.mark.parametrize(
    ("params", "variables"), [({}, {}), ({"event": ""}, {}), ({"event": "${missing}"}, {})]
)
def test_an_event_name_is_required(params: dict[str, str], variables: dict[str, str]) -> None:
    with pytest.raises(StageFailure, match=r"^wait_event\.event: required$"):
        WaitEvent.resolve(params, variables)


async def test_running_waits_for_the_named_event(ctx: FakeStageContext) -> None:
    await WaitEvent(event="approved").run(ctx)
    assert ctx.waited_for == ["approved"]
