"""v2 cursor pagination of workflows, instances, triggers and occurrences, on SQLite and PostgreSQL.

Every test works on rows of its own (a name prefix, a workflow id) so the rows other tests of the
session create never change the counts here. Cursors keep the reference's token format: base64url
(no padding) of `{"offset", "order", "pageSize", "filters"}`.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import httpx
import pytest
from formance_sdk_python.models.orchestration import V2Error

from tests.conftest import Api

V2 = "/api/orchestration/v2"
NOOP = {"stages": [{"noop": {}}]}
WAIT_TIMEOUT_MS = 15_000


def tag() -> str:
    return uuid.uuid4().hex[:12]


def encode_cursor(token: Any) -> str:
    raw = json.dumps(token, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str) -> Any:
    assert "=" not in cursor, "cursors are base64url without padding"
    return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))


def get_page(api: Api, path: str, params: dict[str, Any]) -> dict[str, Any]:
    response = httpx.get(f"{api.url}{V2}{path}", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"cursor"}
    cursor = body["cursor"]
    assert isinstance(cursor["pageSize"], int)
    assert isinstance(cursor["hasMore"], bool)
    assert isinstance(cursor["data"], list)
    assert set(cursor) <= {"pageSize", "hasMore", "previous", "next", "data"}
    for key in ("previous", "next"):
        assert key not in cursor or (isinstance(cursor[key], str) and cursor[key])
    return cursor


def walk_forward(api: Api, path: str, params: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [get_page(api, path, params)]
    while "next" in pages[-1]:
        assert len(pages) < 50, "the cursors never end"
        pages.append(get_page(api, path, {"cursor": pages[-1]["next"]}))
    return pages


def walk_backward(api: Api, path: str, last: dict[str, Any]) -> list[dict[str, Any]]:
    pages = [last]
    while "previous" in pages[-1]:
        assert len(pages) < 50, "the cursors never end"
        pages.append(get_page(api, path, {"cursor": pages[-1]["previous"]}))
    return pages[::-1]


def ids(pages: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for page in pages for item in page["data"]]


def assert_links(pages: list[dict[str, Any]], page_size: int) -> None:
    """Every page but the last is full, has more and links forward; all but the first link back."""
    for index, page in enumerate(pages):
        last = index == len(pages) - 1
        assert page["pageSize"] == page_size
        assert page["hasMore"] is (not last)
        assert ("next" in page) is (not last)
        assert ("previous" in page) is (index > 0)
        if not last:
            assert len(page["data"]) == page_size


def create_workflow(api: Api, config: dict[str, Any] = NOOP) -> str:
    created = api.sdk.orchestration.v1.create_workflow(request=config)
    assert created.status_code == 201
    return created.create_workflow_response.data.id


def create_triggers(api: Api, workflow_id: str, prefix: str, count: int) -> list[str]:
    created = []
    for number in range(count):
        response = api.sdk.orchestration.v1.create_trigger(
            request={"event": "SAVED_PAYMENT", "workflow_id": workflow_id, "name": f"{prefix} {number:03d}"}
        )
        created.append(response.create_trigger_response.data.id)
    return created


@pytest.fixture(scope="module")
def triggers_35(api: Api) -> tuple[str, list[str]]:
    """35 triggers of one workflow whose names share a prefix no other test uses."""
    prefix = "paged " + tag()
    return prefix, create_triggers(api, create_workflow(api), prefix, 35)


# -- triggers ----------------------------------------------------------------------------------


def test_triggers_default_page_size_walks_every_item_once_in_order(
    api: Api, triggers_35: tuple[str, list[str]]
) -> None:
    prefix, created = triggers_35
    pages = walk_forward(api, "/triggers", {"name": prefix})
    assert [len(page["data"]) for page in pages] == [15, 15, 5]
    assert_links(pages, 15)
    assert ids(pages) == created
    assert walk_backward(api, "/triggers", pages[-1]) == pages


@pytest.mark.parametrize(
    ("page_size", "expected_size", "lengths"),
    [
        ("10", 10, [10, 10, 10, 5]),
        ("0", 15, [15, 15, 5]),
        ("1", 1, [1] * 35),
        ("34", 34, [34, 1]),
        ("35", 35, [35]),
        ("100", 100, [35]),
        ("101", 100, [35]),
        ("1000", 100, [35]),
        ("4294967296", 100, [35]),
    ],
)
def test_triggers_page_sizes(
    api: Api, triggers_35: tuple[str, list[str]], page_size: str, expected_size: int, lengths: list[int]
) -> None:
    prefix, created = triggers_35
    pages = walk_forward(api, "/triggers", {"name": prefix, "pageSize": page_size})
    assert [len(page["data"]) for page in pages] == lengths
    assert_links(pages, expected_size)
    assert ids(pages) == created


def test_triggers_walk_through_the_sdk(api: Api, triggers_35: tuple[str, list[str]]) -> None:
    prefix, created = triggers_35
    v2 = api.sdk.orchestration.v2
    cursor = v2.list_triggers(request={"name": prefix, "page_size": 12}).v2_list_triggers_response.cursor
    seen = [trigger.id for trigger in cursor.data]
    sizes = [len(cursor.data)]
    while cursor.has_more:
        assert cursor.page_size == 12
        cursor = v2.list_triggers(request={"cursor": cursor.next}).v2_list_triggers_response.cursor
        seen += [trigger.id for trigger in cursor.data]
        sizes.append(len(cursor.data))
    assert cursor.next is None
    assert sizes == [12, 12, 11]
    assert seen == created
    back = v2.list_triggers(request={"cursor": cursor.previous}).v2_list_triggers_response.cursor
    assert [trigger.id for trigger in back.data] == created[12:24]


def test_triggers_name_filter_is_carried_by_the_cursor(api: Api, triggers_35: tuple[str, list[str]]) -> None:
    prefix, created = triggers_35
    first = get_page(api, "/triggers", {"name": prefix, "pageSize": "10"})
    token = decode_cursor(first["next"])
    assert token == {"offset": 10, "order": 0, "pageSize": 10, "filters": {"Name": prefix}}
    # With a cursor, every other query parameter is ignored, even an invalid one.
    second = get_page(
        api, "/triggers", {"cursor": first["next"], "name": "something else", "pageSize": "abc"}
    )
    assert [item["id"] for item in second["data"]] == created[10:20]
    assert second["pageSize"] == 10
    assert all(item["name"].startswith(prefix) for item in second["data"])


def test_a_cursor_written_by_hand_in_the_reference_format_is_honoured(
    api: Api, triggers_35: tuple[str, list[str]]
) -> None:
    prefix, created = triggers_35
    cursor = encode_cursor({"offset": 30, "order": 0, "pageSize": 15, "filters": {"Name": prefix}})
    page = get_page(api, "/triggers", {"cursor": cursor})
    assert [item["id"] for item in page["data"]] == created[30:]
    assert page["hasMore"] is False and "next" not in page
    assert decode_cursor(page["previous"]) == {
        "offset": 15, "order": 0, "pageSize": 15, "filters": {"Name": prefix},
    }  # fmt: skip
    beyond = get_page(api, "/triggers", {"cursor": encode_cursor(
        {"offset": 200, "order": 0, "pageSize": 15, "filters": {"Name": prefix}}
    )})  # fmt: skip
    assert beyond["data"] == [] and beyond["hasMore"] is False


def test_previous_of_an_unaligned_offset_does_not_go_below_zero(
    api: Api, triggers_35: tuple[str, list[str]]
) -> None:
    prefix, created = triggers_35
    cursor = encode_cursor({"offset": 4, "order": 0, "pageSize": 10, "filters": {"Name": prefix}})
    page = get_page(api, "/triggers", {"cursor": cursor})
    assert [item["id"] for item in page["data"]] == created[4:14]
    assert decode_cursor(page["previous"])["offset"] == 0


def test_deleted_triggers_leave_the_pages(api: Api) -> None:
    prefix = "holes " + tag()
    created = create_triggers(api, create_workflow(api), prefix, 8)
    for trigger_id in created[::2]:
        api.sdk.orchestration.v2.delete_trigger(request={"trigger_id": trigger_id})
    pages = walk_forward(api, "/triggers", {"name": prefix, "pageSize": "3"})
    assert [len(page["data"]) for page in pages] == [3, 1]
    assert ids(pages) == created[1::2]


# -- workflows ---------------------------------------------------------------------------------


def test_workflows_pages_cover_the_v1_list_exactly(api: Api) -> None:
    created = [create_workflow(api, {"name": f"paged {n}", "stages": [{"noop": {}}]}) for n in range(12)]
    everything = [w.id for w in api.sdk.orchestration.v1.list_workflows().list_workflows_response.data]
    pages = walk_forward(api, "/workflows", {"pageSize": "7"})
    assert_links(pages, 7)
    assert ids(pages) == everything
    assert len(set(ids(pages))) == len(everything)
    assert [workflow_id for workflow_id in ids(pages) if workflow_id in created] == created
    assert walk_backward(api, "/workflows", pages[-1]) == pages
    if len(pages) > 1:
        assert decode_cursor(pages[0]["next"]) == {"offset": 7, "order": 0, "pageSize": 7, "filters": None}


def test_workflows_default_and_maximum_page_size(api: Api) -> None:
    for _ in range(16):
        create_workflow(api)
    default = get_page(api, "/workflows", {})
    assert default["pageSize"] == 15 and len(default["data"]) == 15 and default["hasMore"] is True
    capped = get_page(api, "/workflows", {"pageSize": "500"})
    assert capped["pageSize"] == 100
    assert len(capped["data"]) <= 100


def test_workflows_walk_through_the_sdk(api: Api) -> None:
    for _ in range(4):
        create_workflow(api)
    everything = [w.id for w in api.sdk.orchestration.v1.list_workflows().list_workflows_response.data]
    v2 = api.sdk.orchestration.v2
    cursor = v2.list_workflows(request={"page_size": 3}).v2_list_workflows_response.cursor
    seen = [workflow.id for workflow in cursor.data]
    while cursor.has_more:
        cursor = v2.list_workflows(request={"cursor": cursor.next}).v2_list_workflows_response.cursor
        seen += [workflow.id for workflow in cursor.data]
    assert seen == everything


def test_deleted_workflows_leave_the_pages(api: Api) -> None:
    doomed = create_workflow(api)
    api.sdk.orchestration.v2.delete_workflow(request={"flow_id": doomed})
    pages = walk_forward(api, "/workflows", {"pageSize": "100"})
    assert doomed not in ids(pages)


# -- instances ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def instances(api: Api) -> dict[str, Any]:
    """A workflow with 4 finished and 5 running instances, and another workflow's instance."""
    workflow_id = create_workflow(api, {"stages": [{"delay": {"duration": "${duration}"}}]})
    other_id = create_workflow(api)
    v1 = api.sdk.orchestration.v1
    finished, running, created = [], [], []
    for number in range(9):
        stays_running = number % 2 == 1 or number == 8
        run = v1.run_workflow(
            request={
                "workflow_id": workflow_id,
                "request_body": {"duration": "1h" if stays_running else "0s"},
                "wait": not stays_running,
            },
            timeout_ms=WAIT_TIMEOUT_MS,
        )
        instance = run.run_workflow_response.data
        if not stays_running:
            assert instance.terminated, instance
        (running if stays_running else finished).append(instance.id)
        created.append(instance.id)
    v1.run_workflow(request={"workflow_id": other_id, "wait": True}, timeout_ms=WAIT_TIMEOUT_MS)
    return {"workflow_id": workflow_id, "created": created, "running": running, "finished": finished}


