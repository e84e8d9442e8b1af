"""Poison events over HTTP ingestion, on SQLite and PostgreSQL.

A publisher retries every 5xx: an event Flows cannot process must be answered 4xx, every time it is
redelivered, and kept as one dead letter per message id (`GET /v2/events/dead-letters`), while a
trigger that fails on a good event records its failure without keeping the other triggers of the
same event from firing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.api.helpers import create_workflow
from tests.conftest import Api
from tests.triggers.test_trigger_firing import (
    WAIT_DEST,
    create_trigger,
    envelope,
    ingest,
    instance_ids,
    occurrences,
    unique_type,
)

EVENT_TYPE = "POISON_" + uuid.uuid4().hex[:8].upper()
"""The type every poison body carries, so that a trigger listens to it (the payload is read)."""


def _typed(payload: str | bytes) -> bytes:
    raw = payload.encode() if isinstance(payload, str) else payload
    return b'{"type": "' + EVENT_TYPE.encode() + b'", "version": "v2", "payload": ' + raw + b"}"


POISON: dict[str, tuple[bytes, str]] = {
    # name: (body, a word of the dead letter's reason)
    "payload nested 600 deep": (_typed("[" * 600 + "]" * 600), "deeper"),
    "envelope nested 5,000 deep": (
        ('{"type": "' + EVENT_TYPE + '", "payload": {}, "x": ' + "[" * 5000 + "]" * 5000 + "}").encode(),
        "deeper",
    ),
    "lone surrogate": (_typed('{"s": "\\ud800"}'), "surrogate"),
    "NUL": (_typed('{"s": "a\\u0000b"}'), "NUL"),
    "NUL in a key": (_typed('{"a\\u0000": 1}'), "NUL"),
    "NaN": (_typed('{"n": NaN}'), "JSON"),
    "number out of range": (_typed('{"n": 1e999}'), "range"),
    "integer out of range": (_typed('{"n": 1' + "0" * 400 + "}"), "range"),
    "invalid UTF-8": (_typed(b'{"s": "\xff"}'), "JSON"),
    "not JSON": (b'{"type": "' + EVENT_TYPE.encode() + b'", "payload": ', "JSON"),
    "not an envelope": (b"[1, 2]", "object"),
}


def post(api: Api, body: bytes, message_id: str) -> httpx.Response:
    return httpx.post(
        f"{api.url}/api/orchestration/events", content=body, headers={"Message-Uuid": message_id}, timeout=30
    )


def dead_letters(api: Api, **params: Any) -> dict[str, Any]:
    response = httpx.get(f"{api.url}/api/orchestration/v2/events/dead-letters", params=params)
    assert response.status_code == 200, response.text
    cursor: dict[str, Any] = response.json()["cursor"]
    return cursor


def dead_letters_of(api: Api, message_id: str) -> list[dict[str, Any]]:
    # Newest first: the letters of the message just sent are on the first page.
    return [item for item in dead_letters(api, pageSize=100)["data"] if item["messageID"] == message_id]


@pytest.fixture
def listening(api: Api) -> Iterator[str]:
    """A trigger on the poison bodies' type, whose occurrences must stay empty."""
    workflow_id = create_workflow(api, WAIT_DEST)
    trigger_id = create_trigger(api, workflow_id, EVENT_TYPE, vars={"dest": "event.s"})
    yield trigger_id
    assert api.sdk.orchestration.v1.delete_trigger(request={"trigger_id": trigger_id}).status_code == 204


@pytest.mark.parametrize("name", list(POISON))
def test_a_poison_event_is_4xx_every_time_and_dead_lettered_once(api: Api, listening: str, name: str) -> None:
    body, reason = POISON[name]
    message_id = str(uuid.uuid4())
    for _ in range(3):  # the publisher redelivers: the same answer each time
        response = post(api, body, message_id)
        assert response.status_code == 400, response.text
        assert response.json()["errorCode"] == "VALIDATION"
    [letter] = dead_letters_of(api, message_id)
    assert letter["source"] == "http"
    assert reason in letter["reason"], letter["reason"]
    assert letter["rawSize"] == len(body)
    assert isinstance(letter["raw"], str) and letter["raw"]
    assert occurrences(api, listening) == []
    # The service still fires for a good event of the same type.
    good = post(api, _typed('{"s": "fine"}'), str(uuid.uuid4()))
    assert good.status_code == 204, good.text
    [fired] = occurrences(api, listening)
    assert fired.error is None and fired.workflow_instance_id is not None


