"""Logs a person can read (docs/operations.md): a line when an instance starts and ends and when
a stage fails, naming the instance, its workflow and the stage; one line per failed attempt of a
retrying call, without a traceback for an expected failure; `--log-format json` for machines;
`--debug` with Flows' debug lines, not the libraries'."""

from __future__ import annotations

import json
import uuid

import httpx

from tests.support.polling import eventually
from tests.support.service import FlowsProcess


def start(url: str, stages: list[dict[str, object]], variables: dict[str, str] | None = None) -> tuple[str, str]:
    workflow = httpx.post(f"{url}/workflows", json={"stages": stages}, timeout=10).json()["data"]["id"]
    answer = httpx.post(f"{url}/workflows/{workflow}/instances", json=variables or {}, timeout=10)
    assert answer.status_code == 201, answer.text
    return workflow, str(answer.json()["data"]["id"])


def lines_about(service: FlowsProcess, instance: str) -> list[str]:
    return [line for line in service.log_path.read_text().splitlines() if instance in line]


def overdraft(account: str) -> dict[str, object]:
    """A send from an account that holds nothing: the ledger answers insufficient funds, retried."""
    return {
        "send": {
            "source": {"account": {"id": account, "ledger": "default"}},
            "destination": {"account": {"id": "anywhere", "ledger": "default"}},
            "amount": {"amount": 100, "asset": "USD/2"},
        }
    }


def test_a_retrying_send_logs_one_line_per_attempt_and_no_traceback(sqlite_service: FlowsProcess) -> None:
    url = sqlite_service.url
    workflow, instance = start(url, [overdraft(f"empty-{uuid.uuid4().hex[:8]}")])
    attempts = eventually(lambda: _attempts(sqlite_service, instance), 15)
    assert httpx.put(f"{url}/instances/{instance}/abort", timeout=10).status_code == 204
    eventually(lambda: any(line.endswith("aborted") for line in lines_about(sqlite_service, instance)), 10)
    first = attempts[0]
    assert "WARNING flows.activities" in first and "stage 0: CreateTransaction attempt 1 failed" in first
    assert "insufficient funds" in first and first.endswith("next attempt in 1s")
    assert "attempt 2 failed" in attempts[1]
    log = sqlite_service.log_path.read_text()
    around = log[log.index(instance) :]
    assert "Traceback" not in around and "Completing activity as failed" not in around
    [started] = [line for line in lines_about(sqlite_service, instance) if line.endswith(" started")]
    assert f"INFO flows.instances: instance {instance} of workflow {workflow} started" in started


def _attempts(service: FlowsProcess, instance: str) -> list[str]:
    found = [line for line in lines_about(service, instance) if "CreateTransaction attempt" in line]
    return found if len(found) >= 2 else []


def test_an_instance_logs_its_end_and_its_failed_stage(sqlite_service: FlowsProcess) -> None:
    # An amount that is not an integer fails the stage before any call (docs/stages.md).
    refused = {
        "send": {
            "source": {"account": {"id": "world", "ledger": "default"}},
            "destination": {"account": {"id": "x", "ledger": "default"}},
            "amount": {"amount": "${amount}", "asset": "USD/2"},
        }
    }
    workflow, instance = start(sqlite_service.url, [{"noop": {}}, refused], {"amount": "1.5"})
    ended = eventually(
        lambda: [line for line in lines_about(sqlite_service, instance) if " failed: " in line and "flows.instances" in line], 15
    )
    stage_line = next(line for line in ended if "stage 1 failed" in line)
    assert f"INFO flows.instances: instance {instance} of workflow {workflow}: stage 1 failed: send.amount.amount: '1.5'" in stage_line
    end_line = eventually(
        lambda: next((line for line in lines_about(sqlite_service, instance) if f"of workflow {workflow} failed: " in line), None), 10
    )
    assert end_line.split(" failed: ", 1)[1] == stage_line.split(" failed: ", 1)[1]
    assert not any("succeeded" in line for line in lines_about(sqlite_service, instance))


def test_json_logs_are_one_object_per_line_and_debug_leaves_the_libraries_out(observed: FlowsProcess) -> None:
    url = observed.url
    workflow, instance = start(url, [{"noop": {}}])
    eventually(lambda: any('"succeeded"' in line for line in lines_about(observed, instance)), 10)
    records = [json.loads(line) for line in observed.log_path.read_text().splitlines()]
    assert all({"time", "level", "logger", "message"} <= record.keys() for record in records)
    [started] = [r for r in records if r.get("instance_id") == instance and r["message"].endswith("started") and "stage" not in r]
    assert started["workflow_id"] == workflow and started["logger"] == "flows.instances" and started["level"] == "INFO"
    [ended] = [r for r in records if r.get("instance_id") == instance and r.get("outcome") and "stage" not in r]
    assert ended["outcome"] == "succeeded"
    # --debug: Flows' debug lines and the access log are on; the libraries' debug lines stay out.
    assert any(r["level"] == "DEBUG" and r.get("instance_id") == instance and r.get("stage") == 0 for r in records)
    assert any(r["logger"] == "uvicorn.access" for r in records)
    loggers = {r["logger"].split(".")[0] for r in records if r["level"] == "DEBUG"}
    assert not loggers & {"aiosqlite", "sqlalchemy", "httpcore", "httpx", "temporalio", "asyncio"}, loggers
