"""The ASGI application: v1 at `/`, v2 at `/v2/`, both also under `/api/orchestration/`."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from flows.api import instances, triggers, workflows
from flows.api.auth import AuthMiddleware, token_route
from flows.api.errors import ApiError, on_api_error, on_http_error, on_unexpected_error
from flows.api.services import Services, services
from flows.api.tokens import TokenIssuer

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
    return JSONResponse({"version": services(request).version})


async def healthcheck(request: Request) -> Response:
    found = services(request)
    await found.repository.db.ping()
    await found.engine.client.service_client.check_health()
    return JSONResponse({"default": "OK"})


def _versioned_routes(prefix: str) -> list[Route]:
    return [
        Route(f"{prefix}/workflows", workflows.list_workflows, methods=["GET"]),
        Route(f"{prefix}/workflows", workflows.create_workflow, methods=["POST"]),
        Route(f"{prefix}/workflows/{{workflow_id}}", workflows.get_workflow, methods=["GET"]),
        Route(f"{prefix}/workflows/{{workflow_id}}", workflows.delete_workflow, methods=["DELETE"]),
        Route(
            f"{prefix}/workflows/{{workflow_id}}/instances",
            workflows.run_workflow,
            methods=["POST"],
        ),
        Route(f"{prefix}/instances", instances.list_instances, methods=["GET"]),
        Route(f"{prefix}/instances/{{instance_id}}", instances.get_instance, methods=["GET"]),
        Route(
            f"{prefix}/instances/{{instance_id}}/events", instances.send_event, methods=["POST"]
        ),
        Route(f"{prefix}/instances/{{instance_id}}/abort", instances.abort, methods=["PUT"]),
        Route(
            f"{prefix}/instances/{{instance_id}}/history",
            instances.instance_history,
            methods=["GET"],
        ),
        Route(
            f"{prefix}/instances/{{instance_id}}/stages/{{number}}/history",
            instances.stage_history,
            methods=["GET"],
        ),
        Route(f"{prefix}/triggers", triggers.list_triggers, methods=["GET"]),
        Route(f"{prefix}/triggers", triggers.create_trigger, methods=["POST"]),
        Route(f"{prefix}/triggers/{{trigger_id}}", triggers.read_trigger, methods=["GET"]),
        Route(f"{prefix}/triggers/{{trigger_id}}", triggers.delete_trigger, methods=["DELETE"]),
        Route(
            f"{prefix}/triggers/{{trigger_id}}/occurrences",
            triggers.list_occurrences,
            methods=["GET"],
        ),
    ]


def create_app(found: Services, issuer: TokenIssuer) -> Starlette:
    routes = [
        token_route(issuer),
        Route("/_healthcheck", healthcheck, methods=["GET"]),
        Route("/_info", info, methods=["GET"]),
        Route("/v2/_info", info, methods=["GET"]),
        *_versioned_routes(""),
        *_versioned_routes("/v2"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(CanonicalPaths), Middleware(AuthMiddleware, issuer=issuer)],
        exception_handlers={
            ApiError: on_api_error,
            HTTPException: on_http_error,
            Exception: on_unexpected_error,
        },
    )
    app.state.services = found
    return app
