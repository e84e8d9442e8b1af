"""Instances through the official Python SDK: run, list, read, abort (on SQLite and PostgreSQL).

Behaviour: docs/api.md, with docs/differences.md#1 to #3 (abort really
cancels, `?wait=true` waits and shows the instance's own error, unknown things are 404).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.api.helpers import (
    SEND,
    WAIT_MS,
    abort,
    api_error,
    create_workflow,
    get_instance,
    history,
    list_instances,
    now,
    raw_instance,
    run,
    send_event,
    stage_started,
    start,
    terminated,
    unknown_id,
)
from tests.conftest import Api

WAIT_GO = [{"wait_event": {"event": "go"}}]


def runs_url(api: Api, workflow_id: str) -> str:
    return f"{api.url}/api/orchestration/workflows/{workflow_id}/instances"


# --- run -----------------------------------------------------------------------------------------


def test_run_answers_201_with_the_new_instance(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_GO)
    before = now()
    response = api.sdk.orchestration.v1.run_workflow(request={"workflow_id": workflow_id})
    assert response.status_code == 201
    instance = response.run_workflow_response.data
    assert instance.workflow_id == workflow_id
    assert instance.id
    assert instance.terminated is False
    assert instance.created_at == instance.updated_at
    assert before <= instance.created_at <= now()
    body = response.raw_response.json()["data"]
    assert set(body) == {"workflowID", "id", "createdAt", "updatedAt", "terminated"}
    assert body["createdAt"].endswith("Z")


def test_run_ids_are_distinct(api: Api) -> None:
    workflow_id = create_workflow(api, [{"noop": {}}])
    assert run(api, workflow_id).id != run(api, workflow_id).id


def test_run_variables_are_interpolated_into_the_stages(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "${name}"}}], {"name": "approved"})
    stage_started(api, instance.id, 0)
    [entry] = history(api, instance.id)
    assert entry["input"] == {"event": "approved"}
    send_event(api, instance.id, "approved")
    assert terminated(api, instance.id).error is None


def test_run_variables_must_be_strings(api: Api) -> None:
    workflow_id = create_workflow(api, [{"noop": {}}])
    for body in ({"amount": 5}, {"flag": True}, {"nested": {"a": "b"}}, {"nothing": None}, ["a"], "a"):
        response = httpx.post(runs_url(api, workflow_id), json=body)
        assert response.status_code == 400, (body, response.text)
        assert response.json()["errorCode"] == "VALIDATION"
    malformed = httpx.post(
        runs_url(api, workflow_id), content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert malformed.json()["errorCode"] == "VALIDATION"
    assert list_instances(api, workflow_id=workflow_id) == []


def test_a_run_that_leaves_out_a_variable_a_stage_needs_is_refused(api: Api) -> None:
    workflow_id = create_workflow(api, [{"noop": {}}, {"wait_event": {"event": "${event}"}}])
    response = httpx.post(runs_url(api, workflow_id), json={"other": "x"})
    assert response.status_code == 400, response.text
    assert response.json() == {
        "errorCode": "VALIDATION",
        "errorMessage": "stages[1].wait_event.event: required (run variable 'event' not given)",
    }
    assert list_instances(api, workflow_id=workflow_id) == []
    # Given, even empty, the variable is the caller's choice: the stage fails when reached.
    assert httpx.post(runs_url(api, workflow_id), json={"event": ""}).status_code == 201


def test_a_variable_left_out_of_a_field_with_a_default_is_no_mistake(api: Api) -> None:
    # `ledger` defaults to "main" when it interpolates to "".
    workflow_id = create_workflow(api, [{"update": {"account": {"id": "users:v", "ledger": "${ledger}", "metadata": {"k": "v"}}}}])
    response = httpx.post(runs_url(api, workflow_id), json={})
    assert response.status_code == 201, response.text


def test_run_with_an_empty_json_body_as_the_typescript_sdk_sends_it(api: Api) -> None:
    workflow_id = create_workflow(api, [{"noop": {}}])
    response = httpx.post(
        runs_url(api, workflow_id), content=b"", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["data"]["workflowID"] == workflow_id
    assert response.json()["data"]["terminated"] is False


def test_run_and_wait_returns_the_finished_instance(api: Api) -> None:
    workflow_id = create_workflow(api, [{"noop": {}}, {"noop": {}}])
    instance = run(api, workflow_id, wait=True)
    assert instance.terminated is True
    assert instance.terminated_at is not None
    assert instance.error is None
    assert instance.workflow is not None and instance.workflow.id == workflow_id
    assert [int(row.stage) for row in instance.status or []] == [0, 1]
    for row in instance.status or []:
        assert row.instance_id == instance.id
        assert row.terminated_at is not None and row.started_at <= row.terminated_at
        assert row.error is None


def test_run_and_wait_shows_the_instance_error(api: Api) -> None:
    # `send` fails at run time until money movement is released; any failing stage would do.
    workflow_id = create_workflow(api, [{"noop": {}}, SEND, {"noop": {}}])
    instance = run(api, workflow_id, wait=True)
    assert instance.terminated is True
    assert instance.error
    rows = instance.status or []
    assert [int(row.stage) for row in rows] == [0, 1]
    assert rows[0].error is None
    assert rows[1].error == instance.error
    assert get_instance(api, instance.id).error == instance.error


def test_run_and_wait_is_bounded(sqlite_api: Api) -> None:
    # The server waits at most --wait-timeout (4 s by default), then answers with the instance as
    # it stands: a wait_event stage that gets no event keeps it running.
    api = sqlite_api
    workflow_id = create_workflow(api, [{"noop": {}}, *WAIT_GO])
    started = time.monotonic()
    instance = run(api, workflow_id, wait=True)
    assert time.monotonic() - started < 10
    assert instance.terminated is False and instance.terminated_at is None
    # The wait's own error says it ran out of time, and where to follow the instance.
    assert instance.error is not None
    assert "still running after waiting 4 s" in instance.error and f"GET /instances/{instance.id}" in instance.error
    assert get_instance(api, instance.id).error is None
    rows = instance.status or []
    assert [int(row.stage) for row in rows] == [0, 1]
    assert rows[0].terminated_at is not None and rows[1].terminated_at is None
    send_event(api, instance.id, "go")
    assert terminated(api, instance.id).error is None


def test_run_and_wait_false_does_not_wait(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_GO)
    instance = run(api, workflow_id, wait=False)
    assert instance.terminated is False


def test_run_of_an_unknown_workflow_is_not_found(api: Api) -> None:
    error = api_error(lambda: api.sdk.orchestration.v1.run_workflow(request={"workflow_id": unknown_id()}))
    assert error.status_code == 404
    assert error.data.error_code == "NOT_FOUND"


def test_run_of_a_deleted_workflow_is_not_found(api: Api) -> None:
    workflow_id = create_workflow(api, [{"noop": {}}])
    api.sdk.orchestration.v1.delete_workflow(request={"flow_id": workflow_id})
    error = api_error(lambda: api.sdk.orchestration.v1.run_workflow(request={"workflow_id": workflow_id}))
    assert error.status_code == 404
    assert error.data.error_code == "NOT_FOUND"
    assert list_instances(api, workflow_id=workflow_id) == []


def test_run_with_the_same_idempotency_key_returns_the_same_instance(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_GO)
    key = unknown_id()
    first = run(api, workflow_id, key=key)
    second = run(api, workflow_id, key=key)
    assert second.id == first.id
    assert second.created_at == first.created_at
    assert [item.id for item in list_instances(api, workflow_id=workflow_id)] == [first.id]
    other = run(api, workflow_id, key=unknown_id())
    assert other.id != first.id
    assert len(list_instances(api, workflow_id=workflow_id)) == 2


def test_concurrent_runs_with_the_same_idempotency_key_make_one_instance(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_GO)
    key = unknown_id()
    with ThreadPoolExecutor(max_workers=6) as pool:
        runs = list(pool.map(lambda _: run(api, workflow_id, key=key), range(6)))
    assert len({instance.id for instance in runs}) == 1
    [stored] = list_instances(api, workflow_id=workflow_id)
    assert stored.id == runs[0].id
    assert {instance.created_at for instance in runs} == {stored.created_at}


def test_idempotency_key_on_a_finished_instance_returns_it(api: Api) -> None:
    workflow_id = create_workflow(api, [{"noop": {}}])
    key = unknown_id()
    first = run(api, workflow_id, key=key, wait=True)
    assert first.terminated is True
    again = run(api, workflow_id, key=key)
    assert again.id == first.id
    assert again.terminated is True
    assert len(list_instances(api, workflow_id=workflow_id)) == 1


# --- list ----------------------------------------------------------------------------------------


def test_list_filters_by_workflow(api: Api) -> None:
    first, second = create_workflow(api, [{"noop": {}}]), create_workflow(api, [{"noop": {}}])
    of_first = run(api, first).id
    of_second = run(api, second).id
    assert [item.id for item in list_instances(api, workflow_id=first)] == [of_first]
    assert [item.id for item in list_instances(api, workflow_id=second)] == [of_second]
    everything = [item.id for item in list_instances(api)]
    assert of_first in everything and of_second in everything


def test_list_running_only(api: Api) -> None:
    waiting_workflow = create_workflow(api, WAIT_GO)
    done_workflow = create_workflow(api, [{"noop": {}}])
    waiting = run(api, waiting_workflow).id
    done = run(api, done_workflow, wait=True)
    assert done.terminated
    running = [item.id for item in list_instances(api, running=True)]
    assert waiting in running
    assert done.id not in running
    assert all(not item.terminated for item in list_instances(api, running=True))
    unfiltered = [item.id for item in list_instances(api, running=False)]
    assert waiting in unfiltered and done.id in unfiltered
    assert [item.id for item in list_instances(api, workflow_id=waiting_workflow, running=True)] == [waiting]
    assert list_instances(api, workflow_id=done_workflow, running=True) == []
    for value, only_running in (("1", True), ("TRUE", True), ("no", False), ("", False)):
        response = httpx.get(
            f"{api.url}/api/orchestration/instances",
            params={"workflowID": done_workflow, "running": value},
        )
        assert response.status_code == 200, response.text
        assert len(response.json()["data"]) == (0 if only_running else 1), value


def test_listed_instances_embed_the_workflow_but_no_status(api: Api) -> None:
    workflow_id = create_workflow(api, [{"noop": {}}])
    instance = run(api, workflow_id, wait=True)
    [listed] = list_instances(api, workflow_id=workflow_id)
    assert listed.id == instance.id
    assert listed.workflow is not None and listed.workflow.id == workflow_id
    assert listed.status is None
    response = httpx.get(f"{api.url}/api/orchestration/instances", params={"workflowID": workflow_id})
    [body] = response.json()["data"]
    assert "status" not in body
    assert body["workflow"]["id"] == workflow_id
    assert body["terminated"] is True and "terminatedAt" in body


def test_instances_of_a_deleted_workflow_are_hidden_but_readable(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_GO)
    instance = run(api, workflow_id)
    api.sdk.orchestration.v1.delete_workflow(request={"flow_id": workflow_id})
    assert list_instances(api, workflow_id=workflow_id) == []
    assert instance.id not in [item.id for item in list_instances(api)]
    assert instance.id not in [item.id for item in list_instances(api, running=True)]
    read = get_instance(api, instance.id)
    assert read.id == instance.id
    assert read.workflow is not None and read.workflow.id == workflow_id
    assert "deletedAt" in raw_instance(api, instance.id)["workflow"]
    # A running instance of a deleted workflow keeps running (docs/differences.md#6).
    stage_started(api, instance.id, 0)
    send_event(api, instance.id, "go")
    assert terminated(api, instance.id).error is None


def test_list_is_in_creation_order(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_GO)
    ids = [run(api, workflow_id).id for _ in range(4)]
    assert [item.id for item in list_instances(api, workflow_id=workflow_id)] == ids


# --- read ----------------------------------------------------------------------------------------


def test_get_shows_a_status_row_per_started_stage(api: Api) -> None:
    instance = start(api, [{"noop": {}}, {"wait_event": {"event": "go"}}, {"noop": {}}])
    waiting = stage_started(api, instance.id, 1)
    assert waiting.terminated is False
    assert waiting.terminated_at is None and waiting.error is None
    assert waiting.workflow is not None and waiting.workflow.id == instance.workflow_id
    first, second = waiting.status or []
    assert (int(first.stage), int(second.stage)) == (0, 1)
    assert first.instance_id == second.instance_id == instance.id
    assert first.terminated_at is not None and first.error is None
    assert first.started_at <= first.terminated_at <= second.started_at
    assert second.terminated_at is None and second.error is None

    send_event(api, instance.id, "go")
    ended = terminated(api, instance.id)
    assert ended.error is None
    assert ended.terminated_at is not None
    assert ended.created_at <= ended.terminated_at
    assert [int(row.stage) for row in ended.status or []] == [0, 1, 2]
    assert all(row.terminated_at is not None and row.error is None for row in ended.status or [])
    body = raw_instance(api, instance.id)
    assert "error" not in body
    assert set(body["status"][0]) >= {"stage", "instanceID", "startedAt", "terminatedAt"}
    assert "error" not in body["status"][0]


def test_get_shows_the_failed_stage_and_stops_there(api: Api) -> None:
    instance = start(api, [{"noop": {}}, SEND, {"noop": {}}])
    ended = terminated(api, instance.id)
    assert ended.error
    rows = ended.status or []
    assert [int(row.stage) for row in rows] == [0, 1]
    assert rows[1].error == ended.error
    assert rows[1].terminated_at is not None
    assert ended.terminated_at is not None and rows[1].terminated_at <= ended.terminated_at


def test_a_workflow_without_stages_terminates_at_once(api: Api) -> None:
    # A config needs `stages`, but an empty list is valid (docs/stages.md).
    instance = run(api, create_workflow(api, []), wait=True)
    assert instance.terminated is True and instance.error is None
    assert "status" not in raw_instance(api, instance.id)


def test_get_of_an_unknown_instance_is_not_found(api: Api) -> None:
    error = api_error(lambda: api.sdk.orchestration.v1.get_instance(request={"instance_id": unknown_id()}))
    assert error.status_code == 404
    assert error.data.error_code == "NOT_FOUND"


# --- abort ---------------------------------------------------------------------------------------


def test_abort_cancels_a_waiting_instance(api: Api) -> None:
    instance = start(api, [{"noop": {}}, {"wait_event": {"event": "go"}}, {"noop": {}}])
    stage_started(api, instance.id, 1)
    before = now()
    abort(api, instance.id)
    # The endpoint answers once the instance is terminal: no polling needed.
    aborted = get_instance(api, instance.id)
    assert aborted.terminated is True
    assert aborted.error == "canceled"
    assert aborted.terminated_at is not None and aborted.terminated_at >= before
    rows = aborted.status or []
    assert [int(row.stage) for row in rows] == [0, 1]
    assert rows[0].error is None
    assert rows[1].error == "canceled"
    assert rows[1].terminated_at is not None and rows[1].terminated_at >= before
    assert instance.id not in [item.id for item in list_instances(api, running=True)]
    # And it stays canceled: a late event is refused, the next stage never runs.
    late = api_error(
        lambda: api.sdk.orchestration.v1.send_event(
            request={"instance_id": instance.id, "request_body": {"name": "go"}}
        )
    )
    assert late.status_code == 400
    assert [entry["name"] for entry in history(api, instance.id)] == ["RunNoop", "RunWaitEvent"]


def test_abort_stops_a_long_delay(api: Api) -> None:
    instance = start(api, [{"delay": {"duration": "1h"}}, {"noop": {}}])
    stage_started(api, instance.id, 0)
    abort(api, instance.id)
    aborted = get_instance(api, instance.id)
    assert aborted.terminated is True
    assert aborted.error == "canceled"
    [row] = aborted.status or []
    assert row.error == "canceled" and row.terminated_at is not None


def test_abort_of_a_finished_instance_changes_nothing(api: Api) -> None:
    workflow_id = create_workflow(api, [{"noop": {}}, SEND])
    failed = run(api, workflow_id, wait=True)
    assert failed.terminated and failed.error
    abort(api, failed.id)
    after = get_instance(api, failed.id)
    assert after.error == failed.error
    assert after.terminated_at == failed.terminated_at
    assert [(row.error, row.terminated_at) for row in after.status or []] == [
        (row.error, row.terminated_at) for row in failed.status or []
    ]

    succeeded = run(api, create_workflow(api, [{"noop": {}}]), wait=True)
    assert succeeded.terminated and succeeded.error is None
    abort(api, succeeded.id)
    again = get_instance(api, succeeded.id)
    assert again.error is None
    assert again.terminated_at == succeeded.terminated_at


def test_abort_twice_is_harmless(api: Api) -> None:
    instance = start(api, WAIT_GO)
    stage_started(api, instance.id, 0)
    abort(api, instance.id)
    abort(api, instance.id)
    assert get_instance(api, instance.id).error == "canceled"


def test_abort_of_an_unknown_instance_is_not_found(api: Api) -> None:
    error = api_error(
        lambda: api.sdk.orchestration.v1.cancel_event(
            request={"instance_id": unknown_id()}, timeout_ms=WAIT_MS
        )
    )
    assert error.status_code == 404
    assert error.data.error_code == "NOT_FOUND"


# --- v2 ------------------------------------------------------------------------------------------


def test_v2_run_list_event_and_abort(api: Api) -> None:
    v2 = api.sdk.orchestration.v2
    workflow_id = create_workflow(api, [*WAIT_GO, *WAIT_GO])
    ran = v2.run_workflow(request={"workflow_id": workflow_id, "request_body": {"a": "b"}})
    assert ran.status_code == 201
    instance = ran.v2_run_workflow_response.data
    assert instance.workflow_id == workflow_id and instance.terminated is False
    assert set(ran.raw_response.json()["data"]) == {"workflowID", "id", "createdAt", "updatedAt", "terminated"}

    listed = v2.list_instances(request={"workflow_id": workflow_id, "running": True})
    assert [item.id for item in listed.v2_list_runs_response.cursor.data] == [instance.id]

    stage_started(api, instance.id, 0)
    sent = v2.send_event(request={"instance_id": instance.id, "request_body": {"name": "go"}})
    assert sent.status_code == 204
    stage_started(api, instance.id, 1)
    aborted = v2.cancel_event(request={"instance_id": instance.id}, timeout_ms=WAIT_MS)
    assert aborted.status_code == 204
    ended = v2.get_instance(request={"instance_id": instance.id}).v2_get_workflow_instance_response.data
    assert ended.terminated is True and ended.error == "canceled"
    assert [row.error for row in ended.status or []] == [None, "canceled"]
    assert v2.list_instances(
        request={"workflow_id": workflow_id, "running": True}
    ).v2_list_runs_response.cursor.data == []

    waited = v2.run_workflow(
        request={"workflow_id": create_workflow(api, [{"noop": {}}]), "wait": True}, timeout_ms=WAIT_MS
    ).v2_run_workflow_response.data
    assert waited.terminated is True and [int(row.stage) for row in waited.status or []] == [0]
