"""A worker asked to stop (SIGTERM) lets the stack calls it is running finish before it exits
(docs/deploy.md, graceful shutdown): a deploy does not turn every call in flight into a retry."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from tests.support.polling import eventually
from tests.support.service import FlowsProcess, WorkerProcess
from tests.support.stack import HOOKS, hold, new_ledger, waiting


def test_a_stopping_worker_finishes_the_stack_call_in_flight(tmp_path: Path) -> None:
    api = FlowsProcess(tmp_path / "data", "--worker=false", "--sandbox-test-hooks").start()
    worker = WorkerProcess(tmp_path / "worker", [], data_dir=api.data_dir).start()
    second = WorkerProcess(tmp_path / "worker-2", [], data_dir=api.data_dir)
    try:
        worker.wait_polling()
        ledger = new_ledger(api.url)
        held = hold(api.url, "POST", f"/api/ledger/v2/{ledger}/transactions", "before-commit")
        send = {"source": {"account": {"id": "world", "ledger": ledger}}, "destination": {"account": {"id": "users:1", "ledger": ledger}}}
        send["amount"] = {"amount": 100, "asset": "USD/2"}
        workflow = httpx.post(f"{api.url}/workflows", json={"stages": [{"send": send}]}).json()["data"]["id"]
        instance = httpx.post(f"{api.url}/workflows/{workflow}/instances", json={}).json()["data"]["id"]
        eventually(lambda: waiting(api.url, held) == 1, timeout=60)

        # Asked to stop while its call is parked in the sandbox, the worker waits for the answer.
        assert worker.process is not None
        worker.process.terminate()
        time.sleep(1)
        assert worker.process.poll() is None, "the worker left before its call ended"
        httpx.delete(f"{api.url}{HOOKS}/holds/{held}")
        assert worker.process.wait(30) == 0, worker.log_tail()

        # Another worker finishes the instance with the answer the first one got: one attempt.
        second.start()

        def ended() -> dict | None:
            found = httpx.get(f"{api.url}/instances/{instance}").json()["data"]
            return found if found["terminated"] else None

        assert "error" not in eventually(ended, timeout=60)
        [call] = httpx.get(f"{api.url}/instances/{instance}/stages/0/history").json()["data"]
        assert call["name"] == "CreateTransaction" and call["attempt"] == 1 and call["terminated"] is True
    finally:
        worker.stop()
        second.stop()
        api.stop()
