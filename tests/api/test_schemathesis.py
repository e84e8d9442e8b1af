"""Schemathesis, driven by the OpenAPI document a real `flows serve` serves, on every operation.

Each operation gets requests generated from its description in the document, valid ones and
invalid ones, and every answer must be no 5xx, have a status the operation documents, with the
content type, headers and body schema documented for that status. In about half the cases the
path parameters name real objects made for the run (a workflow, instances, a trigger that fired;
a dead letter is there too), so that requests reach real resources and not only 404s; each goes to one of the document's two
servers, the root or the gateway prefix.

Examples are derandomized and bounded, so that a run is the same on every machine.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flows.api.openapi import document
from tests.support.polling import eventually
from tests.support.service import FlowsProcess

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

TIMEOUT_S = 20
"""Longer than any wait of the server (`wait=true`: 4 s)."""

PAY = {
    "send": {
        "source": {"account": {"id": "world"}},
        "destination": {"account": {"id": "users:1"}},
        "amount": {"amount": 100, "asset": "USD/2"},
    }
}


def _data(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()["data"]


def _seed(client: httpx.Client) -> dict[str, str]:
    """Real objects for the operations to reach, by the name of the path parameter (and, for
    the operations that would destroy or end them, their own)."""
    waiting = _data(client.post("/workflows", json={"name": "waiting", "stages": [{"wait_event": {"event": "go"}}]}))["id"]
    paying = _data(client.post("/workflows", json={"name": "paying", "stages": [PAY]}))["id"]
    doomed = _data(client.post("/workflows", json={"name": "doomed", "stages": [{"noop": {}}]}))["id"]
    quick = _data(client.post("/workflows", json={"name": "quick", "stages": [{"noop": {}}]}))["id"]
    instance = _data(client.post(f"/workflows/{waiting}/instances"))["id"]
    to_abort = _data(client.post(f"/workflows/{waiting}/instances"))["id"]
    paid = _data(client.post(f"/workflows/{paying}/instances", params={"wait": "true"}, timeout=TIMEOUT_S))["id"]
    trigger = _data(
        client.post(
            "/triggers",
            json={"event": "SEEDED", "workflowID": paying, "filter": "event.amount > 0", "vars": {"amount": "string(event.amount)"}},
        )
    )["id"]
    doomed_trigger = _data(client.post("/triggers", json={"event": "NEVER", "workflowID": doomed}))["id"]
    fired = client.post("/events", json={"type": "SEEDED", "payload": {"amount": 5}}, headers={"Message-Uuid": "seeded"})
    assert fired.status_code == 204, fired.text
    eventually(lambda: _data(client.get(f"/triggers/{trigger}/occurrences")))
    # A message that can never be processed: kept as a dead letter.
    assert client.post("/events", content=b"not json").status_code == 400
    return {
        "workflowID": waiting,
        "instanceID": instance,
        "triggerID": trigger,
        "number": "0",
        "deleteWorkflow.workflowID": doomed,
        # Ends at once, so that `wait=true` does not wait for the server's whole --wait-timeout.
        "runWorkflow.workflowID": quick,
        "cancelEvent.instanceID": to_abort,
        "getInstanceStageHistory.instanceID": paid,
        "deleteTrigger.triggerID": doomed_trigger,
    }


def _real_ids(case: schemathesis.Case, known: dict[str, str]) -> None:
    """Points the case's path parameters at real objects: the operation's own when it would
    destroy or end the shared ones."""
    name = case.operation.definition.raw["operationId"].removeprefix("v2")
    name = name[0].lower() + name[1:]
    for key in list(case.path_parameters or {}):
        case.path_parameters[key] = known.get(f"{name}.{key}", known[key])


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    data_dir: Path = tmp_path_factory.mktemp("schemathesis") / "data"
    process = FlowsProcess(data_dir).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module")
def known(service: FlowsProcess) -> dict[str, str]:
    with httpx.Client(base_url=service.url, timeout=TIMEOUT_S) as client:
        served = client.get("/openapi.json").json()
        assert served == document(served["info"]["version"], service.url), "the server serves another document"
        return _seed(client)


schema = schemathesis.openapi.from_dict(document("test", "http://127.0.0.1"))
"""The document `flows serve` serves (its version and origin aside), read here so that each
operation is a test of its own."""


SERVERS = [server["url"].rstrip("/") for server in schema.raw_schema["servers"]]
"""The API at the root and under the gateway prefix: each request goes to one of them."""


@schema.parametrize()
@schema.given(real=st.booleans(), server=st.sampled_from(SERVERS))
@settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_answers_as_documented(
    case: schemathesis.Case, real: bool, server: str, service: FlowsProcess, known: dict[str, str]
) -> None:
    if real:
        _real_ids(case, known)
    case.call_and_validate(base_url=service.url + server, checks=CHECKS, timeout=TIMEOUT_S)
