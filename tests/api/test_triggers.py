"""Triggers through the official Python SDK (v1 and v2), on SQLite and PostgreSQL.

Raw httpx requests are used where the SDK cannot say what we need to check: the exact JSON the
server wrote (no `null`s) and bodies the SDK refuses to build.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest
from formance_sdk_python.models.orchestration import Error, V2Error

from tests.conftest import Api

NOOP = {"stages": [{"noop": {}}]}
UNKNOWN_ID = "9d5c1f55-0c4e-4f53-8f5a-3f8f1d3c2b11"


def tag() -> str:
    """A name fragment no other test uses, so `name` filters see only this test's triggers."""
    return uuid.uuid4().hex[:12]


def create_workflow(api: Api) -> str:
    created = api.sdk.orchestration.v1.create_workflow(request=NOOP)
    assert created.status_code == 201
    return created.create_workflow_response.data.id


def create_trigger(api: Api, workflow_id: str, **fields: Any) -> str:
    request = {"event": "SAVED_PAYMENT", "workflow_id": workflow_id, **fields}
    created = api.sdk.orchestration.v1.create_trigger(request=request)
    assert created.status_code == 201
    return created.create_trigger_response.data.id


def all_trigger_ids(api: Api, name: str | None = None) -> list[str]:
    request = {} if name is None else {"name": name}
    listed = api.sdk.orchestration.v1.list_triggers(request=request)
    assert listed.status_code == 200
    return [trigger.id for trigger in listed.list_triggers_response.data]


def nulls(value: Any, path: str = "$") -> list[str]:
    """Paths of every `null` inside a JSON document."""
    if value is None:
        return [path]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in nulls(item, f"{path}.{key}")]
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in nulls(item, f"{path}[{index}]")]
    return []


