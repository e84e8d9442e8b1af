"""`--audit-enabled`: every request makes one AUDIT event on NATS (`<stack>.audit-events`), with the
request and the response but never the caller's credentials; a publisher in trouble never costs
a request anything."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import nats
import pytest
from nats.aio.client import Client as Nats

from tests.support.nats import NatsServer, nats_server  # noqa: F401  (a session fixture)
from tests.support.polling import eventually
from tests.support.service import FlowsProcess

STACK = "audit" + uuid.uuid4().hex[:6]
SUBJECT = f"{STACK}.audit-events"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory, nats_server: NatsServer) -> Iterator[FlowsProcess]:  # noqa: F811
    async def create_stream() -> None:
        connection = await nats.connect(nats_server.url)
        await connection.jetstream().add_stream(name=STACK, subjects=[SUBJECT])
        await connection.close()

    asyncio.run(create_stream())
    flags = ("--stack", STACK, "--nats-url", nats_server.url, "--audit-enabled", "--worker=false")
    process = FlowsProcess(tmp_path_factory.mktemp("audit") / "data", *flags).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
async def audit_events(nats_server: NatsServer) -> AsyncIterator[list[dict[str, Any]]]:  # noqa: F811
    """The AUDIT events published from now on, as they arrive."""
    connection: Nats = await nats.connect(nats_server.url)
    received: list[dict[str, Any]] = []

    async def on_message(message: Any) -> None:
        received.append(json.loads(message.data))

    await connection.subscribe(SUBJECT, cb=on_message)
    await connection.flush()
    yield received
    await connection.close()


def marked(events: list[dict[str, Any]], marker: str) -> list[dict[str, Any]]:
    """The events of the requests that carried the `X-Test-Marker` header `marker`."""
    return [event for event in events if event["payload"]["http"]["request"]["header"].get("X-Test-Marker") == [marker]]


async def of_request(events: list[dict[str, Any]], marker: str) -> list[dict[str, Any]]:
    """`marked` events, once there are some (or after 10 s)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        mine = marked(events, marker)
        if mine or asyncio.get_running_loop().time() > deadline:
            return mine
        await asyncio.sleep(0.05)


async def request(service: FlowsProcess, method: str, path: str, marker: str, **options: Any) -> httpx.Response:
    headers = {"X-Test-Marker": marker, **options.pop("headers", {})}
    async with httpx.AsyncClient(base_url=service.url, timeout=15) as http:
        return await http.request(method, path, headers=headers, **options)


async def test_a_request_makes_one_audit_event_without_the_credentials(service: FlowsProcess, audit_events: list[dict[str, Any]]) -> None:
    marker = str(uuid.uuid4())
    body = {"name": "audited", "stages": [{"noop": {}}]}
    headers = {"Authorization": "Bearer secret-token", "Cookie": "session=secret-cookie", "X-Forwarded-For": "203.0.113.7, 10.0.0.1"}
    response = await request(service, "POST", "/api/orchestration/workflows?pretty=1", marker, json=body, headers=headers)
    assert response.status_code == 201

    [event] = await of_request(audit_events, marker)
    assert {key: event[key] for key in ("app", "version", "type")} == {"app": "orchestration", "version": "v2", "type": "AUDIT"}
    payload = event["payload"]
    assert payload["actor"] == {"organization_id": "", "stack_id": STACK, "ip_address": "203.0.113.7"}
    sent, answered = payload["http"]["request"], payload["http"]["response"]
    assert (sent["method"], sent["path"], sent["query_params"]) == ("POST", "/api/orchestration/workflows", {"pretty": ["1"]})
    assert json.loads(sent["body"]) == body
    assert sent["header"]["Content-Type"] == ["application/json"]
    assert "Authorization" not in sent["header"] and "Cookie" not in sent["header"]
    assert answered["status_code"] == 201
    assert json.loads(answered["body"]) == response.json()
    assert "secret-token" not in json.dumps(event) and "secret-cookie" not in json.dumps(event)


async def test_failed_requests_and_huge_bodies_are_audited_with_the_body_truncated(
    service: FlowsProcess, audit_events: list[dict[str, Any]]
) -> None:
    marker = str(uuid.uuid4())
    huge = '{"name": "' + "x" * 200_000 + '"}'
    response = await request(service, "POST", "/workflows", marker, content=huge, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    [event] = await of_request(audit_events, marker)
    sent = event["payload"]["http"]["request"]
    assert len(sent["body"]) == 64 * 1024 and sent["body_truncated"] is True
    assert event["payload"]["http"]["response"]["status_code"] == 400


async def test_the_token_endpoint_bodies_are_never_audited(service: FlowsProcess, audit_events: list[dict[str, Any]]) -> None:
    marker = str(uuid.uuid4())
    form = {"grant_type": "client_credentials", "client_id": "someone", "client_secret": "s3cret-in-body"}
    await request(service, "POST", "/api/auth/oauth/token", marker, data=form)
    [event] = await of_request(audit_events, marker)
    assert "body" not in event["payload"]["http"]["request"] and "body" not in event["payload"]["http"]["response"]
    assert "s3cret-in-body" not in json.dumps(event)


async def test_a_request_audited_by_a_hop_before_is_not_audited_again(service: FlowsProcess, audit_events: list[dict[str, Any]]) -> None:
    handled, after = str(uuid.uuid4()), str(uuid.uuid4())
    await request(service, "GET", "/workflows", handled, headers={"X-Formance-Audit": "true"})
    await request(service, "GET", "/workflows", after)
    assert await of_request(audit_events, after)
    # One queue publishes the events in order: the first request's would have come first.
    assert marked(audit_events, handled) == []


def test_requests_are_answered_when_audit_events_cannot_be_published(service: FlowsProcess, nats_server: NatsServer) -> None:  # noqa: F811
    """Last of the module: it removes the stream the events go to."""

    async def delete_stream() -> None:
        connection = await nats.connect(nats_server.url)
        await connection.jetstream().delete_stream(STACK)
        await connection.close()

    asyncio.run(delete_stream())
    for _ in range(20):
        assert httpx.get(f"{service.url}/workflows", timeout=5).status_code == 200
    eventually(lambda: "publishing AUDIT to " + SUBJECT in service.log_path.read_text(), timeout=10)
