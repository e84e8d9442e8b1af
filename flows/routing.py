"""Routing shared by the API and the sandbox: one route per path serving all of its methods, so
that a 405 lists every allowed method; and the API's router, which finds a path's route by its
segments (`SegmentRouter`)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence

from starlette.convertors import StringConvertor
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
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


_PARAMETER = "{}"
"""The key of a path parameter's branch in `SegmentRouter`'s tree (no literal segment has braces)."""


class _Node:
    __slots__ = ("children", "names", "route")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.route: Route | None = None
        self.names: tuple[str, ...] = ()
        """The route's parameters, in the order of the path."""


class SegmentRouter:
    """Finds a path's route by walking its segments down a tree of the routes' templates, a
    dictionary lookup per segment, where Starlette's router tries each route's pattern in turn
    (three patterns before a `GET /workflows/{id}` matched, each a regular expression and a scope). For routes with plain
    parameters (`{name}`: one non-empty segment, as Starlette's default convertor), with the
    answers of Starlette's router: the route's own 405 (with `Allow`), 404 when no route has the
    path; the matched route on the scope as `route`, its parameters as `path_params`.

    At each segment a literal is tried before a parameter, with a way back: `/a/b` and `/a/{x}/c`
    both route, as they would in a table tried in order with the literal first."""

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        self.root = _Node()
        for route in routes:
            self._add(route)

    def _add(self, route: BaseRoute) -> None:
        if not isinstance(route, Route) or any(not isinstance(c, StringConvertor) for c in route.param_convertors.values()):
            raise ValueError(f"SegmentRouter routes plain-parameter Routes only, not {route!r}")
        node, names = self.root, []
        for segment in route.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("}"):
                names.append(segment[1:-1])
                segment = _PARAMETER
            node = node.children.setdefault(segment, _Node())
        if node.route is not None:
            raise ValueError(f"two routes for {route.path}")
        node.route, node.names = route, tuple(names)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        values: list[str] = []
        node = _find(self.root, scope["path"][1:].split("/"), 0, values)
        if node is None or node.route is None:
            raise HTTPException(status_code=404)
        scope["route"] = node.route
        scope["endpoint"] = node.route.endpoint
        # Collected on the way back up: last segment first.
        scope["path_params"] = dict(zip(node.names, reversed(values), strict=True))
        await node.route.handle(scope, receive, send)


def _find(node: _Node, segments: list[str], index: int, values: list[str]) -> _Node | None:
    if index == len(segments):
        return node if node.route is not None else None
    segment = segments[index]
    literal = node.children.get(segment)
    if literal is not None:
        found = _find(literal, segments, index + 1, values)
        if found is not None:
            return found
    branch = node.children.get(_PARAMETER)
    if branch is None or not segment:
        return None
    found = _find(branch, segments, index + 1, values)
    if found is not None:
        values.append(segment)
    return found
