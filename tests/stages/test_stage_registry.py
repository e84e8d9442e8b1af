"""Every stage is registered by the key that names it in a config, with its history name."""

from flows.stages import STAGES, Stage


def test_stages_by_kind_with_their_history_names() -> None:
    assert {kind: stage.history_name for kind, stage in STAGES.items()} == {
        "noop": "RunNoop",
        "delay": "RunDelay",
        "wait_event": "RunWaitEvent",
        "send": "RunSend",
        "update": "RunUpdate",
    }
    assert all(issubclass(stage, Stage) and stage.kind == kind for kind, stage in STAGES.items())
