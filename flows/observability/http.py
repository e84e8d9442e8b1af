"""HTTP request metrics by route template (`/instances/{instance_id}`, never the raw path, so that
hostile paths cannot grow the label set), status and latency.

`RequestMetrics` wraps the whole process's app (so it times and counts what auth refuses too);
the app, just outside its router, hands it the scope on which the router leaves the route it
matched (`routed_here`), through a holder that the middlewares' copies of the scope share.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flows.observability.metrics import HTTP_DURATION

_ROUTE_KEY = "flows.route"
UNMATCHED = "unmatched"
"""The route of a request no route matched (a 404 of the router)."""

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Route:
    """The template of the route that matched, for whoever wrapped the app."""

    __slots__ = ("_settled", "routed")

    def __init__(self) -> None:
        self.routed: Scope | None = None
        """While the app runs, the scope its router is given and on which it leaves the route."""
        self._settled: str | None = None

    @property
    def template(self) -> str | None:
        if self.routed is None:
            return self._settled
        return getattr(self.routed.get("route"), "path", None)

    def settle(self) -> None:
        """Keep the template, let go of the scope. The scope holds this holder: left linked, each
        request's scope would wait for the garbage collector instead of going at once, and
        collecting those cycles is work on every request."""
        self._settled = self.template
        self.routed = None


def with_route(scope: Scope) -> Route:
    """The scope's route holder, put there if none is yet."""
    route = scope.get(_ROUTE_KEY)
    if not isinstance(route, Route):
        route = scope[_ROUTE_KEY] = Route()
    return route


class RequestMetrics:
    """Counts and times every HTTP request; `prefixes` label the mounts that have no route table
    of their own (the sandbox's `/api/ledger`…) as `<prefix>/*`."""

    def __init__(self, app: ASGIApp, prefixes: Iterable[str] = ()) -> None:
        self.app = app
        self.prefixes = tuple(prefixes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The holder goes on the server's own scope of this request rather than a copy, which
        # would cost a sixth of this middleware (a wrapper outside, tracing's, may have put it).
        route = with_route(scope)
        status = 500  # what the client sees when the app fails before answering

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        started = time.perf_counter()
        try:
            await self.app(scope, receive, send_status)
        finally:
            method = scope["method"]
            template = route.template
            HTTP_DURATION.observe(
                method if method in METHODS else "other",
                template if template is not None else self._mount(scope["path"]),
                str(status),
                time.perf_counter() - started,
            )

    def _mount(self, path: str) -> str:
        for prefix in self.prefixes:
            if path == prefix or path.startswith(prefix + "/"):
                return prefix + "/*"
        return UNMATCHED


def routed_here(scope: Scope) -> Route | None:
    """Called by an app on the scope it gives its router: the router leaves the route it
    matched on it, for the wrappers outside. The app settles the holder it gets back once the
    router is done (`Route.settle`)."""
    holder = scope.get(_ROUTE_KEY)
    if not isinstance(holder, Route):
        return None
    holder.routed = scope
    return holder
