"""Test hooks under `/api/sandbox/`: a recording of every request the sandbox answered, and holds
that park matching requests before they run or after they commit.

Endpoints:
* `GET /api/sandbox/requests?since=<id>&path=<prefix>` → `{"data": [Request…]}`, ascending id,
  only ids above `since`; each `{"id", "receivedAt", "method", "path", "query",
  "idempotencyKey", "body", "status"}` (`body` is the decoded JSON, or the text, or null).
* `DELETE /api/sandbox/requests` → 204, forgets them all (ids keep increasing).
* `POST /api/sandbox/holds {"method", "path", "when", "count"?}` → 201 `{"data": Hold}`.
  `path` is exact, or a prefix when it ends with `*`. `when`:
  - `before-commit`: the request waits before the service runs it: nothing is written yet;
  - `after-commit`: the service runs and commits it, the answer is recorded, then the request
    waits before the answer is sent (what a crash-safety test needs: the effect is durable and
    the caller has not heard of it).
  `count` limits how many requests the hold catches (default: every matching one until deleted).
* `GET /api/sandbox/holds/{id}` → `{"data": {"id", "method", "path", "when", "count", "caught",
  "waiting", "released"}}`: `waiting` is how many requests are parked on it now.
* `GET /api/sandbox/holds` lists them; `DELETE /api/sandbox/holds/{id}` → 204, releases its
  requests and retires it.

Holds live in the memory of the process serving the sandbox; they end with it. The recording
keeps the latest 10 000 requests (`record_limit` of create_sandbox_app).

They are for tests only (a hold can park a real ledger write): `create_sandbox_app` serves them
with `test_hooks=True`, `flows serve` with `--sandbox-test-hooks`; otherwise nothing is recorded
and `/api/sandbox/…` is an unknown route.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import delete, select
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flows.gocompat.timestamps import now
from flows.sandbox.errors import (
    INTERNAL,
    INTERNAL_ERROR,
    VALIDATION,
    StackError,
    not_found,
    validation,
)
from flows.sandbox.rendering import (
    data_response,
    digits,
    empty_response,
    error_response,
    format_time,
    parse_json,
    read_json,
    request_refusal,
)
from flows.sandbox.tables import sandbox_requests
from flows.storage.database import Database

logger = logging.getLogger("flows.sandbox")

HOOKS_PREFIX = "/api/sandbox"
When = Literal["before-commit", "after-commit"]
# Request bodies are JSON documents of a few kilobytes; refuse to buffer more than this.
MAX_BODY_BYTES = 4 * 1024 * 1024


@dataclass
class Hold:
    id: str
    method: str
    path: str
    when: When
    count: int | None
    caught: int = 0
    waiting: int = 0
    released: asyncio.Event = field(default_factory=asyncio.Event)

    def matches(self, method: str, path: str, when: str) -> bool:
        if self.released.is_set() or self.when != when or self.method != method:
            return False
        if self.count is not None and self.caught >= self.count:
            return False
        if self.path.endswith("*"):
            return path.startswith(self.path[:-1])
        return path == self.path

    def render(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path,
            "when": self.when,
            "count": self.count,
            "caught": self.caught,
            "waiting": self.waiting,
            "released": self.released.is_set(),
        }


# The recording keeps the latest requests only, so a sandbox used for months stays small; it is
# pruned every PRUNE_EVERY recorded requests.
DEFAULT_RECORD_LIMIT = 10_000
PRUNE_EVERY = 500


class Hooks:
    def __init__(self, database: Database, record: bool = True, limit: int = DEFAULT_RECORD_LIMIT) -> None:
        self.db = database
        self.record_requests = record
        self.limit = limit
        self.holds: dict[str, Hold] = {}

    # -- holds ------------------------------------------------------------------------------

    def add_hold(self, method: str, path: str, when: When, count: int | None) -> Hold:
        hold = Hold(uuid.uuid4().hex, method.upper(), path, when, count)
        self.holds[hold.id] = hold
        return hold

    def release(self, hold_id: str) -> bool:
        hold = self.holds.pop(hold_id, None)
        if hold is None:
            return False
        hold.released.set()
        return True

    def release_all(self) -> None:
        """Let every parked request go (for a server that is shutting down)."""
        for hold_id in list(self.holds):
            self.release(hold_id)

    async def pause(self, method: str, path: str, when: When) -> None:
        for hold in list(self.holds.values()):
            if hold.matches(method, path, when):
                hold.caught += 1
                hold.waiting += 1
                try:
                    await hold.released.wait()
                finally:
                    hold.waiting -= 1
                return

    # -- recording --------------------------------------------------------------------------

    async def record(self, method: str, path: str, query: str, key: str | None, body: bytes, status: int) -> None:
        if not self.record_requests:
            return
        async with self.db.write() as conn:
            result = await conn.execute(
                sandbox_requests.insert().values(
                    received_at=now(),
                    method=method,
                    path=path,
                    query=query,
                    idempotency_key=key,
                    body=_decoded(body),
                    status=status,
                )
            )
            [recorded_id] = result.inserted_primary_key or [None]
            if isinstance(recorded_id, int) and recorded_id % min(PRUNE_EVERY, self.limit) == 0:
                await conn.execute(delete(sandbox_requests).where(sandbox_requests.c.id <= recorded_id - self.limit))

    async def requests(self, since: int, path_prefix: str | None) -> list[dict[str, Any]]:
        table = sandbox_requests
        query = select(table).where(table.c.id > since).order_by(table.c.id)
        if path_prefix:
            query = query.where(table.c.path.startswith(path_prefix, autoescape=True))
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [
            {
                "id": row["id"],
                "receivedAt": format_time(row["received_at"]),
                "method": row["method"],
                "path": row["path"],
                "query": row["query"],
                "idempotencyKey": row["idempotency_key"],
                "body": row["body"],
                "status": row["status"],
            }
            for row in rows
        ]

    async def clear(self) -> None:
        async with self.db.write() as conn:
            await conn.execute(delete(sandbox_requests))


def _decoded(body: bytes) -> Any:
    """The body as recorded: its JSON if the services could read it, else its text."""
    if not body.strip():
        return None
    try:
        return parse_json(body, "body")
    except StackError:
        return body.decode("utf-8", errors="replace").replace("\x00", "\ufffd")


class HookedRequests:
    """Pure ASGI middleware around the services: trailing slashes, requests refused whatever
    their body (flows.sandbox.rendering.request_refusal, a body too large), holds, recording,
    and the error envelope for unexpected failures (so that they are recorded like any answer)."""

    def __init__(
        self,
        app: ASGIApp,
        hooks: Hooks,
        on_first_request: Callable[[], Awaitable[None]],
    ) -> None:
        self.app = app
        self.hooks = hooks
        self.on_first_request = on_first_request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"].rstrip("/") or "/"
        scope = {**scope, "path": path}
        method: str = scope["method"]
        try:
            refusal = request_refusal(scope)
            if refusal is not None:
                raise refusal
            body = await _read_body(scope, receive)
        except StackError as error:
            await error_response(error)(scope, receive, send)
            return

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        if path == HOOKS_PREFIX or path.startswith(HOOKS_PREFIX + "/"):
            await self.app(scope, replay, send)
            return
        await self.hooks.pause(method, path, "before-commit")
        messages: list[Message] = []

        async def keep(message: Message) -> None:
            messages.append(message)

        try:
            await self.on_first_request()
            await self.app(scope, replay, keep)
        except Exception:
            logger.exception("sandbox: unexpected error during %s %s", method, path)
            messages = await _internal_error(path)
        status = next((m["status"] for m in messages if m["type"] == "http.response.start"), 500)
        headers = dict(scope.get("headers") or [])
        key = headers.get(b"idempotency-key")
        query = scope.get("query_string", b"").decode("latin-1")
        await self.hooks.record(method, path, query, key.decode("latin-1") if key else None, body, status)
        await self.hooks.pause(method, path, "after-commit")
        for message in messages:
            await send(message)


async def _read_body(scope: Scope, receive: Receive) -> bytes:
    declared = dict(scope.get("headers") or []).get(b"content-length", b"")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise _too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _too_large() -> StackError:
    return StackError(413, VALIDATION, f"request body larger than {MAX_BODY_BYTES} bytes")


async def _internal_error(path: str) -> list[Message]:
    if path.startswith("/api/wallets"):
        error = StackError(500, INTERNAL_ERROR, "internal server error")
    elif path.startswith("/api/ledger"):
        error = StackError(500, INTERNAL, "Internal error. Consult logs/traces to have more details.")
    else:
        error = StackError(500, INTERNAL, "internal error")
    response = error_response(error)
    messages: list[Message] = []

    async def keep(message: Message) -> None:
        messages.append(message)

    async def nothing() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    await response({"type": "http"}, nothing, keep)
    return messages


# -- endpoints ------------------------------------------------------------------------------


def _hooks(request: Request) -> Hooks:
    return request.app.state.sandbox.hooks


async def list_requests(request: Request) -> Response:
    # Ids are 64-bit: a larger `since` finds nothing, as the largest does.
    since = min(digits(request.query_params.get("since", "0"), "since"), 2**63 - 1)
    found = await _hooks(request).requests(since, request.query_params.get("path"))
    return data_response(found)


async def clear_requests(request: Request) -> Response:
    await _hooks(request).clear()
    return empty_response(204)


async def create_hold(request: Request) -> Response:
    body = await read_json(request, allow_empty=False)
    if not isinstance(body, dict):
        raise validation("expected an object")
    method, path, when, count = body.get("method"), body.get("path"), body.get("when"), body.get("count")
    if not isinstance(method, str) or not method:
        raise validation("method: required")
    if not isinstance(path, str) or not path.startswith("/"):
        raise validation("path: required, absolute (e.g. /api/ledger/v2/main/transactions)")
    if when not in ("before-commit", "after-commit"):
        raise validation("when: 'before-commit' or 'after-commit'")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise validation("count: a positive integer")
    canonical = path if path.endswith("*") else (path.rstrip("/") or "/")
    hold = _hooks(request).add_hold(method, canonical, when, count)
    return data_response(hold.render(), 201)


async def list_holds(request: Request) -> Response:
    return data_response([hold.render() for hold in _hooks(request).holds.values()])


async def get_hold(request: Request) -> Response:
    hold = _hooks(request).holds.get(request.path_params["hold_id"])
    if hold is None:
        raise not_found("no such hold")
    return data_response(hold.render())


async def delete_hold(request: Request) -> Response:
    if not _hooks(request).release(request.path_params["hold_id"]):
        raise not_found("no such hold")
    return empty_response(204)


def routes() -> list[tuple[str, str, Any]]:
    return [
        (f"{HOOKS_PREFIX}/requests", "GET", list_requests),
        (f"{HOOKS_PREFIX}/requests", "DELETE", clear_requests),
        (f"{HOOKS_PREFIX}/holds", "GET", list_holds),
        (f"{HOOKS_PREFIX}/holds", "POST", create_hold),
        (f"{HOOKS_PREFIX}/holds/{{hold_id}}", "GET", get_hold),
        (f"{HOOKS_PREFIX}/holds/{{hold_id}}", "DELETE", delete_hold),
    ]
