"""The console as an ASGI application, and how `flows serve` puts it in front of the API.

Its pages are `/` (home) and `/console/…`, also under the gateway's `/api/orchestration/`; every
other path goes to the API untouched. It calls the application (flows/application) in process,
as the API does, and keeps its own auth: a cookie rather than a bearer header (flows/console/
session.py).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from flows.api.auth import TokenVerifier
from flows.api.tokens import TokenIssuer
from flows.application import Application
from flows.console import pages
from flows.console.pages import page
from flows.console.rendering import GATEWAY_PREFIX, HERE, Console, render
from flows.console.sandbox import SandboxReader
from flows.console.session import TOKEN_COOKIE, FormError, Refused, Sessions, clear_cookie, read_form, set_cookie

LOGIN_FAILED = "unknown client or wrong secret"


async def login_page(request: Request) -> Response:
    console: Console = request.app.state.console
    if not console.sessions.enabled:
        return RedirectResponse(f"{console.base(request)}/", status_code=303)
    return render(request, None, "login.html", problem=None, client_id="")


async def login(request: Request) -> Response:
    """Client credentials (or a token) → the token cookie, for as long as the token lives."""
    console: Console = request.app.state.console
    try:
        form = await read_form(request)
    except (Refused, FormError) as error:
        return render(request, None, "login.html", status=403, problem=str(error), client_id="")
    client_id = form.get("client_id", "").strip()
    token, lifetime = _token(console, client_id, form.get("client_secret", ""), form.get("token", "").strip())
    claims = await console.sessions.claims(token) if token else None
    if claims is None:
        problem = LOGIN_FAILED if client_id else "this token is not valid (expired, or of another issuer)"
        return render(request, None, "login.html", status=401, problem=problem, client_id=client_id)
    if not console.sessions.readable(claims):
        problem = f"this client may not read the orchestration API: it needs {console.sessions.service}:read"
        return render(request, None, "login.html", status=403, problem=problem, client_id=client_id)
    response = RedirectResponse(f"{console.base(request)}/", status_code=303)
    set_cookie(request, response, TOKEN_COOKIE, token, max_age=lifetime or max(claims.expires_at - claims.issued_at, 0))
    return response


def _token(console: Console, client_id: str, secret: str, pasted: str) -> tuple[str, int | None]:
    if pasted:
        return pasted, None
    if not client_id or not console.issuer.enabled or not console.issuer.authenticate(client_id, secret):
        return "", None
    issued = console.issuer.issue(client_id, console.issuer.grant_scopes(client_id, None))
    return issued.access_token, issued.expires_in


async def logout(request: Request) -> Response:
    console: Console = request.app.state.console
    try:
        await read_form(request)
    except (Refused, FormError) as error:
        return render(request, None, "error.html", status=403, title="Not allowed", message=str(error))
    response = RedirectResponse(f"{console.base(request)}/console/login", status_code=303)
    clear_cookie(request, response, TOKEN_COOKIE)
    return response


def _routes() -> list[BaseRoute]:
    read, act = page, lambda handler: page(handler, acts=True)
    return [
        Route("/", read(pages.home), methods=["GET"]),
        Route("/console", read(pages.home), methods=["GET"]),
        Route("/console/login", login_page, methods=["GET"]),
        Route("/console/login", login, methods=["POST"]),
        Route("/console/logout", logout, methods=["POST"]),
        Route("/console/workflows", read(pages.workflows), methods=["GET"]),
        Route("/console/workflows", act(pages.create_workflow), methods=["POST"]),
        Route("/console/workflows/new", read(pages.new_workflow), methods=["GET"]),
        Route("/console/workflows/{workflow_id}", read(pages.workflow), methods=["GET"]),
        Route("/console/workflows/{workflow_id}/run", act(pages.run_workflow), methods=["POST"]),
        Route("/console/workflows/{workflow_id}/delete", act(pages.delete_workflow), methods=["POST"]),
        Route("/console/instances", read(pages.instances), methods=["GET"]),
        Route("/console/instances/{instance_id}", read(pages.instance), methods=["GET"]),
        Route("/console/instances/{instance_id}/timeline", read(pages.instance_timeline), methods=["GET"]),
        Route("/console/instances/{instance_id}/events", act(pages.send_event), methods=["POST"]),
        Route("/console/instances/{instance_id}/abort", act(pages.abort_instance), methods=["POST"]),
        Route("/console/triggers", read(pages.triggers), methods=["GET"]),
        Route("/console/triggers", act(pages.create_trigger), methods=["POST"]),
        Route("/console/triggers/{trigger_id}", read(pages.trigger), methods=["GET"]),
        Route("/console/triggers/{trigger_id}/test", act(pages.test_trigger), methods=["POST"]),
        Route("/console/triggers/{trigger_id}/delete", act(pages.delete_trigger), methods=["POST"]),
        Route("/console/sandbox", read(pages.sandbox), methods=["GET"]),
        Mount("/console/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]


async def _not_found(request: Request, _error: Exception) -> Response:
    return render(request, None, "error.html", status=404, title="Not found", message="There is no such page in the console.")


def create_console(
    application: Application,
    issuer: TokenIssuer,
    verifier: TokenVerifier,
    *,
    service: str = "orchestration",
    sandbox: SandboxReader | None = None,
) -> Starlette:
    """`verifier`: whose tokens the console accepts (the API's); `issuer`: the built-in one, which
    turns client credentials into a token; `sandbox`: how it reads the sandbox stack, if any."""
    app = Starlette(routes=_routes(), exception_handlers={404: _not_found, 405: _not_found})
    app.state.console = Console(application, Sessions(verifier, service), issuer, sandbox)
    return app


def console_root(path: str) -> str | None:
    """The prefix the console is served under for `path` (`` or the gateway's), None when the path is the API's."""
    for root in (GATEWAY_PREFIX, ""):
        if root and not (path == root or path.startswith(root + "/")):
            continue
        rest = path[len(root) :]
        if rest in ("", "/") or rest == "/console" or rest.startswith("/console/"):
            return root
    return None


class WithConsole:
    """The console's paths to the console, the others to `api` (and the sandbox behind it)."""

    def __init__(self, api: ASGIApp, console: ASGIApp) -> None:
        self.api = api
        self.console = console

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            root = console_root(scope["path"])
            if root is not None:
                path = scope["path"] if scope["path"] != root else root + "/"
                await self.console({**scope, "path": path, "root_path": scope.get("root_path", "") + root}, receive, send)
                return
        await self.api(scope, receive, send)