def assert_error(response: httpx.Response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["errorCode"] == code
    assert isinstance(body["errorMessage"], str) and body["errorMessage"]
    if message is not None:
        assert body["errorMessage"] == message


def is_rfc3339_with_offset(text: str) -> bool:
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return "T" in text and parsed.tzinfo is not None


# -- create ------------------------------------------------------------------------------------


def test_create_returns_the_trigger_with_every_given_field(api: Api) -> None:
    workflow_id = create_workflow(api)
    created = api.sdk.orchestration.v1.create_trigger(
        request={
            "name": "payouts " + tag(),
            "event": "SAVED_PAYMENT",
            "workflow_id": workflow_id,
            "version": "v2",
            "filter_": 'event.type == "PAY-IN"',
            "vars": {"amount": "event.amount", "asset": "event.asset"},
        }
    )
    assert created.status_code == 201
    trigger = created.create_trigger_response.data
    uuid.UUID(trigger.id)
    assert trigger.name.startswith("payouts ")
    assert trigger.event == "SAVED_PAYMENT"
    assert trigger.workflow_id == workflow_id
    assert trigger.version == "v2"
    assert trigger.filter_ == 'event.type == "PAY-IN"'
    assert trigger.vars == {"amount": "event.amount", "asset": "event.asset"}
    assert trigger.created_at.tzinfo is not None

    read = api.sdk.orchestration.v1.read_trigger(request={"trigger_id": trigger.id})
    assert read.status_code == 200
    assert read.read_trigger_response.data == trigger


def test_minimal_trigger_json_has_no_nulls_and_only_given_optionals(api: Api) -> None:
    workflow_id = create_workflow(api)
    response = httpx.post(
        f"{api.url}/api/orchestration/triggers",
        json={"event": "SAVED_ACCOUNT", "workflowID": workflow_id},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert nulls(body) == []
    trigger = body["data"]
    assert set(trigger) == {"id", "name", "event", "workflowID", "createdAt"}
    assert trigger["name"] == ""
    assert trigger["event"] == "SAVED_ACCOUNT"
    assert trigger["workflowID"] == workflow_id
    assert is_rfc3339_with_offset(trigger["createdAt"])

    for url in (
        f"{api.url}/api/orchestration/triggers/{trigger['id']}",
        f"{api.url}/api/orchestration/v2/triggers/{trigger['id']}",
    ):
        read = httpx.get(url)
        assert read.status_code == 200
        assert nulls(read.json()) == []
        assert read.json()["data"] == trigger


def test_full_trigger_json_has_no_nulls_in_create_read_and_lists(api: Api) -> None:
    workflow_id = create_workflow(api)
    name = "full " + tag()
    response = httpx.post(
        f"{api.url}/api/orchestration/triggers",
        json={
            "name": name,
            "event": "SAVED_PAYMENT",
            "workflowID": workflow_id,
            "version": "v1",
            "filter": "event.amount > 100",
            "vars": {"amount": "event.amount"},
        },
    )
    assert response.status_code == 201, response.text
    trigger = response.json()["data"]
    assert set(trigger) == {"id", "name", "event", "version", "filter", "workflowID", "vars", "createdAt"}
    assert trigger["vars"] == {"amount": "event.amount"}
    for url in (
        f"{api.url}/api/orchestration/triggers/{trigger['id']}",
        f"{api.url}/api/orchestration/triggers?name={name}",
        f"{api.url}/api/orchestration/v2/triggers?name={name}",
        f"{api.url}/api/orchestration/triggers/{trigger['id']}/occurrences",
        f"{api.url}/api/orchestration/v2/triggers/{trigger['id']}/occurrences",
    ):
        read = httpx.get(url)
        assert read.status_code == 200, (url, read.text)
        assert nulls(read.json()) == [], url


def test_empty_optional_strings_and_vars_are_omitted(api: Api) -> None:
    workflow_id = create_workflow(api)
    response = httpx.post(
        f"{api.url}/api/orchestration/triggers",
        json={"event": "E", "workflowID": workflow_id, "version": "", "filter": "", "vars": {}},
    )
    assert response.status_code == 201, response.text
    assert set(response.json()["data"]) == {"id", "name", "event", "workflowID", "createdAt"}


def test_explicit_nulls_in_the_body_mean_absent(api: Api) -> None:
    workflow_id = create_workflow(api)
    response = httpx.post(
        f"{api.url}/api/orchestration/triggers",
        json={"event": "E", "workflowID": workflow_id, "name": None, "filter": None, "vars": None},
    )
    assert response.status_code == 201, response.text
    assert nulls(response.json()) == []


def test_unknown_keys_are_ignored(api: Api) -> None:
    workflow_id = create_workflow(api)
    response = httpx.post(
        f"{api.url}/api/orchestration/triggers",
        json={"event": "E", "workflowID": workflow_id, "workflow": {"id": "x"}, "color": "blue"},
    )
    assert response.status_code == 201, response.text
    assert "color" not in response.json()["data"]
    assert "workflow" not in response.json()["data"]


def test_v2_create_read_list_delete(api: Api) -> None:
    v2 = api.sdk.orchestration.v2
    workflow_id = create_workflow(api)
    name = "v2 " + tag()
    created = v2.create_trigger(
        request={
            "event": "SAVED_PAYMENT",
            "workflow_id": workflow_id,
            "name": name,
            "vars": {"id": "event.id"},
        }
    )
    assert created.status_code == 201
    trigger = created.v2_create_trigger_response.data
    assert (trigger.name, trigger.event, trigger.workflow_id) == (name, "SAVED_PAYMENT", workflow_id)
    assert trigger.vars == {"id": "event.id"}
    assert trigger.filter_ is None and trigger.version is None

    read = v2.read_trigger(request={"trigger_id": trigger.id})
    assert read.status_code == 200
    assert read.v2_read_trigger_response.data == trigger

    listed = v2.list_triggers(request={"name": name})
    cursor = listed.v2_list_triggers_response.cursor
    assert [t.id for t in cursor.data] == [trigger.id]
    assert cursor.has_more is False

    occurrences = v2.list_triggers_occurrences(request={"trigger_id": trigger.id})
    assert occurrences.status_code == 200
    assert occurrences.v2_list_triggers_occurrences_response.cursor.data == []

    assert v2.delete_trigger(request={"trigger_id": trigger.id}).status_code == 204
    with pytest.raises(V2Error) as read_deleted:
        v2.read_trigger(request={"trigger_id": trigger.id})
    assert read_deleted.value.status_code == 404
    assert read_deleted.value.data.error_code == "NOT_FOUND"
    with pytest.raises(V2Error) as deleted_again:
        v2.delete_trigger(request={"trigger_id": trigger.id})
    assert deleted_again.value.status_code == 404
    assert v2.list_triggers(request={"name": name}).v2_list_triggers_response.cursor.data == []


def test_a_trigger_made_in_v1_is_the_same_in_v2(api: Api) -> None:
    workflow_id = create_workflow(api)
    trigger_id = create_trigger(api, workflow_id, name="cross " + tag(), version="v1")
    v1 = api.sdk.orchestration.v1.read_trigger(request={"trigger_id": trigger_id})
    v2 = api.sdk.orchestration.v2.read_trigger(request={"trigger_id": trigger_id})
    assert v1.read_trigger_response.data.model_dump() == v2.v2_read_trigger_response.data.model_dump()


# -- list --------------------------------------------------------------------------------------


def test_v1_list_returns_every_trigger_not_only_a_first_page(api: Api) -> None:
    workflow_id = create_workflow(api)
    prefix = "many " + tag()
    created = [create_trigger(api, workflow_id, name=f"{prefix} {n:02d}") for n in range(20)]
    assert all_trigger_ids(api, prefix) == created
    everything = all_trigger_ids(api)
    assert len(everything) >= 20
    assert [trigger_id for trigger_id in everything if trigger_id in created] == created


def test_list_is_in_creation_order(api: Api) -> None:
    workflow_id = create_workflow(api)
    prefix = tag()
    # Names sort the other way round from creation, so ordering by name would fail.
    created = [create_trigger(api, workflow_id, name=f"{prefix} {letter}") for letter in "zyxw"]
    assert all_trigger_ids(api, prefix) == created


def test_name_filter_is_a_case_insensitive_substring(api: Api) -> None:
    workflow_id = create_workflow(api)
    marker = tag()
    upper = create_trigger(api, workflow_id, name=f"Payout-{marker}-EUR")
    lower = create_trigger(api, workflow_id, name=f"payout-{marker}-usd")
    create_trigger(api, workflow_id, name=f"refund-{marker}")
    create_trigger(api, workflow_id)  # no name at all
    assert all_trigger_ids(api, f"PAYOUT-{marker}") == [upper, lower]
    assert all_trigger_ids(api, f"{marker}-eur") == [upper]
    assert all_trigger_ids(api, f"{marker.upper()}-Usd") == [lower]
    assert all_trigger_ids(api, f"nothing-{marker}") == []
    v2 = api.sdk.orchestration.v2.list_triggers(request={"name": f"payout-{marker}"})
    assert [t.id for t in v2.v2_list_triggers_response.cursor.data] == [upper, lower]


def test_name_filter_takes_like_wildcards_literally(api: Api) -> None:
    workflow_id = create_workflow(api)
    marker = tag()
    percent = create_trigger(api, workflow_id, name=f"{marker} 100% sure")
    create_trigger(api, workflow_id, name=f"{marker} 1000 sure")
    underscore = create_trigger(api, workflow_id, name=f"{marker} a_b")
    create_trigger(api, workflow_id, name=f"{marker} axb")
    backslash = create_trigger(api, workflow_id, name=f"{marker} back\\slash")
    create_trigger(api, workflow_id, name=f"{marker} backslash")
    assert all_trigger_ids(api, f"{marker} 100%") == [percent]
    assert all_trigger_ids(api, "0% sure") == [percent]
    assert all_trigger_ids(api, f"{marker} a_b") == [underscore]
    assert all_trigger_ids(api, f"{marker} back\\") == [backslash]
    assert all_trigger_ids(api, f"{marker} back\\slash") == [backslash]
    assert len(all_trigger_ids(api, marker)) == 6


def test_empty_name_filter_lists_everything(api: Api) -> None:
    workflow_id = create_workflow(api)
    trigger_id = create_trigger(api, workflow_id)
    response = httpx.get(f"{api.url}/api/orchestration/triggers", params={"name": ""})
    assert response.status_code == 200
    assert trigger_id in [t["id"] for t in response.json()["data"]]


# -- delete ------------------------------------------------------------------------------------


def test_delete_then_read_and_delete_again_are_not_found(api: Api) -> None:
    v1 = api.sdk.orchestration.v1
    workflow_id = create_workflow(api)
    name = "doomed " + tag()
    trigger_id = create_trigger(api, workflow_id, name=name)
    kept = create_trigger(api, workflow_id, name=name + " kept")
    assert v1.delete_trigger(request={"trigger_id": trigger_id}).status_code == 204
    with pytest.raises(Error) as read:
        v1.read_trigger(request={"trigger_id": trigger_id})
    assert read.value.status_code == 404
    assert read.value.data.error_code == "NOT_FOUND"
    with pytest.raises(Error) as again:
        v1.delete_trigger(request={"trigger_id": trigger_id})
    assert again.value.status_code == 404
    assert again.value.data.error_code == "NOT_FOUND"
    assert all_trigger_ids(api, name) == [kept]
    assert trigger_id not in all_trigger_ids(api)


def test_delete_answers_204_without_a_body(api: Api) -> None:
    workflow_id = create_workflow(api)
    trigger_id = create_trigger(api, workflow_id)
    response = httpx.delete(f"{api.url}/api/orchestration/triggers/{trigger_id}")
    assert response.status_code == 204
    assert response.content == b""


def test_past_occurrences_of_a_deleted_trigger_stay_listable(api: Api) -> None:
    workflow_id = create_workflow(api)
    trigger_id = create_trigger(api, workflow_id)
    api.sdk.orchestration.v1.delete_trigger(request={"trigger_id": trigger_id})
    listed = api.sdk.orchestration.v1.list_triggers_occurrences(request={"trigger_id": trigger_id})
    assert listed.status_code == 200
    assert listed.list_triggers_occurrences_response.data == []


@pytest.mark.parametrize("trigger_id", [UNKNOWN_ID, "not-a-uuid"])
def test_unknown_trigger_is_not_found(api: Api, trigger_id: str) -> None:
    for call in (api.sdk.orchestration.v1.read_trigger, api.sdk.orchestration.v1.delete_trigger):
        with pytest.raises(Error) as failure:
            call(request={"trigger_id": trigger_id})
        assert failure.value.status_code == 404
        assert failure.value.data.error_code == "NOT_FOUND"


# -- occurrences -------------------------------------------------------------------------------


def test_occurrences_of_a_new_trigger_are_an_empty_list(api: Api) -> None:
    workflow_id = create_workflow(api)
    trigger_id = create_trigger(api, workflow_id)
    listed = api.sdk.orchestration.v1.list_triggers_occurrences(request={"trigger_id": trigger_id})
    assert listed.status_code == 200
    assert listed.list_triggers_occurrences_response.data == []
    raw = httpx.get(f"{api.url}/api/orchestration/triggers/{trigger_id}/occurrences")
    assert raw.json() == {"data": []}
    raw_v2 = httpx.get(f"{api.url}/api/orchestration/v2/triggers/{trigger_id}/occurrences")
    assert raw_v2.json() == {"cursor": {"pageSize": 15, "hasMore": False, "data": []}}


# -- invalid input -----------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["", "v2/"])
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"workflowID": "{workflow}"}, "validating data: missing event"),
        ({"event": "", "workflowID": "{workflow}"}, "validating data: missing event"),
        ({"event": "E"}, "validating data: missing workflow id"),
        ({"event": "E", "workflowID": ""}, "validating data: missing workflow id"),
        # The reference checks the event first.
        ({}, "validating data: missing event"),
    ],
)
def test_missing_required_fields_are_rejected(api: Api, version: str, body: dict, message: str) -> None:
    workflow_id = create_workflow(api)
    body = {key: value.replace("{workflow}", workflow_id) for key, value in body.items()}
    before = all_trigger_ids(api)
    response = httpx.post(f"{api.url}/api/orchestration/{version}triggers", json=body)
    assert_error(response, 400, "VALIDATION", message)
    assert all_trigger_ids(api) == before


