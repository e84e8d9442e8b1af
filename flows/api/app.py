"""The ASGI application: v1 at `/`, v2 at `/v2/`, both also under `/api/orchestration/`."""

from __future__ import annotations

import asyncio
import logging

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from flows.api import events, instances, triggers, workflows
from flows.api.auth import AuthMiddleware, token_route
from flows.api.errors import (
    INTERNAL,
    ApiError,
    UnexpectedErrors,
    error_response,
    on_api_error,
    on_application_error,
    on_http_error,
)
from flows.api.state import application
from flows.api.tokens import TokenIssuer
from flows.application import Application, ApplicationError
from flows.routing import Endpoint, routes_by_path

logger = logging.getLogger("flows.api")

GATEWAY_PREFIX = "/api/orchestration"


class CanonicalPaths:
    """Strips the gateway prefix the SDKs call and accepts a trailing slash on every route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path == GATEWAY_PREFIX or path.startswith(GATEWAY_PREFIX + "/"):
                path = path[len(GATEWAY_PREFIX) :]
            path = path.rstrip("/") or "/"
            scope = {**scope, "path": path}
        await self.app(scope, receive, send)


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


def _versioned_endpoints(prefix: str) -> list[tuple[str, str, Endpoint]]:
    return [
        (f"{prefix}/workflows", "GET", workflows.list_workflows),
        (f"{prefix}/workflows", "POST", workflows.create_workflow),
        (f"{prefix}/workflows/{{workflow_id}}", "GET", workflows.get_workflow),
        (f"{prefix}/workflows/{{workflow_id}}", "DELETE", workflows.delete_workflow),
        (f"{prefix}/workflows/{{workflow_id}}/instances", "POST", workflows.run_workflow),
        (f"{prefix}/instances", "GET", instances.list_instances),
        (f"{prefix}/instances/{{instance_id}}", "GET", instances.get_instance),
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


def create_app(found: Application, issuer: TokenIssuer) -> Starlette:
    routes = [
        token_route(issuer),
        Route("/_healthcheck", healthcheck, methods=["GET"]),
        Route("/_info", info, methods=["GET"]),
        Route("/v2/_info", info, methods=["GET"]),
        Route("/events", events.ingest_event, methods=["POST"]),
        Route("/v2/events/dead-letters", events.list_dead_letters, methods=["GET"]),
        *routes_by_path(_versioned_endpoints("") + _versioned_endpoints("/v2")),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(UnexpectedErrors),
            Middleware(CanonicalPaths),
            Middleware(AuthMiddleware, issuer=issuer),
        ],
        exception_handlers={
            ApiError: on_api_error,
            ApplicationError: on_application_error,
            HTTPException: on_http_error,
        },
    )
    app.state.application = found
    return app
