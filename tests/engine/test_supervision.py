"""`flows serve` keeps its embedded Temporal running, and says when a dependency is down."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.engine.helpers import (
    create_workflow,
    ended,
    history,
    instance,
    run,
    temporal_address,
    temporal_pid,
    waiting_on_event,
)
from tests.support.polling import eventually
from tests.support.service import FlowsProcess

WAIT_TIMEOUT = 3.0
STALL = 4.0
"""Longer than what the margins below allow: a stall counted twice would fail the test."""
MARGIN = 2.5


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """The process frozen (SIGSTOP) for the block: up, but answering nothing."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def send(url: str, instance_id: str, name: str) -> int:
    try:
        return httpx.post(f"{url}/instances/{instance_id}/events", json={"name": name}, timeout=10).status_code
    except httpx.HTTPError:
        return 0


def test_a_killed_embedded_temporal_is_restarted_and_instances_carry_on(service: FlowsProcess) -> None:
    waiting = run(service.url, create_workflow(service.url, [{"wait_event": {"event": "go"}}, {"noop": {}}]))
    delaying = run(service.url, create_workflow(service.url, [{"delay": {"duration": "4s"}}, {"noop": {}}]))
    eventually(lambda: waiting_on_event(service.url, waiting))
    eventually(lambda: bool(history(service.url, delaying)))
    address, dead = temporal_address(service.data_dir), temporal_pid(service.data_dir)

    os.kill(dead, signal.SIGKILL)

    restarted = eventually(lambda: _running_pid(service.data_dir, other_than=dead), timeout=60)
    assert temporal_address(service.data_dir) == address  # the same ports: clients reconnect
    eventually(lambda: send(service.url, waiting, "go") == 204, timeout=60, step=0.5)
    for instance_id in (waiting, delaying):
        finished = eventually(lambda i=instance_id: ended(service.url, i), timeout=60)
        assert "error" not in finished
        assert [row["stage"] for row in finished["status"]] == [0, 1]
    assert temporal_pid(service.data_dir) == restarted
    assert "embedded Temporal restarted" in service.log_tail(200)
    assert httpx.get(f"{service.url}/_healthcheck").status_code == 200


def test_the_healthcheck_answers_503_while_temporal_does_not_answer(service: FlowsProcess) -> None:
    with stopped(temporal_pid(service.data_dir)):
        asked = time.monotonic()
        response = httpx.get(f"{service.url}/_healthcheck", timeout=30)
        answered = time.monotonic() - asked
    assert response.status_code == 503
    assert response.json() == {"errorCode": "INTERNAL", "errorMessage": "Temporal is unavailable, retry later"}
    assert answered < 2 + MARGIN  # each check is bounded; none hangs the answer
    eventually(lambda: httpx.get(f"{service.url}/_healthcheck").status_code == 200)


@pytest.fixture
def waiting_service(tmp_path: Path) -> Iterator[FlowsProcess]:
    process = FlowsProcess(tmp_path / "data", "--wait-timeout", str(WAIT_TIMEOUT)).start()
    try:
        yield process
    finally:
        process.stop()


def test_run_and_wait_counts_a_slow_start_against_its_timeout(waiting_service: FlowsProcess) -> None:
    url = waiting_service.url
    workflow_id = create_workflow(url, [{"wait_event": {"event": "never"}}])
    answers: list[httpx.Response] = []

    def run_and_wait() -> None:
        answers.append(httpx.post(f"{url}/workflows/{workflow_id}/instances?wait=true", timeout=60))

    caller = threading.Thread(target=run_and_wait)
    with stopped(temporal_pid(waiting_service.data_dir)):
        asked = time.monotonic()
        caller.start()
        time.sleep(STALL)  # Temporal cannot take the start for this long
    caller.join()
    answered = time.monotonic() - asked

    [response] = answers
    assert response.status_code == 201, response.text
    started = response.json()["data"]
    assert started["terminated"] is False
    assert instance(url, started["id"])["id"] == started["id"]  # started and recorded
    # Not the stall and then the whole wait on top: the wait's time had run out.
    assert answered < STALL + MARGIN


def _running_pid(data_dir: Path, other_than: int) -> int | None:
    try:
        pid = temporal_pid(data_dir)
        os.kill(pid, 0)
    except (FileNotFoundError, ValueError, ProcessLookupError):
        return None
    return pid if pid != other_than else None