def test_instances_of_a_workflow_walk_every_item_once_in_order(api: Api, instances: dict[str, Any]) -> None:
    workflow_id = instances["workflow_id"]
    pages = walk_forward(api, "/instances", {"workflowID": workflow_id, "pageSize": "4"})
    assert [len(page["data"]) for page in pages] == [4, 4, 1]
    assert_links(pages, 4)
    assert ids(pages) == instances["created"]
    assert all(item["workflowID"] == workflow_id for page in pages for item in page["data"])
    assert decode_cursor(pages[0]["next"]) == {
        "offset": 4, "order": 0, "pageSize": 4, "filters": {"WorkflowID": workflow_id, "Running": False},
    }  # fmt: skip
    assert walk_backward(api, "/instances", pages[-1]) == pages


def test_instances_running_filter_is_carried_by_the_cursor(api: Api, instances: dict[str, Any]) -> None:
    workflow_id = instances["workflow_id"]
    pages = walk_forward(api, "/instances", {"workflowID": workflow_id, "running": "true", "pageSize": "2"})
    assert [len(page["data"]) for page in pages] == [2, 2, 1]
    assert ids(pages) == instances["running"]
    assert all(item["terminated"] is False for page in pages for item in page["data"])
    assert decode_cursor(pages[0]["next"])["filters"] == {"WorkflowID": workflow_id, "Running": True}
    # Query parameters beside a cursor are ignored: the cursor's filters hold.
    overridden = get_page(
        api,
        "/instances",
        {"cursor": pages[0]["next"], "running": "false", "workflowID": str(uuid.uuid4()), "pageSize": "50"},
    )
    assert overridden == pages[1]


