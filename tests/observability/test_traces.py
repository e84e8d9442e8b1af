"""Traces (docs/operations.md): with the reference's flags, one trace follows a run from the
HTTP request through the instance's Temporal workflow and activities to the stack call, here
received by an OTLP/HTTP collector on loopback."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.observability.otlp import Span, TraceReceiver
from tests.support.polling import eventually
from tests.support.service import FlowsProcess

SERVER, CLIENT = 2, 3
"""OTLP span kinds."""

SEND = {
    "send": {
        "source": {"account": {"id": "world", "ledger": "default"}},
        "destination": {"account": {"id": "traced", "ledger": "default"}},
        "amount": {"amount": 100, "asset": "USD/2"},
    }
}


def _trace_of_run(receiver: TraceReceiver, trace_id: str) -> list[Span] | None:
    spans = [span for span in receiver.received() if span.trace_id == trace_id]
    names = {span.name for span in spans}
    # Complete once the stack call and the end of the workflow are in.
    return spans if {"RunActivity:CreateTransaction", "CompleteWorkflow:Instance"} <= names else None


def test_one_trace_spans_the_request_the_workflow_its_activity_and_the_stack_call(observed: FlowsProcess, receiver: TraceReceiver) -> None:
    workflow = httpx.post(f"{observed.url}/workflows", json={"stages": [SEND]}).json()["data"]["id"]
    run = httpx.post(f"{observed.url}/workflows/{workflow}/instances?wait=true", json={}, timeout=10)
    assert run.status_code == 201 and run.json()["data"]["terminated"], run.text

    def request_span() -> Span | None:
        route = "/workflows/{workflow_id}/instances"
        return next(
            (
                span
                for span in receiver.received()
                if span.kind == SERVER and span.attributes.get("http.route") == route and workflow in str(span.attributes.get("http.url"))
            ),
            None,
        )

    request = eventually(request_span, 10)
    spans = eventually(lambda: _trace_of_run(receiver, request.trace_id), 10)
    by_name = {span.name: span for span in spans}
    assert by_name["StartWorkflow:Instance"].parent_id == request.span_id
    assert "RunWorkflow:Instance" in by_name
    activity = by_name["RunActivity:CreateTransaction"]
    [stack_call] = [span for span in spans if span.kind == CLIENT and span.parent_id == activity.span_id]
    assert stack_call.attributes.get("url.full", stack_call.attributes.get("http.url", "")).endswith("/api/ledger/v2/default/transactions")
    # The sandbox, served by the same process, takes the trace context the call carried.
    assert any(span.kind == SERVER and span.parent_id == stack_call.span_id for span in spans)
    assert {span.service for span in spans} == {"flows"}


def test_traces_are_off_by_default(sqlite_service: FlowsProcess) -> None:
    # No exporter, no instrumentation: a plain service answers without any trace header.
    answer = httpx.get(f"{sqlite_service.url}/_info")
    assert answer.status_code == 200 and "traceparent" not in answer.headers


@pytest.mark.skipif(importlib.util.find_spec("grpc") is not None, reason="the otlp-grpc extra is installed")
def test_otlp_over_grpc_without_its_extra_is_refused_in_one_line(tmp_path: Path) -> None:
    command = [sys.executable, "-m", "flows.cli", "serve", "--data-dir", str(tmp_path / "data"), "--listen", "127.0.0.1:0"]
    result = subprocess.run(
        [*command, "--otel-traces", "--otel-traces-exporter", "otlp"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert "pip install 'flows[otlp-grpc]'" in line and "--otel-traces-exporter-otlp-mode http" in line
