"""The console's collaborators, and its pages as HTML: Jinja2 templates, everything escaped."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from flows.api.tokens import TokenIssuer
from flows.application import Application
from flows.console import summaries
from flows.console.sandbox import SandboxReader
from flows.console.session import CSRF_COOKIE, Sessions, Viewer, new_csrf, set_cookie

HERE = Path(__file__).parent
GATEWAY_PREFIX = "/api/orchestration"

# The pages load nothing but the console's own script and style sheet, and no other site may
# frame them or be the target of their forms.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self';"
        " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class Console:
    application: Application
    sessions: Sessions
    issuer: TokenIssuer
    """Exchanges a client's credentials for a token on the login page."""
    sandbox: SandboxReader | None
    """None without the sandbox stack (`--stack-url`)."""

    @staticmethod
    def base(request: Request) -> str:
        """Where the console is served from: `` or the gateway's `/api/orchestration`."""
        root: str = request.scope.get("root_path", "")
        return root


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"], default_for_string=True, default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["moment"] = summaries.moment
    environment.filters["instance_status"] = summaries.instance_status
    environment.filters["as_json"] = lambda value: json.dumps(value, indent=2, ensure_ascii=False)
    environment.filters["short"] = lambda value: str(value)[:8]
    return environment


TEMPLATES = _environment()


def render(request: Request, viewer: Viewer | None, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    """The page, with the CSRF token its forms carry (a new one when the browser has none)."""
    csrf = viewer.csrf if viewer is not None and viewer.csrf else request.cookies.get(CSRF_COOKIE) or new_csrf()
    context.setdefault("nav", "")
    context.setdefault("notice", None)
    html = TEMPLATES.get_template(template).render(
        base=Console.base(request),
        viewer=viewer,
        csrf=csrf,
        auth=request.app.state.console.sessions.enabled,
        sandbox_on=request.app.state.console.sandbox is not None,
        **context,
    )
    response = HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)
    if request.cookies.get(CSRF_COOKIE) != csrf:
        set_cookie(request, response, CSRF_COOKIE, csrf)
    return response