def test_missing_event_through_the_sdk_is_a_typed_error(api: Api) -> None:
    workflow_id = create_workflow(api)
    with pytest.raises(Error) as failure:
        api.sdk.orchestration.v1.create_trigger(request={"event": "", "workflow_id": workflow_id})
    assert failure.value.status_code == 400
    assert failure.value.data.error_code == "VALIDATION"
    assert failure.value.data.error_message == "validating data: missing event"


def test_unknown_workflow_is_not_found(api: Api) -> None:
    before = all_trigger_ids(api)
    for workflow_id in (UNKNOWN_ID, "not-a-uuid"):
        with pytest.raises(Error) as failure:
            api.sdk.orchestration.v1.create_trigger(request={"event": "E", "workflow_id": workflow_id})
        assert failure.value.status_code == 404
        assert failure.value.data.error_code == "NOT_FOUND"
        with pytest.raises(V2Error) as failure_v2:
            api.sdk.orchestration.v2.create_trigger(request={"event": "E", "workflow_id": workflow_id})
        assert failure_v2.value.status_code == 404
    assert all_trigger_ids(api) == before


def test_deleted_workflow_is_not_found(api: Api) -> None:
    workflow_id = create_workflow(api)
    api.sdk.orchestration.v1.delete_workflow(request={"flow_id": workflow_id})
    before = all_trigger_ids(api)
    with pytest.raises(Error) as failure:
        api.sdk.orchestration.v1.create_trigger(request={"event": "E", "workflow_id": workflow_id})
    assert failure.value.status_code == 404
    assert failure.value.data.error_code == "NOT_FOUND"
    assert all_trigger_ids(api) == before