def test_instances_walk_through_the_sdk(api: Api, instances: dict[str, Any]) -> None:
    v2 = api.sdk.orchestration.v2
    request = {"workflow_id": instances["workflow_id"], "running": True, "page_size": 3}
    cursor = v2.list_instances(request=request).v2_list_runs_response.cursor
    seen = [instance.id for instance in cursor.data]
    while cursor.has_more:
        cursor = v2.list_instances(request={"cursor": cursor.next}).v2_list_runs_response.cursor
        seen += [instance.id for instance in cursor.data]
    assert seen == instances["running"]


def test_instances_without_filters_include_this_workflows_instances_in_order(
    api: Api, instances: dict[str, Any]
) -> None:
    pages = walk_forward(api, "/instances", {"pageSize": "100"})
    assert len(set(ids(pages))) == len(ids(pages))
    mine = [instance_id for instance_id in ids(pages) if instance_id in instances["created"]]
    assert mine == instances["created"]


# -- occurrences -------------------------------------------------------------------------------


def test_occurrences_page_of_a_trigger_without_any(api: Api) -> None:
    [trigger_id] = create_triggers(api, create_workflow(api), "occ " + tag(), 1)
    page = get_page(api, f"/triggers/{trigger_id}/occurrences", {})
    assert page == {"pageSize": 15, "hasMore": False, "data": []}
    page = get_page(api, f"/triggers/{trigger_id}/occurrences", {"pageSize": "3"})
    assert page == {"pageSize": 3, "hasMore": False, "data": []}
    cursor = encode_cursor({"offset": 3, "order": 0, "pageSize": 3, "filters": {"TriggerID": trigger_id}})
    page = get_page(api, f"/triggers/{trigger_id}/occurrences", {"cursor": cursor})
    assert page["data"] == [] and page["hasMore"] is False and page["pageSize"] == 3
    assert decode_cursor(page["previous"]) == {
        "offset": 0, "order": 0, "pageSize": 3, "filters": {"TriggerID": trigger_id},
    }  # fmt: skip
    sdk = api.sdk.orchestration.v2.list_triggers_occurrences(request={"trigger_id": trigger_id, "page_size": 5})
    assert sdk.v2_list_triggers_occurrences_response.cursor.data == []
    assert sdk.v2_list_triggers_occurrences_response.cursor.page_size == 5


