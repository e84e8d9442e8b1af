"""Instance and stage histories, v1 and v2, through the official Python SDK (SQLite and PostgreSQL).

Behaviour (docs/api.md, histories): one entry per started stage with the stage's
*resolved* input; stages without activities (noop, delay, wait_event) have an empty stage history.
Unknown instance, and a stage number that is not an integer, negative or not reached → 404
(docs/api.md, errors).
"""

from __future__ import annotations

from datetime import datetime, timedelta

import httpx
import pytest

from tests.api.helpers import (
    SEND,
    abort,
    api_error,
    api_error_v2,
    get_instance,
    history,
    send_event,
    stage_started,
    start,
    terminated,
    unknown_id,
)
from tests.conftest import Api

NOOP_DELAY_WAIT = [{"noop": {}}, {"delay": {"duration": "1s"}}, {"wait_event": {"event": "go"}}]


def parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def stage_history(api: Api, instance_id: str, number: int) -> list:
    response = api.sdk.orchestration.v1.get_instance_stage_history(
        request={"instance_id": instance_id, "number": number}
    )
    assert response.status_code == 200
    return response.get_workflow_instance_history_stage_response.data


def stage_history_url(api: Api, instance_id: str, number: str, prefix: str = "") -> str:
    return f"{api.url}/api/orchestration{prefix}/instances/{instance_id}/stages/{number}/history"


# --- instance history ----------------------------------------------------------------------------


def test_history_has_one_entry_per_started_stage(api: Api) -> None:
    instance = start(api, NOOP_DELAY_WAIT)
    stage_started(api, instance.id, 2)
    noop, delay, wait = history(api, instance.id)

    assert noop["name"] == "RunNoop"
    assert noop["input"] == {}
    assert noop["terminated"] is True
    assert "error" not in noop

    assert delay["name"] == "RunDelay"
    assert delay["input"] == {"duration": "1s"}
    assert delay["terminated"] is True
    assert "error" not in delay
    slept = parse(delay["terminatedAt"]) - parse(delay["startedAt"])
    assert timedelta(seconds=0.9) <= slept < timedelta(seconds=10)

    assert wait["name"] == "RunWaitEvent"
    assert wait["input"] == {"event": "go"}
    assert wait["terminated"] is False
    assert "terminatedAt" not in wait and "error" not in wait

    assert parse(noop["startedAt"]) <= parse(noop["terminatedAt"]) <= parse(delay["startedAt"])
    assert parse(delay["terminatedAt"]) <= parse(wait["startedAt"])

    send_event(api, instance.id, "go")
    terminated(api, instance.id)
    *_, wait = history(api, instance.id)
    assert wait["terminated"] is True
    assert parse(wait["startedAt"]) <= parse(wait["terminatedAt"])


def test_history_is_what_the_sdk_parses(api: Api) -> None:
    instance = start(api, NOOP_DELAY_WAIT)
    stage_started(api, instance.id, 2)
    response = api.sdk.orchestration.v1.get_instance_history(request={"instance_id": instance.id})
    entries = response.get_workflow_instance_history_response.data
    assert [entry.name for entry in entries] == ["RunNoop", "RunDelay", "RunWaitEvent"]
    assert [entry.terminated for entry in entries] == [True, True, False]
    assert entries[1].terminated_at is not None and entries[2].terminated_at is None
    abort(api, instance.id)


def test_history_does_not_show_stages_not_reached(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "go"}}, {"noop": {}}, {"noop": {}}])
    stage_started(api, instance.id, 0)
    assert [entry["name"] for entry in history(api, instance.id)] == ["RunWaitEvent"]
    abort(api, instance.id)


def test_history_shows_the_resolved_input(api: Api) -> None:
    instance = start(
        api,
        [{"delay": {"duration": "${short}"}}, {"delay": {"duration": "90s"}}],
        {"short": "1s"},
    )
    stage_started(api, instance.id, 1)
    assert [entry["input"] for entry in history(api, instance.id)] == [
        {"duration": "1s"},
        {"duration": "1m30s"},  # as Go prints a duration
    ]
    abort(api, instance.id)


