"""The reference's search attributes: registered on a Temporal of its own with
`--temporal-init-search-attributes`, set on every instance, so that an operator finds instances in
Temporal by stack, workflow and trigger (`temporal workflow list --query "…"`)."""

from __future__ import annotations

import asyncio
import shutil
import sysconfig
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from tests.support.service import FlowsProcess

STACK = "stack-" + uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
async def temporal() -> AsyncIterator[Client]:
    """A Temporal server of its own, as a deployment's, knowing none of the attributes."""
    binary = shutil.which("temporal") or str(Path(sysconfig.get_path("scripts")) / "temporal")
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=binary)
    yield env.client
    await env.shutdown()


@pytest.fixture(scope="module")
def service(temporal: Client, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    address = temporal.service_client.config.target_host
    data = tmp_path_factory.mktemp("search-attributes") / "data"
    process = FlowsProcess(data, "--temporal-address", address, "--temporal-init-search-attributes", "--stack", STACK).start()
    try:
        yield process
    finally:
        process.stop()


async def call(service: FlowsProcess, method: str, path: str, body: Any = None) -> Any:
    async with httpx.AsyncClient(base_url=service.url, timeout=15) as http:
        response = await http.request(method, path, json=body)
    assert response.status_code < 300, response.text
    return response.json()["data"]


async def found(temporal: Client, query: str, expected: set[str]) -> set[str]:
    """The workflow ids the visibility query lists, once they are `expected` (visibility lags)."""
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        ids = {execution.id async for execution in temporal.list_workflows(query)}
        if ids == expected or asyncio.get_running_loop().time() > deadline:
            return ids
        await asyncio.sleep(0.2)


async def test_the_attributes_are_registered_with_the_reference_types(temporal: Client, service: FlowsProcess) -> None:
    listed = await temporal.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=temporal.namespace))
    assert {name: listed.custom_attributes.get(name) for name in ("Stack", "OrchestrationWorkflowID", "OrchestrationTriggerID")} == {
        "Stack": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
        "OrchestrationWorkflowID": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
        "OrchestrationTriggerID": IndexedValueType.INDEXED_VALUE_TYPE_TEXT,
    }


async def test_instances_are_found_by_stack_workflow_and_trigger(temporal: Client, service: FlowsProcess) -> None:
    workflow = await call(service, "POST", "/workflows", {"name": "found", "stages": [{"wait_event": {"event": "go"}}]})
    by_api = (await call(service, "POST", f"/workflows/{workflow['id']}/instances", {}))["id"]
    event_type = "SEARCHED_" + uuid.uuid4().hex[:8].upper()
    trigger = await call(service, "POST", "/triggers", {"event": event_type, "workflowID": workflow["id"]})
    async with httpx.AsyncClient(base_url=service.url, timeout=15) as http:
        envelope = {"date": "2025-03-01T10:00:00Z", "app": "ledger", "version": "v2", "type": event_type, "payload": {}}
        response = await http.post("/api/orchestration/events", json=envelope, headers={"Message-Uuid": str(uuid.uuid4())})
        assert response.status_code < 300, response.text
    by_trigger = await until_one_occurrence(service, trigger["id"])

    assert await found(temporal, f"OrchestrationWorkflowID = '{workflow['id']}'", {by_api, by_trigger}) == {by_api, by_trigger}
    assert await found(temporal, f"OrchestrationTriggerID = '{trigger['id']}'", {by_trigger}) == {by_trigger}
    in_stack = await found(temporal, f"Stack = '{STACK}' AND ExecutionStatus = 'Running'", {by_api, by_trigger})
    assert in_stack == {by_api, by_trigger}


async def until_one_occurrence(service: FlowsProcess, trigger_id: str) -> str:
    deadline = asyncio.get_running_loop().time() + 15
    while True:
        occurrences = await call(service, "GET", f"/triggers/{trigger_id}/occurrences")
        if occurrences:
            return str(occurrences[0]["workflowInstanceID"])
        assert asyncio.get_running_loop().time() < deadline, "the trigger did not fire"
        await asyncio.sleep(0.1)