@pytest.mark.parametrize(
    "body",
    [
        {"event": "E", "workflowID": "{workflow}", "vars": {"amount": 100}},
        {"event": "E", "workflowID": "{workflow}", "vars": {"a": "x", "b": None}},
        {"event": "E", "workflowID": "{workflow}", "vars": {"nested": {"a": "b"}}},
        {"event": "E", "workflowID": "{workflow}", "vars": ["a", "b"]},
        {"event": "E", "workflowID": "{workflow}", "vars": "amount"},
        {"event": 5, "workflowID": "{workflow}"},
        {"event": ["E"], "workflowID": "{workflow}"},
        {"event": True, "workflowID": "{workflow}"},
        {"event": "E", "workflowID": 12},
        {"event": "E", "workflowID": "{workflow}", "name": 3},
        {"event": "E", "workflowID": "{workflow}", "version": 2},
        {"event": "E", "workflowID": "{workflow}", "filter": False},
    ],
)
def test_wrong_types_are_rejected(api: Api, body: dict) -> None:
    workflow_id = create_workflow(api)
    body = {key: (workflow_id if value == "{workflow}" else value) for key, value in body.items()}
    before = all_trigger_ids(api)
    response = httpx.post(f"{api.url}/api/orchestration/triggers", json=body)
    assert_error(response, 400, "VALIDATION")
    assert all_trigger_ids(api) == before


@pytest.mark.parametrize(
    "body",
    [b"{not json", b"", b"   ", b"[]", b'"a string"', b"null", b"42", b'{"event": "E",}', b"\xff\xfe"],
)
def test_bodies_that_are_no_json_object_are_rejected(api: Api, body: bytes) -> None:
    before = all_trigger_ids(api)
    for version in ("", "v2/"):
        response = httpx.post(
            f"{api.url}/api/orchestration/{version}triggers",
            content=body,
            headers={"Content-Type": "application/json"},
        )
        assert_error(response, 400, "VALIDATION")
    assert all_trigger_ids(api) == before
