"""`--audit-enabled`: one AUDIT event per HTTP request, published to NATS on the topic
`audit-events` (mapped like the lifecycle events: `<stack>.audit-events` by default), as the Formance
services publish theirs (docs/deploy.md, "Audit").

The payload is `{id, trace_id, actor: {organization_id, stack_id, ip_address}, http: {request:
{method, path, query_params?, host, header, body?, body_truncated?}, response: {status_code,
headers, body?, body_truncated?}}}`, headers as `{"Canonical-Name": [values]}`. Never in it: the
request's `Authorization`, `Cookie` and `X-Formance-Audit` headers, the response's `Set-Cookie`, and
the bodies of the token endpoint (client secrets, access tokens). Bodies are captured as the API
reads and writes them, the first 64 KiB of each.

A request whose `X-Formance-Audit` header is set was audited by a hop before (the gateway): it is
not audited again; with `--audit-handled-header-secret`, only when the header holds that secret.
Auditing never delays or fails a request: the event is queued for the publisher, which drops it
(logged, counted) when NATS is down or the queue is full.
"""

from __future__ import annotations

import hmac
import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flows.api.auth import TOKEN_PATH
from flows.engine.lifecycle import LifecyclePublisher, envelope

MAX_CAPTURED_BYTES = 64 * 1024
"""Of each body and of the query string, as the reference's audit middleware."""

HANDLED_HEADER = "x-formance-audit"
HIDDEN_REQUEST_HEADERS = frozenset({"authorization", "cookie", HANDLED_HEADER})
HIDDEN_RESPONSE_HEADERS = frozenset({"set-cookie"})
TOKEN_ENDPOINT = TOKEN_PATH.removeprefix("/api/auth")
_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


@dataclass
class _Body:
    captured: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def add(self, chunk: bytes) -> None:
        room = MAX_CAPTURED_BYTES - len(self.captured)
        if len(chunk) > room:
            self.truncated = True
        self.captured += chunk[: max(room, 0)]

    def describe(self, into: dict[str, Any]) -> None:
        if self.captured:
            into["body"] = self.captured.decode(errors="replace")
        if self.truncated:
            into["body_truncated"] = True


class AuditMiddleware:
    def __init__(self, app: ASGIApp, publisher: LifecyclePublisher, *, stack: str = "", handled_secret: str | None = None) -> None:
        self.app = app
        self.publisher = publisher
        self.stack = stack
        self.handled_secret = handled_secret

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self._audited_before(scope):
            await self.app(scope, receive, send)
            return
        # Under any prefix: the token endpoint's bodies hold client secrets and access tokens.
        sensitive = scope["path"].rstrip("/").endswith(TOKEN_ENDPOINT)
        request_body, response_body = _Body(), _Body()
        response: dict[str, Any] = {"status_code": 500, "headers": {}}

        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not sensitive:
                request_body.add(message.get("body", b""))
            return message

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                response["status_code"] = message["status"]
                response["headers"] = _headers(message.get("headers", []), HIDDEN_RESPONSE_HEADERS)
            elif message["type"] == "http.response.body" and not sensitive:
                response_body.add(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receiving, sending)
        finally:
            request = self._request(scope)
            request_body.describe(request)
            response_body.describe(response)
            payload = {"id": str(uuid.uuid4()), "trace_id": _trace_id(scope), "actor": self._actor(scope)}
            payload["http"] = {"request": request, "response": response}
            self.publisher.emit([(f"audit:{payload['id']}", envelope("AUDIT", payload))])

    def _audited_before(self, scope: Scope) -> bool:
        given = _header(scope, HANDLED_HEADER)
        if not given:
            return False
        return self.handled_secret is None or hmac.compare_digest(given.encode(), self.handled_secret.encode())

    def _request(self, scope: Scope) -> dict[str, Any]:
        request: dict[str, Any] = {"method": scope["method"], "path": scope["path"]}
        query: bytes = scope.get("query_string", b"")
        if query:
            request["query_params"] = parse_qs(query[:MAX_CAPTURED_BYTES].decode(errors="replace"), keep_blank_values=True)
            if len(query) > MAX_CAPTURED_BYTES:
                request["query_params_truncated"] = True
        request["host"] = _header(scope, "host") or ""
        request["header"] = _headers(scope["headers"], HIDDEN_REQUEST_HEADERS)
        return request

    def _actor(self, scope: Scope) -> dict[str, str]:
        return {"organization_id": "", "stack_id": self.stack, "ip_address": _client_address(scope)}


def _header(scope: Scope, name: str) -> str | None:
    for key, value in scope["headers"]:
        if key.decode("latin-1").lower() == name:
            return str(value.decode("latin-1"))
    return None


def _headers(raw: list[tuple[bytes, bytes]], hidden: frozenset[str]) -> dict[str, list[str]]:
    """As Go's `http.Header` prints them: canonical names, every value in order."""
    headers: dict[str, list[str]] = {}
    for key, value in raw:
        name = key.decode("latin-1")
        if name.lower() not in hidden:
            headers.setdefault(_canonical(name), []).append(value.decode("latin-1"))
    return headers


def _canonical(name: str) -> str:
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def _client_address(scope: Scope) -> str:
    forwarded = _header(scope, "x-forwarded-for")
    if forwarded:
        return forwarded.split(",")[0].strip()
    real = _header(scope, "x-real-ip")
    if real:
        return real.strip()
    client = scope.get("client")
    return str(client[0]) if client else ""


def _trace_id(scope: Scope) -> str:
    """The W3C trace id the caller sent (`traceparent`), if any."""
    match = _TRACEPARENT.match(_header(scope, "traceparent") or "")
    return match.group(1) if match else ""
