"""Instances survive the service going away: a graceful restart, and a SIGKILL mid-flight."""

from __future__ import annotations

import sqlite3
import stat

import httpx
import pytest

from tests.engine.helpers import (
    create_workflow,
    history,
    instance,
    run,
    waiting_on_event,
)
from tests.support.polling import eventually
from tests.support.service import FlowsProcess


def test_a_waiting_instance_survives_a_graceful_restart(service: FlowsProcess) -> None:
    workflow_id = create_workflow(service.url, [{"wait_event": {"event": "approved"}}, {"noop": {}}])
    instance_id = run(service.url, workflow_id)
    eventually(lambda: waiting_on_event(service.url, instance_id))

    assert service.stop() == 0
    service.start()

    assert not instance(service.url, instance_id)["terminated"]
    sent = httpx.post(f"{service.url}/instances/{instance_id}/events", json={"name": "approved"})
    assert sent.status_code == 204
    eventually(lambda: instance(service.url, instance_id)["terminated"])
    ended = instance(service.url, instance_id)
    assert "error" not in ended
    assert [entry["name"] for entry in history(service.url, instance_id)] == ["RunWaitEvent", "RunNoop"]


def test_instances_complete_after_a_crash_and_run_each_stage_once(service: FlowsProcess) -> None:
    waiting = run(service.url, create_workflow(service.url, [{"noop": {}}, {"wait_event": {"event": "go"}}]))
    delaying = run(service.url, create_workflow(service.url, [{"delay": {"duration": "3s"}}, {"noop": {}}]))
    eventually(lambda: waiting_on_event(service.url, waiting))
    eventually(lambda: bool(history(service.url, delaying)))

    service.kill()  # SIGKILL: no cleanup, the embedded Temporal is left behind
    service.start()

    assert httpx.post(f"{service.url}/instances/{waiting}/events", json={"name": "go"}).status_code == 204
    for instance_id in (waiting, delaying):
        eventually(lambda instance_id=instance_id: instance(service.url, instance_id)["terminated"])
        ended = instance(service.url, instance_id)
        assert "error" not in ended
        assert [row["stage"] for row in ended["status"]] == [0, 1]
        assert all("terminatedAt" in row and "error" not in row for row in ended["status"])
    assert [e["name"] for e in history(service.url, waiting)] == ["RunNoop", "RunWaitEvent"]
    assert [e["name"] for e in history(service.url, delaying)] == ["RunDelay", "RunNoop"]


def test_a_second_serve_on_the_same_data_dir_is_refused(service: FlowsProcess) -> None:
    second = FlowsProcess(service.data_dir)
    with pytest.raises(RuntimeError, match="another flows serve"):
        second.start()


def test_an_instance_temporal_never_heard_of_is_ended_at_startup(service: FlowsProcess) -> None:
    workflow_id = create_workflow(service.url, [{"noop": {}}])
    service.stop()
    with sqlite3.connect(service.data_dir / "flows.db") as database:
        database.execute(
            "INSERT INTO workflow_instances (id, workflow_id, created_at, updated_at, terminated) "
            "VALUES ('lost-instance', ?, '2025-01-01 00:00:00', '2025-01-01 00:00:00', 0)",
            (workflow_id,),
        )
    service.start()

    eventually(lambda: instance(service.url, "lost-instance")["terminated"])
    assert "Temporal state was lost" in instance(service.url, "lost-instance")["error"]


def test_what_serve_creates_in_its_data_dir_is_private(service: FlowsProcess) -> None:
    create_workflow(service.url, [{"noop": {}}])  # the database and its WAL written
    assert stat.S_IMODE(service.data_dir.stat().st_mode) == 0o700
    files = {path.name: stat.S_IMODE(path.stat().st_mode) for path in service.data_dir.iterdir()}
    assert {"flows.db", "flows.db-wal", "temporal.db", "temporal.log", "temporal.pid"} <= set(files)
    assert {name: mode for name, mode in files.items() if mode & 0o077} == {}
