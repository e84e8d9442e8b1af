"""The application the API's handlers call (flows/application), held by the ASGI app."""

from __future__ import annotations

from starlette.requests import Request

from flows.application import Application


def application(request: Request) -> Application:
    found: Application = request.app.state.application
    return found
