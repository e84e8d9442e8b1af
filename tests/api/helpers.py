"""Helpers shared by the instance, event and history API tests (all through the official SDK)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from formance_sdk_python.models.orchestration import Error, V2Error, WorkflowInstance

from tests.conftest import Api
from tests.support.polling import eventually


WAIT_MS = 15_000
"""`timeout_ms` for calls that wait on the server (`?wait=true`, abort): the SDK's default is 5 s."""

SEND = {
    "send": {
        "source": {"account": {"id": "world"}},
        "destination": {"account": {"id": "users:1"}},
        "amount": {"amount": 100, "asset": "usd"},
    }
}
"""A send stage that fails for good when it runs: the ledger rejects a lower-case asset
(VALIDATION, not retried), and its message becomes the stage's and the instance's error."""


def unknown_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


def create_workflow(api: Api, stages: list[dict[str, Any]], name: str = "test") -> str:
    response = api.sdk.orchestration.v1.create_workflow(request={"name": name, "stages": stages})
    assert response.status_code == 201
    return response.create_workflow_response.data.id


def run(
    api: Api,
    workflow_id: str,
    variables: dict[str, str] | None = None,
    *,
    wait: bool | None = None,
    key: str | None = None,
) -> WorkflowInstance:
    request: dict[str, Any] = {"workflow_id": workflow_id}
    if variables is not None:
        request["request_body"] = variables
    if wait is not None:
        request["wait"] = wait
    response = api.sdk.orchestration.v1.run_workflow(
        request=request,
        http_headers={"Idempotency-Key": key} if key else None,
        timeout_ms=WAIT_MS,
    )
    assert response.status_code == 201
    return response.run_workflow_response.data


def start(
    api: Api, stages: list[dict[str, Any]], variables: dict[str, str] | None = None
) -> WorkflowInstance:
    """Create a workflow of these stages and run it (no wait)."""
    return run(api, create_workflow(api, stages), variables)


def get_instance(api: Api, instance_id: str) -> WorkflowInstance:
    response = api.sdk.orchestration.v1.get_instance(request={"instance_id": instance_id})
    assert response.status_code == 200
    return response.get_workflow_instance_response.data


def raw_instance(api: Api, instance_id: str) -> dict[str, Any]:
    response = httpx.get(f"{api.url}/api/orchestration/instances/{instance_id}")
    assert response.status_code == 200, response.text
    return response.json()["data"]


def list_instances(api: Api, **filters: Any) -> list[WorkflowInstance]:
    response = api.sdk.orchestration.v1.list_instances(request=filters)
    assert response.status_code == 200
    return response.list_runs_response.data


def history(api: Api, instance_id: str) -> list[dict[str, Any]]:
    """Instance history as JSON (the SDK's parsed `input` is a union that loses the exact keys)."""
    response = api.sdk.orchestration.v1.get_instance_history(request={"instance_id": instance_id})
    assert response.status_code == 200
    data: list[dict[str, Any]] = response.raw_response.json()["data"]
    return data


def send_event(api: Api, instance_id: str, name: str, key: str | None = None) -> None:
    response = api.sdk.orchestration.v1.send_event(
        request={"instance_id": instance_id, "request_body": {"name": name}},
        http_headers={"Idempotency-Key": key} if key else None,
    )
    assert response.status_code == 204


def abort(api: Api, instance_id: str) -> None:
    response = api.sdk.orchestration.v1.cancel_event(
        request={"instance_id": instance_id}, timeout_ms=WAIT_MS
    )
    assert response.status_code == 204


def terminated(api: Api, instance_id: str) -> WorkflowInstance:
    """The instance once it has terminated."""
    return eventually(lambda: _if_terminated(get_instance(api, instance_id)))


def _if_terminated(instance: WorkflowInstance) -> WorkflowInstance | None:
    return instance if instance.terminated else None


def stage_started(api: Api, instance_id: str, number: int) -> WorkflowInstance:
    """The instance once stage `number` has started and is still running (waiting or sleeping)."""

    def check() -> WorkflowInstance | None:
        instance = get_instance(api, instance_id)
        rows = {int(row.stage): row for row in instance.status or []}
        row = rows.get(number)
        if row is not None:
            assert row.terminated_at is None, f"stage {number} ended: {row}"
            return instance
        assert not instance.terminated, f"instance ended before stage {number}: {instance}"
        return None

    return eventually(check)


def api_error(call: Callable[[], object]) -> Error:
    """The typed error the SDK raises for a v1 `call`."""
    with pytest.raises(Error) as raised:
        call()
    return raised.value


def api_error_v2(call: Callable[[], object]) -> V2Error:
    """The typed error the SDK raises for a v2 `call`."""
    with pytest.raises(V2Error) as raised:
        call()
    return raised.value