def test_history_shows_a_failed_stage_and_its_error(api: Api) -> None:
    instance = start(api, [{"noop": {}}, SEND, {"noop": {}}])
    ended = terminated(api, instance.id)
    assert ended.error
    noop, send = history(api, instance.id)
    assert noop["name"] == "RunNoop" and "error" not in noop
    assert send["name"] == "RunSend"
    assert send["terminated"] is True and "terminatedAt" in send
    assert send["error"] == ended.error
    assert send["input"]["source"]["account"]["id"] == "world"
    assert send["input"]["destination"]["account"]["id"] == "users:1"
    assert send["input"]["amount"] == {"amount": 100, "asset": "usd"}


def test_history_shows_a_canceled_stage(api: Api) -> None:
    instance = start(api, [{"noop": {}}, {"wait_event": {"event": "go"}}])
    stage_started(api, instance.id, 1)
    abort(api, instance.id)
    _, wait = history(api, instance.id)
    assert wait["terminated"] is True and "terminatedAt" in wait
    assert wait["error"] == "canceled"


def test_history_of_an_instance_of_a_deleted_workflow_stays_readable(api: Api) -> None:
    instance = start(api, [{"noop": {}}])
    terminated(api, instance.id)
    api.sdk.orchestration.v1.delete_workflow(request={"flow_id": instance.workflow_id})
    assert [entry["name"] for entry in history(api, instance.id)] == ["RunNoop"]
    assert stage_history(api, instance.id, 0) == []


def test_history_of_an_unknown_instance_is_not_found(api: Api) -> None:
    error = api_error(
        lambda: api.sdk.orchestration.v1.get_instance_history(request={"instance_id": unknown_id()})
    )
    assert error.status_code == 404
    assert error.data.error_code == "NOT_FOUND"


# --- stage history -------------------------------------------------------------------------------


def test_stages_without_activities_have_an_empty_history(api: Api) -> None:
    instance = start(api, NOOP_DELAY_WAIT)
    stage_started(api, instance.id, 2)
    for number in (0, 1, 2):  # noop, delay (ended), wait_event (still waiting)
        response = httpx.get(stage_history_url(api, instance.id, str(number)))
        assert response.status_code == 200, response.text
        assert response.json() == {"data": []}
        assert stage_history(api, instance.id, number) == []
    abort(api, instance.id)


def test_stage_history_of_a_stage_not_reached_is_not_found(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "go"}}, {"noop": {}}])
    stage_started(api, instance.id, 0)
    for number in (1, 2, 1000):
        error = api_error(lambda n=number: stage_history(api, instance.id, n))
        assert error.status_code == 404
        assert error.data.error_code == "NOT_FOUND"
    abort(api, instance.id)


@pytest.mark.parametrize("number", ["-1", "abc", "1.5", "1e2", "0x1", " 1", "99999999999999999999"])
def test_stage_history_needs_a_stage_number(api: Api, number: str) -> None:
    instance = start(api, [{"noop": {}}])
    terminated(api, instance.id)
    response = httpx.get(stage_history_url(api, instance.id, number))
    assert response.status_code == 404, response.text
    assert response.json()["errorCode"] == "NOT_FOUND"


def test_stage_history_with_a_negative_number_through_the_sdk(api: Api) -> None:
    instance = start(api, [{"noop": {}}])
    terminated(api, instance.id)
    error = api_error(lambda: stage_history(api, instance.id, -1))
    assert error.status_code == 404
    assert error.data.error_code == "NOT_FOUND"


def test_stage_history_of_an_unknown_instance_is_not_found(api: Api) -> None:
    error = api_error(lambda: stage_history(api, unknown_id(), 0))
    assert error.status_code == 404
    assert error.data.error_code == "NOT_FOUND"


# --- v2 ------------------------------------------------------------------------------------------