# -- invalid parameters ------------------------------------------------------------------------


def list_paths(api: Api) -> list[str]:
    [trigger_id] = create_triggers(api, create_workflow(api), "bad " + tag(), 1)
    return ["/workflows", "/instances", "/triggers", f"/triggers/{trigger_id}/occurrences"]


def assert_validation(response: httpx.Response, message: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json() == {"errorCode": "VALIDATION", "errorMessage": message}


@pytest.mark.parametrize("page_size", ["abc", "-1", "1.5", "1e3", "0x10", "4294967297", "99999999999999999999"])
def test_invalid_page_size_is_rejected_on_every_list(api: Api, page_size: str) -> None:
    for path in list_paths(api):
        response = httpx.get(f"{api.url}{V2}{path}", params={"pageSize": page_size})
        assert_validation(response, "invalid 'pageSize' query param")


INVALID_CURSORS = [
    "not base64 !!",
    "%%%",
    "e30",  # {}
    encode_cursor([]),
    encode_cursor("a string"),
    encode_cursor(None),
    encode_cursor({"offset": -1, "order": 0, "pageSize": 15, "filters": None}),
    encode_cursor({"offset": "0", "order": 0, "pageSize": 15, "filters": None}),
    encode_cursor({"offset": 0, "order": 0, "pageSize": 0, "filters": None}),
    encode_cursor({"offset": 0, "order": 0, "pageSize": 1.5, "filters": None}),
    encode_cursor({"offset": 0.5, "order": 0, "pageSize": 15, "filters": None}),
    encode_cursor({"offset": True, "order": 0, "pageSize": 15, "filters": None}),
    encode_cursor({"offset": 0, "order": 0, "pageSize": 1000, "filters": None}),
    encode_cursor({"offset": 2**63, "order": 0, "pageSize": 15, "filters": None}),
    encode_cursor({"offset": 0, "order": 0, "pageSize": 2**64, "filters": None}),
    base64.urlsafe_b64encode(b"\xff\xfe{").decode(),
    encode_cursor({"offset": 0, "order": 0, "pageSize": 15, "filters": None}) + "!",
    base64.urlsafe_b64encode(b"[" * 5000).decode(),
    base64.urlsafe_b64encode(b'{"offset": NaN, "pageSize": 15}').decode(),
]


@pytest.mark.parametrize("cursor", INVALID_CURSORS)
def test_invalid_cursor_is_rejected_on_every_list(api: Api, cursor: str) -> None:
    for path in list_paths(api):
        response = httpx.get(f"{api.url}{V2}{path}", params={"cursor": cursor})
        assert_validation(response, "invalid 'cursor' query param")


@pytest.mark.parametrize(
    "filters",
    [
        {"Name": 5},
        {"WorkflowID": ["x"], "Running": "yes"},
        {"TriggerID": {"a": 1}},
        "not an object",
        [1, 2],
    ],
)
def test_cursor_with_odd_filters_never_fails_the_server(api: Api, filters: Any) -> None:
    cursor = encode_cursor({"offset": 0, "order": 0, "pageSize": 5, "filters": filters})
    for path in list_paths(api):
        response = httpx.get(f"{api.url}{V2}{path}", params={"cursor": cursor})
        assert response.status_code in (200, 400), (path, response.text)
        if response.status_code == 400:
            assert response.json() == {"errorCode": "VALIDATION", "errorMessage": "invalid 'cursor' query param"}


@pytest.mark.parametrize("offset", [2**32, 2**62, 2**63 - 1])
def test_a_far_offset_is_an_empty_last_page(api: Api, offset: int) -> None:
    for path in list_paths(api):
        cursor = encode_cursor({"offset": offset, "order": 0, "pageSize": 15, "filters": None})
        page = get_page(api, path, {"cursor": cursor})
        assert page["data"] == [] and page["hasMore"] is False and "next" not in page
        assert decode_cursor(page["previous"])["offset"] == offset - 15


def test_invalid_page_size_through_the_sdk_is_a_typed_error(api: Api) -> None:
    with pytest.raises(V2Error) as failure:
        api.sdk.orchestration.v2.list_workflows(request={"page_size": -1})
    assert failure.value.status_code == 400
    assert failure.value.data.error_code == "VALIDATION"
    assert failure.value.data.error_message == "invalid 'pageSize' query param"
    with pytest.raises(V2Error) as bad_cursor:
        api.sdk.orchestration.v2.list_triggers(request={"cursor": "garbage!"})
    assert bad_cursor.value.status_code == 400
    assert bad_cursor.value.data.error_message == "invalid 'cursor' query param"


def test_empty_page_size_and_cursor_mean_defaults(api: Api) -> None:
    response = httpx.get(f"{api.url}{V2}/workflows", params={"pageSize": "", "cursor": ""})
    assert response.status_code == 200, response.text
    assert response.json()["cursor"]["pageSize"] == 15
