"""Events sent to instances, through the official Python SDK (on SQLite and PostgreSQL).

Behaviour: docs/api.md and docs/stages.md (wait_event), with docs/differences.md#10 (events are not lost: kept
in a FIFO buffer until a `wait_event` stage of that name consumes them, each consumed once), and
the decisions on events (empty name → 400, terminated → 400, unknown → 404, Idempotency-Key).

To show that an event did *not* complete a stage, the tests send a later, matching event at a
known time and check that the stage ended after it: no sleeping for "long enough".
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.api.helpers import (
    api_error,
    get_instance,
    history,
    now,
    send_event,
    stage_started,
    start,
    terminated,
    unknown_id,
)
from tests.conftest import Api


def events_url(api: Api, instance_id: str) -> str:
    return f"{api.url}/api/orchestration/instances/{instance_id}/events"


def stage_end(api: Api, instance_id: str, number: int):  # noqa: ANN201 (a datetime)
    rows = {int(row.stage): row for row in get_instance(api, instance_id).status or []}
    assert rows[number].terminated_at is not None
    return rows[number].terminated_at


def test_an_event_completes_the_waiting_stage(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "approved"}}, {"noop": {}}])
    stage_started(api, instance.id, 0)
    sent_at = now()
    response = api.sdk.orchestration.v1.send_event(
        request={"instance_id": instance.id, "request_body": {"name": "approved"}}
    )
    assert response.status_code == 204
    ended = terminated(api, instance.id)
    assert ended.error is None
    assert [int(row.stage) for row in ended.status or []] == [0, 1]
    assert stage_end(api, instance.id, 0) >= sent_at
    [waited, _] = history(api, instance.id)
    assert waited["name"] == "RunWaitEvent" and waited["terminated"] is True


def test_an_event_sent_during_an_earlier_stage_is_kept(api: Api) -> None:
    instance = start(api, [{"delay": {"duration": "2s"}}, {"wait_event": {"event": "approved"}}])
    stage_started(api, instance.id, 0)
    send_event(api, instance.id, "approved")
    sent_at = now()
    ended = terminated(api, instance.id)
    assert ended.error is None
    # The event really arrived while the delay was still running.
    assert stage_end(api, instance.id, 0) > sent_at
    assert [entry["name"] for entry in history(api, instance.id)] == ["RunDelay", "RunWaitEvent"]


def test_an_event_sent_before_the_first_stage_starts_is_kept(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "approved"}}])
    send_event(api, instance.id, "approved")  # no waiting for the stage to start
    assert terminated(api, instance.id).error is None


def test_each_event_is_consumed_once_in_order(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "a"}}, {"wait_event": {"event": "a"}}])
    stage_started(api, instance.id, 0)
    send_event(api, instance.id, "a")
    stage_started(api, instance.id, 1)  # the first stage took the event; the second still waits
    second_sent_at = now()
    send_event(api, instance.id, "a")
    ended = terminated(api, instance.id)
    assert ended.error is None
    assert stage_end(api, instance.id, 0) < second_sent_at <= stage_end(api, instance.id, 1)


def test_two_buffered_events_complete_two_stages(api: Api) -> None:
    instance = start(
        api,
        [{"delay": {"duration": "1s"}}, {"wait_event": {"event": "a"}}, {"wait_event": {"event": "a"}}],
    )
    send_event(api, instance.id, "a")
    send_event(api, instance.id, "a")
    ended = terminated(api, instance.id)
    assert ended.error is None
    assert [int(row.stage) for row in ended.status or []] == [0, 1, 2]


def test_an_event_of_another_name_does_not_complete_the_stage(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "a"}}, {"wait_event": {"event": "b"}}])
    stage_started(api, instance.id, 0)
    send_event(api, instance.id, "b")  # kept for the second stage, not taken by the first
    send_event(api, instance.id, "c")  # matches no stage at all
    a_sent_at = now()
    send_event(api, instance.id, "a")
    ended = terminated(api, instance.id)
    assert ended.error is None
    assert stage_end(api, instance.id, 0) >= a_sent_at
    assert [entry["input"] for entry in history(api, instance.id)] == [{"event": "a"}, {"event": "b"}]


def test_a_non_matching_event_leaves_the_instance_waiting(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "a"}}])
    stage_started(api, instance.id, 0)
    send_event(api, instance.id, "A")  # names are case-sensitive
    later = now()
    send_event(api, instance.id, "a")
    terminated(api, instance.id)
    assert stage_end(api, instance.id, 0) >= later


def test_a_burst_of_concurrent_events_is_delivered(sqlite_api: Api) -> None:
    # Temporal admits about ten updates in flight per workflow: a burst well beyond that must
    # still be accepted, each event once (the backend plays no part here: SQLite only).
    api = sqlite_api
    count = 120
    instance = start(api, [{"wait_event": {"event": "tick"}}] * count + [{"noop": {}}])
    stage_started(api, instance.id, 0)
    with httpx.Client(timeout=30) as client, ThreadPoolExecutor(max_workers=40) as pool:
        statuses = list(
            pool.map(
                lambda _: client.post(events_url(api, instance.id), json={"name": "tick"}).status_code,
                range(count),
            )
        )
    assert statuses == [204] * count
    ended = terminated(api, instance.id)
    assert ended.error is None
    assert len(ended.status or []) == count + 1


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": None}, {"name": 5}, {"other": "a"}])
def test_an_event_needs_a_name(api: Api, body: dict) -> None:
    instance = start(api, [{"wait_event": {"event": "a"}}])
    response = httpx.post(events_url(api, instance.id), json=body)
    assert response.status_code == 400, response.text
    assert response.json()["errorCode"] == "VALIDATION"
    assert get_instance(api, instance.id).terminated is False


def test_an_event_without_a_body_is_rejected(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "a"}}])
    for headers in ({}, {"Content-Type": "application/json"}):
        response = httpx.post(events_url(api, instance.id), content=b"", headers=headers)
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == "VALIDATION"
    via_sdk = api_error(
        lambda: api.sdk.orchestration.v1.send_event(request={"instance_id": instance.id})
    )
    assert via_sdk.status_code == 400
    assert via_sdk.data.error_code == "VALIDATION"


def test_malformed_event_bodies_are_rejected(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "a"}}])
    for content in (b"{not json", b"[\"a\"]", b"\"a\""):
        response = httpx.post(
            events_url(api, instance.id), content=content, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 400, (content, response.text)
        assert response.json()["errorCode"] == "VALIDATION"


def test_an_event_to_an_unknown_instance_is_not_found(api: Api) -> None:
    error = api_error(
        lambda: api.sdk.orchestration.v1.send_event(
            request={"instance_id": unknown_id(), "request_body": {"name": "a"}}
        )
    )
    assert error.status_code == 404
    assert error.data.error_code == "NOT_FOUND"


def test_an_event_to_a_terminated_instance_is_rejected(api: Api) -> None:
    instance = start(api, [{"noop": {}}])
    terminated(api, instance.id)
    error = api_error(
        lambda: api.sdk.orchestration.v1.send_event(
            request={"instance_id": instance.id, "request_body": {"name": "a"}}
        )
    )
    assert error.status_code == 400
    assert error.data.error_code == "VALIDATION"
    assert "terminated" in error.data.error_message


def test_the_same_idempotency_key_delivers_once(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "a"}}, {"wait_event": {"event": "a"}}])
    stage_started(api, instance.id, 0)
    key = unknown_id()
    send_event(api, instance.id, "a", key=key)
    send_event(api, instance.id, "a", key=key)  # a retry: accepted, not delivered again
    stage_started(api, instance.id, 1)  # asserts the second stage has not ended
    later = now()
    send_event(api, instance.id, "a", key=unknown_id())
    assert terminated(api, instance.id).error is None
    assert stage_end(api, instance.id, 1) >= later


def test_the_same_idempotency_key_delivers_once_while_buffered(api: Api) -> None:
    instance = start(
        api,
        [{"delay": {"duration": "1s"}}, {"wait_event": {"event": "a"}}, {"wait_event": {"event": "a"}}],
    )
    key = unknown_id()
    send_event(api, instance.id, "a", key=key)
    send_event(api, instance.id, "a", key=key)
    stage_started(api, instance.id, 2)
    later = now()
    send_event(api, instance.id, "a")
    assert terminated(api, instance.id).error is None
    assert stage_end(api, instance.id, 2) >= later


def test_different_idempotency_keys_deliver_each(api: Api) -> None:
    instance = start(api, [{"wait_event": {"event": "a"}}, {"wait_event": {"event": "a"}}])
    send_event(api, instance.id, "a", key=unknown_id())
    send_event(api, instance.id, "a", key=unknown_id())
    assert terminated(api, instance.id).error is None
