"""Every stage is registered by the key that names it in a config, with its history name."""

import pytest

from flows.stages import STAGES, Delay, MissingVariables, Stage, StageFailure, resolve_stage


def test_stages_by_kind_with_their_history_names() -> None:
    assert {kind: stage.history_name for kind, stage in STAGES.items()} == {
        "noop": "RunNoop",
        "delay": "RunDelay",
        "wait_event": "RunWaitEvent",
        "send": "RunSend",
        "update": "RunUpdate",
    }
    assert all(issubclass(stage, Stage) and stage.kind == kind for kind, stage in STAGES.items())


def test_a_stage_resolves_by_kind_with_the_run_variables() -> None:
    stage = resolve_stage("delay", {"duration": "${d}"}, {"d": "2s"})
    assert stage == Delay(duration=2_000_000_000)


def test_an_unknown_kind_fails_the_stage_by_name() -> None:
    # Only a config stored without validation gets here; the stage says why, it does not crash.
    with pytest.raises(StageFailure, match="unknown stage type 'nope'"):
        resolve_stage("nope", {}, {})


def test_a_stage_that_cannot_resolve_for_want_of_a_variable_names_it() -> None:
    with pytest.raises(MissingVariables) as failure:
        resolve_stage("wait_event", {"event": "${event}"}, {"other": "x"})
    assert str(failure.value) == "wait_event.event: required (run variable 'event' not given)"
    assert failure.value.names == ["event"]


def test_a_variable_given_empty_is_not_missing() -> None:
    with pytest.raises(StageFailure) as failure:
        resolve_stage("wait_event", {"event": "${event}"}, {"event": ""})
    assert not isinstance(failure.value, MissingVariables)
    assert str(failure.value) == "wait_event.event: required"
