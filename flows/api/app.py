"""The ASGI application: v1 at `/`, v2 at `/v2/`, both also under `/api/orchestration/`."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from flows.api import events, instances, openapi, triggers, workflows
from flows.api.auth import AuthMiddleware, TokenVerifier, issuer_routes
from flows.api.errors import (
    INTERNAL,
    ApiError,
    error_response,
    on_api_error,
    on_application_error,
    on_http_error,
    on_unexpected_error,
)
from flows.api.responses import JSONResponse
from flows.api.state import application
from flows.api.tokens import TokenIssuer
from flows.application import Application, ApplicationError
from flows.observability.http import routed_here
from flows.observability.metrics import EngineMetrics, metrics_endpoint
from flows.routing import Endpoint, SegmentRouter, routes_by_path

logger = logging.getLogger("flows.api")

GATEWAY_PREFIX = "/api/orchestration"

ErrorHandler = Callable[[Request, Exception], Awaitable[Response]]


def canonical_path(path: str) -> str:
    """The path routed: without the gateway prefix the SDKs call, nor a trailing slash."""
    if path == GATEWAY_PREFIX or path.startswith(GATEWAY_PREFIX + "/"):
        path = path[len(GATEWAY_PREFIX) :]
    return path.rstrip("/") or "/"


class ApiEdge:
    """The API's one layer around its router, in place of Starlette's two exception layers and
    four of ours (each wrapping `send`, a fifth of a read's CPU): canonical paths, the route
    template for the request metrics, and the error envelope for whatever the router and the
    handlers raise: the router's 404 and 405, the handlers' errors, and what no handler takes
    (503 when a dependency is down, else 500, logged once; Starlette's own handler for
    `Exception` answers too but then re-raises, and the server logs the same traceback a second
    time)."""

    def __init__(self, app: ASGIApp, handlers: dict[type[Exception], ErrorHandler]) -> None:
        self.app = app
        self.handlers = handlers

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # A copy only for another path: the wrappers outside (the audit) see the path as sent.
        path = canonical_path(scope["path"])
        if path != scope["path"]:
            scope = {**scope, "path": path}
        route = routed_here(scope)
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as error:
            if started:
                raise  # too late for an answer of ours: the server closes the connection
            response = await self._answer(Request(scope), error)
            await response(scope, receive, send)
        finally:
            if route is not None:
                route.settle()

    async def _answer(self, request: Request, error: Exception) -> Response:
        for kind in type(error).__mro__:
            handler = self.handlers.get(kind)
            if handler is not None:
                return await handler(request, error)
        return await on_unexpected_error(request, error)


class _Api(Starlette):
    """Starlette whose middleware stack is `ApiEdge`, and auth when it is on."""

    def __init__(self, routes: Sequence[BaseRoute], verifier: TokenVerifier, service: str) -> None:
        super().__init__(routes=routes)
        self.verifier = verifier
        self.service = service

    def build_middleware_stack(self) -> ASGIApp:
        handlers: dict[type[Exception], ErrorHandler] = {
            ApiError: on_api_error,
            ApplicationError: on_application_error,
            HTTPException: on_http_error,
        }
        # Built on the first request, once every route is in (flows/api/auth.py adds the issuer's).
        routed: ASGIApp = SegmentRouter(self.router.routes)
        if self.verifier.enabled:
            routed = AuthMiddleware(routed, self.verifier, service=self.service)
        return ApiEdge(routed, handlers)


async def info(request: Request) -> Response:
    return JSONResponse({"version": application(request).version})


HEALTH_CHECK_TIMEOUT = 2.0
"""Seconds each dependency has to answer the health check: a stalled one is a down one."""


async def healthcheck(request: Request) -> Response:
    """200 when the database and Temporal both answer; else 503, whatever way a check failed
    (an error, a hang), so that a load balancer takes this process out and retries later."""
    for dependency, check in application(request).dependencies.items():
        try:
            await asyncio.wait_for(check(), HEALTH_CHECK_TIMEOUT)
        except Exception as error:  # noqa: BLE001 (any failure of a check is an outage)
            reason = "no answer" if isinstance(error, TimeoutError) else f"{type(error).__name__}: {error}"
            logger.warning("health check: %s is unavailable (%s)", dependency, reason)
            return error_response(503, INTERNAL, f"{dependency} is unavailable, retry later")
    return JSONResponse({"default": "OK"})


EndpointSpec = tuple[str, str, Endpoint]


def _versioned_endpoints(prefix: str) -> list[EndpointSpec]:
    return [
        (f"{prefix}/instances/{{instance_id}}", "GET", instances.get_instance),
        (f"{prefix}/workflows/{{workflow_id}}", "GET", workflows.get_workflow),
        (f"{prefix}/workflows", "GET", workflows.list_workflows),
        (f"{prefix}/workflows", "POST", workflows.create_workflow),
        (f"{prefix}/workflows/{{workflow_id}}", "DELETE", workflows.delete_workflow),
        (f"{prefix}/workflows/{{workflow_id}}/instances", "POST", workflows.run_workflow),
        (f"{prefix}/instances", "GET", instances.list_instances),
        (f"{prefix}/instances/{{instance_id}}/events", "POST", instances.send_event),
        (f"{prefix}/instances/{{instance_id}}/abort", "PUT", instances.abort),
        (f"{prefix}/instances/{{instance_id}}/history", "GET", instances.instance_history),
        (
            f"{prefix}/instances/{{instance_id}}/stages/{{number}}/history",
            "GET",
            instances.stage_history,
        ),
        (f"{prefix}/triggers", "GET", triggers.list_triggers),
        (f"{prefix}/triggers", "POST", triggers.create_trigger),
        (f"{prefix}/triggers/{{trigger_id}}", "GET", triggers.read_trigger),
        (f"{prefix}/triggers/{{trigger_id}}", "DELETE", triggers.delete_trigger),
        (f"{prefix}/triggers/{{trigger_id}}/occurrences", "GET", triggers.list_occurrences),
        *([(f"{prefix}/triggers/{{trigger_id}}/test", "POST", triggers.test_trigger)] if prefix == "/v2" else []),
    ]


def create_app(
    found: Application,
    issuer: TokenIssuer,
    *,
    verifier: TokenVerifier | None = None,
    auth_service: str = "orchestration",
    engine_metrics: EngineMetrics | None = None,
) -> Starlette:
    """`engine_metrics`: Temporal's, appended to `/metrics` (docs/operations.md). `verifier`: whose
    bearer tokens the API accepts (flows.api.keysets.TrustedIssuers), by default `issuer`'s, with
    the scopes of `auth_service` (`--auth-service`)."""
    routes = [
        *routes_by_path(_versioned_endpoints("") + _versioned_endpoints("/v2")),
        *issuer_routes(issuer),
        Route("/_healthcheck", healthcheck, methods=["GET"]),
        # Behind auth like any read (orchestration:read): --metrics-listen serves it without.
        Route("/metrics", metrics_endpoint, methods=["GET"]),
        Route("/_info", info, methods=["GET"]),
        Route("/v2/_info", info, methods=["GET"]),
        Route("/events", events.ingest_event, methods=["POST"]),
        Route("/v2/events/dead-letters", events.list_dead_letters, methods=["GET"]),
        Route("/openapi.json", openapi.openapi_json, methods=["GET"]),
        Route("/v2/openapi.json", openapi.openapi_json, methods=["GET"]),
        Route("/docs", openapi.docs_page, methods=["GET"]),
    ]
    app = _Api(routes, verifier or issuer, auth_service)
    app.state.application = found
    app.state.engine_metrics = engine_metrics
    return app
