"""Routing shared by the API and the sandbox: one route per path serving all of its methods, so
that a 405 lists every allowed method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

Endpoint = Callable[[Request], Awaitable[Response]]


def routes_by_path(endpoints: Iterable[tuple[str, str, Endpoint]]) -> list[Route]:
    """Routes for (path, method, endpoint) triples, paths in the order first given."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for path, method, endpoint in endpoints:
        by_path.setdefault(path, {})[method] = endpoint
    return [Route(path, _ByMethod(handlers), methods=list(handlers)) for path, handlers in by_path.items()]


class _ByMethod:
    """The route's ASGI app: the handler of the request's method, its response sent. What a
    handler raises goes to the app's own error layer (flows/api/app.py `ApiEdge`, Starlette's
    exception middleware for the sandbox): Starlette's wrapping of each endpoint in a layer of
    its own, with a wrapper around `send`, cost a tenth of an instance read."""

    def __init__(self, handlers: dict[str, Endpoint]) -> None:
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette answers HEAD on GET routes; HEAD is GET without the body.
        handler = self.handlers.get(scope["method"]) or self.handlers["GET"]
        response = await handler(Request(scope, receive, send))
        await response(scope, receive, send)
