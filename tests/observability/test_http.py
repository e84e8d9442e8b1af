"""The request metrics' route holder (flows/observability/http.py) in the app `flows serve` builds:
the route template reaches the metrics, and a request's scope is freed as soon as it is
answered rather than left in a reference cycle for the garbage collector."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
from starlette.types import ASGIApp, Message

from flows.api.app import create_app
from flows.api.keysets import TrustedIssuers
from flows.api.tokens import TokenIssuer
from flows.application import build_application
from flows.engine.client import Engine
from flows.observability.metrics import HTTP_DURATION
from flows.server import edge_app
from flows.storage.database import Database, sqlalchemy_url
from flows.storage.repository import Repository


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[ASGIApp]:
    database = Database(sqlalchemy_url(None, tmp_path / "flows.db"))
    await database.migrate()
    application = build_application(Repository(database), cast(Engine, None), version="test")
    issuer = TokenIssuer(b"k" * 32, [], issuer="flows")
    verifier = TrustedIssuers(issuer, None)
    api = create_app(application, issuer, verifier=verifier)
    try:
        yield edge_app(api, application, issuer, verifier, "orchestration", sandbox=None, console=False)
    finally:
        await database.close()


async def call(app: ASGIApp, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
    answer: dict[str, object] = {"status": 0, "body": b""}

    async def receive() -> Message:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] = cast(bytes, answer["body"]) + message.get("body", b"")

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    await app(scope, receive, send)
    return cast(int, answer["status"]), cast(bytes, answer["body"])


def _count(route: str) -> float:
    """The requests the metrics counted under `route`: each series' buckets, its sum apart."""
    return sum(sum(series[:-1]) for key, series in HTTP_DURATION._series.items() if key[1] == route)


async def test_a_read_is_counted_under_its_route_template(served: ASGIApp) -> None:
    status, body = await call(served, "POST", "/workflows", b'{"stages": [{"noop": {}}]}')
    assert status == 201, body
    workflow_id = body.split(b'"id":"')[1].split(b'"')[0].decode()
    before = _count("/workflows/{workflow_id}")
    assert (await call(served, "GET", f"/workflows/{workflow_id}"))[0] == 200
    assert (await call(served, "GET", f"/api/orchestration/workflows/{workflow_id}"))[0] == 200
    assert _count("/workflows/{workflow_id}") == before + 2


async def test_an_answered_read_leaves_nothing_for_the_garbage_collector(served: ASGIApp) -> None:
    status, body = await call(served, "POST", "/workflows", b'{"stages": [{"noop": {}}]}')
    assert status == 201, body
    workflow_id = body.split(b'"id":"')[1].split(b'"')[0].decode()
    await call(served, "GET", f"/workflows/{workflow_id}")
    gc.collect()
    gc.disable()
    try:
        for _ in range(20):
            assert (await call(served, "GET", f"/workflows/{workflow_id}"))[0] == 200
        assert gc.collect() == 0
    finally:
        gc.enable()
