"""Routing shared by the API and the sandbox: one route per path serving all of its methods, so
that a 405 lists every allowed method."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def routes_by_path(endpoints: Iterable[tuple[str, str, Endpoint]]) -> list[Route]:
    """Routes for (path, method, endpoint) triples, paths in the order first given."""
    by_path: dict[str, dict[str, Endpoint]] = {}
    for path, method, endpoint in endpoints:
        by_path.setdefault(path, {})[method] = endpoint
    return [Route(path, _by_method(handlers), methods=list(handlers)) for path, handlers in by_path.items()]


def _by_method(handlers: dict[str, Endpoint]) -> Endpoint:
    async def endpoint(request: Request) -> Response:
        # Starlette answers HEAD on GET routes; HEAD is GET without the body.
        handler = handlers.get(request.method) or handlers["GET"]
        return await handler(request)

    return endpoint