def test_v2_get_instance_and_histories(api: Api) -> None:
    instance = start(api, NOOP_DELAY_WAIT)
    stage_started(api, instance.id, 2)
    v2 = api.sdk.orchestration.v2

    read = v2.get_instance(request={"instance_id": instance.id})
    assert read.status_code == 200
    data = read.v2_get_workflow_instance_response.data
    assert data.id == instance.id and data.workflow_id == instance.workflow_id
    assert data.terminated is False
    assert [int(row.stage) for row in data.status or []] == [0, 1, 2]
    assert read.raw_response.json()["data"] == httpx.get(
        f"{api.url}/api/orchestration/instances/{instance.id}"
    ).json()["data"]

    entries = v2.get_instance_history(request={"instance_id": instance.id})
    assert entries.status_code == 200
    parsed = entries.v2_get_workflow_instance_history_response.data
    assert [entry.name for entry in parsed] == ["RunNoop", "RunDelay", "RunWaitEvent"]
    assert entries.raw_response.json()["data"] == history(api, instance.id)

    stage = v2.get_instance_stage_history(request={"instance_id": instance.id, "number": 1})
    assert stage.status_code == 200
    assert stage.v2_get_workflow_instance_history_stage_response.data == []

    send_event(api, instance.id, "go")
    terminated(api, instance.id)
    final = v2.get_instance(request={"instance_id": instance.id}).v2_get_workflow_instance_response.data
    assert final.terminated is True and final.error is None


def test_v2_unknown_instance_and_stage_are_not_found(api: Api) -> None:
    v2 = api.sdk.orchestration.v2
    unknown = unknown_id()
    for call in (
        lambda: v2.get_instance(request={"instance_id": unknown}),
        lambda: v2.get_instance_history(request={"instance_id": unknown}),
        lambda: v2.get_instance_stage_history(request={"instance_id": unknown, "number": 0}),
    ):
        error = api_error_v2(call)
        assert error.status_code == 404
        assert error.data.error_code == "NOT_FOUND"

    instance = start(api, [{"noop": {}}])
    terminated(api, instance.id)
    error = api_error_v2(lambda: v2.get_instance_stage_history(request={"instance_id": instance.id, "number": 1}))
    assert error.status_code == 404
    for number in ("-1", "abc"):
        response = httpx.get(stage_history_url(api, instance.id, number, prefix="/v2"))
        assert response.status_code == 404, response.text
        assert response.json()["errorCode"] == "NOT_FOUND"


def test_v2_failed_instance_shows_its_error(api: Api) -> None:
    instance = start(api, [SEND])
    ended = terminated(api, instance.id)
    v2 = api.sdk.orchestration.v2
    data = v2.get_instance(request={"instance_id": instance.id}).v2_get_workflow_instance_response.data
    assert data.error == ended.error
    [send] = v2.get_instance_history(
        request={"instance_id": instance.id}
    ).v2_get_workflow_instance_history_response.data
    assert send.name == "RunSend" and send.error == ended.error and send.terminated is True
    assert get_instance(api, instance.id).error == ended.error


def test_a_stage_that_fails_resolution_is_not_in_history(api: Api) -> None:
    # An empty variable leaves the required `event` empty, so the stage fails before it starts: a
    # status row with the error, no history entry. (A variable left out is refused at run time.)
    instance = start(api, [{"noop": {}}, {"wait_event": {"event": "${empty}"}}, {"noop": {}}], {"empty": ""})
    ended = terminated(api, instance.id)
    assert ended.error and "event" in ended.error
    rows = ended.status or []
    assert [int(row.stage) for row in rows] == [0, 1]
    assert rows[1].error == ended.error and rows[1].terminated_at is not None
    assert [entry["name"] for entry in history(api, instance.id)] == ["RunNoop"]
    error = api_error(lambda: stage_history(api, instance.id, 1))
    assert error.status_code == 404


def test_a_variable_that_is_no_duration_fails_the_stage(api: Api) -> None:
    instance = start(api, [{"delay": {"duration": "${wait}"}}], {"wait": "soon"})
    ended = terminated(api, instance.id)
    assert ended.error and "soon" in ended.error
    [row] = ended.status or []
    assert row.error == ended.error
    assert history(api, instance.id) == []
