"""Workflow definitions through the official Python SDK, on SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from formance_sdk_python.models.orchestration import Error

from tests.conftest import Api

NOOP_TWICE = {"name": "two noops", "stages": [{"noop": {}}, {"noop": {}}]}


def create(api: Api, config: dict) -> str:
    response = api.sdk.orchestration.v1.create_workflow(request=config)
    assert response.status_code == 201
    return response.create_workflow_response.data.id


def test_create_returns_the_config_exactly_as_submitted(api: Api) -> None:
    config = {"name": "payout", "stages": [{"delay": {"duration": "1m30s"}}, {"noop": {}}]}
    created = api.sdk.orchestration.v1.create_workflow(request=config)
    workflow = created.create_workflow_response.data
    assert workflow.config.name == "payout"
    assert workflow.config.stages == config["stages"]
    fetched = api.sdk.orchestration.v1.get_workflow(request={"flow_id": workflow.id})
    assert fetched.get_workflow_response.data.config.stages == config["stages"]
    assert fetched.get_workflow_response.data.created_at == workflow.created_at


def test_create_accepts_yaml(api: Api) -> None:
    body = "name: from yaml\nstages:\n  - wait_event:\n      event: approved\n  - noop: {}\n"
    for media_type in ("text/vnd.yaml", "application/yaml"):
        response = httpx.post(
            f"{api.url}/api/orchestration/workflows",
            content=body,
            headers={"Content-Type": media_type},
        )
        assert response.status_code == 201, response.text
        config = response.json()["data"]["config"]
        assert config == {"name": "from yaml", "stages": [{"wait_event": {"event": "approved"}}, {"noop": {}}]}


def test_list_shows_created_workflows_in_creation_order(api: Api) -> None:
    first, second = create(api, NOOP_TWICE), create(api, NOOP_TWICE)
    ids = [w.id for w in api.sdk.orchestration.v1.list_workflows().list_workflows_response.data]
    assert ids.index(first) < ids.index(second)


def test_delete_hides_the_workflow(api: Api) -> None:
    workflow_id = create(api, NOOP_TWICE)
    assert api.sdk.orchestration.v1.delete_workflow(request={"flow_id": workflow_id}).status_code == 204
    listed = api.sdk.orchestration.v1.list_workflows().list_workflows_response.data
    assert workflow_id not in [w.id for w in listed]
    with pytest.raises(Error) as read:
        api.sdk.orchestration.v1.get_workflow(request={"flow_id": workflow_id})
    assert read.value.status_code == 404
    assert read.value.data.error_code == "NOT_FOUND"
    with pytest.raises(Error) as again:
        api.sdk.orchestration.v1.delete_workflow(request={"flow_id": workflow_id})
    assert again.value.status_code == 404


def test_unknown_workflow_is_not_found(api: Api) -> None:
    with pytest.raises(Error) as read:
        api.sdk.orchestration.v1.get_workflow(request={"flow_id": "3b0f3b53-52c0-4a36-9f59-0bd0b5b8b4a5"})
    assert read.value.status_code == 404


def test_delete_with_an_id_that_is_no_uuid_is_rejected(api: Api) -> None:
    with pytest.raises(Error) as deletion:
        api.sdk.orchestration.v1.delete_workflow(request={"flow_id": "not-a-uuid"})
    assert deletion.value.status_code == 400
    assert deletion.value.data.error_code == "VALIDATION"


@pytest.mark.parametrize(
    ("config", "mentions"),
    [
        ({"name": "no stages"}, "stages"),
        ({"stages": [{"teleport": {}}]}, "teleport"),
        ({"stages": [{}]}, "stages[0]"),
        ({"stages": [{"noop": {}, "delay": {"duration": "1s"}}]}, "stages[0]"),
        ({"stages": [{"delay": {"duration": "ten seconds"}}]}, "duration"),
        ({"stages": [{"delay": {}}]}, "delay"),
        ({"stages": [{"wait_event": {}}]}, "event"),
        ({"stages": [{"wait_event": {"event": 5}}]}, "event"),
        ({"stages": [{"send": {"source": {"acount": {"id": "a"}}}}]}, "acount"),
    ],
)
def test_invalid_configs_are_rejected_and_not_stored(api: Api, config: dict, mentions: str) -> None:
    before = len(api.sdk.orchestration.v1.list_workflows().list_workflows_response.data)
    response = httpx.post(f"{api.url}/api/orchestration/workflows", json=config)
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "VALIDATION"
    assert mentions in response.json()["errorMessage"]
    assert len(api.sdk.orchestration.v1.list_workflows().list_workflows_response.data) == before


@pytest.mark.parametrize(
    ("body", "media_type"),
    [
        (b"{not json", "application/json"),
        (b"", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"stages: [unclosed", "text/vnd.yaml"),
        (b"base: &a {noop: {}}\nstages:\n  - *a\n", "text/vnd.yaml"),
        (b"stages:\n  - {1: {}}\n", "application/yaml"),
    ],
)
def test_malformed_bodies_are_rejected(api: Api, body: bytes, media_type: str) -> None:
    response = httpx.post(
        f"{api.url}/api/orchestration/workflows", content=body, headers={"Content-Type": media_type}
    )
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "VALIDATION"
