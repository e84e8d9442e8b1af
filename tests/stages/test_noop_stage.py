"""`noop` (docs/stages.md)."""

import pytest
from stage_fakes import FakeStageContext

from flows.stages import ConfigError, StageFailure
from flows.stages.noop import Noop


def test_noop_resolves_from_an_empty_object_or_null() -> None:
    assert Noop.resolve({}, {}) == Noop()
    assert Noop.resolve(None, {"a": "b"}) == Noop()


def test_noop_takes_no_parameters() -> None:
    with pytest.raises(ConfigError, match=r"^stages\[0\]\.noop\.x: unknown field$"):
        Noop.check({"x": 1}, "stages[0].noop")
    with pytest.raises(StageFailure, match=r"^noop\.x: unknown field$"):
        Noop.resolve({"x": 1}, {})


async def test_noop_shows_empty_input_and_returns_at_once(ctx: FakeStageContext) -> None:
    stage = Noop.resolve({}, {})
    assert stage.history_input() == {}
    await stage.run(ctx)
    assert ctx.slept == [] and ctx.waited_for == []