def test_the_raw_message_is_kept_escaped(api: Api) -> None:
    message_id = str(uuid.uuid4())
    body = b'{"type": "X", "payload": "\xff\x00 and more"}'
    assert post(api, body, message_id).status_code == 400
    [letter] = dead_letters_of(api, message_id)
    assert letter["raw"] == '{"type": "X", "payload": "\\xff\\x00 and more"}'
    assert letter["rawSize"] == len(body)


def test_the_raw_message_of_a_dead_letter_is_truncated(api: Api) -> None:
    message_id = str(uuid.uuid4())
    body = b'{"type": "X", "payload": "' + b"a" * (1024 * 1024) + b'"'  # no closing brace
    assert post(api, body, message_id).status_code == 400
    [letter] = dead_letters_of(api, message_id)
    assert letter["rawSize"] == len(body)
    assert 0 < len(letter["raw"]) < 100_000 and body.decode().startswith(letter["raw"])


def test_dead_letters_are_listed_newest_first_with_a_cursor(api: Api) -> None:
    sent = [str(uuid.uuid4()) for _ in range(3)]
    for message_id in sent:
        assert post(api, b"{", message_id).status_code == 400
    first = dead_letters(api, pageSize=2)
    assert [item["messageID"] for item in first["data"]] == [sent[2], sent[1]]
    assert first["hasMore"] is True and first["pageSize"] == 2
    second = dead_letters(api, cursor=first["next"])
    assert second["data"][0]["messageID"] == sent[0]
    assert {"id", "receivedAt", "source", "messageID", "reason", "raw", "rawSize"} <= set(second["data"][0])
    bad = httpx.get(f"{api.url}/api/orchestration/v2/events/dead-letters", params={"cursor": "x!"})
    assert bad.status_code == 400 and bad.json()["errorCode"] == "VALIDATION"


FAILING_VARIABLES = {
    "a variable that is a lone surrogate": 'fromJSON("\\"\\\\ud800\\"")',
    "a variable that holds NUL": 'fromJSON("\\"a\\\\u0000b\\"")',
}


@pytest.mark.parametrize("variable", list(FAILING_VARIABLES.values()), ids=list(FAILING_VARIABLES))
def test_a_failing_trigger_does_not_block_the_others(api: Api, variable: str) -> None:
    workflow_id = create_workflow(api, WAIT_DEST)
    event_type = unique_type()
    # Created first, so it is evaluated first.
    failing = create_trigger(api, workflow_id, event_type, vars={"dest": variable})
    healthy = create_trigger(api, workflow_id, event_type, vars={"dest": "event.d"})
    for number in range(3):
        response = ingest(api, envelope(event_type, {"d": f"d{number}"}))
        assert response.status_code == 204, response.text
    failed = occurrences(api, failing)
    assert len(failed) == 3
    assert all(o.workflow_instance_id is None and o.error for o in failed)
    fired = occurrences(api, healthy)
    assert len(fired) == 3 and all(o.error is None for o in fired)
    assert sorted(instance_ids(api, workflow_id)) == sorted(o.workflow_instance_id for o in fired)


def test_a_workflow_that_cannot_start_fails_its_trigger_only(api: Api) -> None:
    # Temporal refuses a start whose input is over its blob size limit (2 MiB): not an outage,
    # the trigger's own failure.
    event_type = unique_type()
    big = create_trigger(api, create_workflow(api, WAIT_DEST), event_type, vars={"dest": "event.big"})
    small_workflow = create_workflow(api, WAIT_DEST)
    small = create_trigger(api, small_workflow, event_type, vars={"dest": "event.d"})
    response = ingest(api, envelope(event_type, {"big": "b" * (3 * 1024 * 1024), "d": "x"}))
    assert response.status_code == 204, response.text
    [failed] = occurrences(api, big)
    assert failed.workflow_instance_id is None and failed.error
    [fired] = occurrences(api, small)
    assert fired.error is None and instance_ids(api, small_workflow) == [fired.workflow_instance_id]


def test_a_filter_over_its_budget_fails_its_trigger_and_the_others_fire(api: Api) -> None:
    workflow_id = create_workflow(api, WAIT_DEST)
    event_type = unique_type()
    # A million-element range: over expr-lang's memory budget whatever the event.
    greedy = create_trigger(api, workflow_id, event_type, filter="len(1..2000000) > 0", vars={"dest": "event.d"})
    healthy = create_trigger(api, workflow_id, event_type, vars={"dest": "event.d"})
    response = ingest(api, envelope(event_type, {"d": "x"}))
    assert response.status_code == 204, response.text
    [failed] = occurrences(api, greedy)
    assert failed.workflow_instance_id is None
    assert failed.error is not None and "budget exceeded" in failed.error
    [fired] = occurrences(api, healthy)
    assert fired.error is None and fired.workflow_instance_id is not None
