"""The API's error envelope: `{"errorCode", "errorMessage"}`, the only error shape the SDKs accept."""

from __future__ import annotations

import logging
import sqlite3

from sqlalchemy.exc import DBAPIError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.service import RPCError, RPCStatusCode

logger = logging.getLogger("flows.api")

VALIDATION = "VALIDATION"
NOT_FOUND = "NOT_FOUND"
INTERNAL = "INTERNAL"


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid(message: str) -> ApiError:
    return ApiError(400, VALIDATION, message)


def not_found(message: str) -> ApiError:
    return ApiError(404, NOT_FOUND, message)


def error_response(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"errorCode": code, "errorMessage": message}, status_code=status)


async def on_api_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    return error_response(error.status, error.code, error.message)


async def on_http_error(_request: Request, error: Exception) -> Response:
    """Replaces the framework's plain-text 404 and 405 bodies."""
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        return error_response(404, NOT_FOUND, "no such route")
    if error.status_code == 405:
        response = error_response(405, VALIDATION, "method not allowed on this route")
        # RFC 9110 §15.5.6: a 405 names the methods the route supports (Starlette's `Allow`).
        response.headers.update(error.headers or {})
        return response
    code = VALIDATION if error.status_code < 500 else INTERNAL
    return error_response(error.status_code, code, str(error.detail))


class UnexpectedErrors:
    """Answers an exception no handler took with the envelope (503 when a dependency is down,
    else 500), logged once. Starlette's handler for `Exception` answers too but then re-raises,
    and the server logs the same traceback a second time."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
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
            response = await on_unexpected_error(Request(scope), error)
            await response(scope, receive, send)


async def on_unexpected_error(request: Request, error: Exception) -> Response:
    if _dependency_down(error):
        logger.warning("dependency unavailable during %s %s: %s", request.method, request.url.path, error)
        return error_response(503, INTERNAL, "a dependency of the service is unavailable, retry later")
    logger.exception("unexpected error during %s %s", request.method, request.url.path)
    return error_response(500, INTERNAL, "internal error")


# SQLite's primary result codes for a database that is there but out of reach right now: busy
# or locked past the busy timeout, I/O error, disk full, file that cannot be opened. Any other
# error (no such table, bad SQL) is a bug, not an outage.
_SQLITE_UNAVAILABLE = {5, 6, 10, 13, 14}


def _sqlite_unavailable(error: BaseException | None) -> bool:
    return (
        isinstance(error, sqlite3.Error)
        and error.sqlite_errorcode is not None
        and error.sqlite_errorcode & 0xFF in _SQLITE_UNAVAILABLE
    )


def _dependency_down(error: Exception) -> bool:
    # Prepared reads raise the driver's errors unwrapped.
    if _sqlite_unavailable(error):
        return True
    if isinstance(error, DBAPIError):
        return (
            error.connection_invalidated
            or isinstance(error.orig, OSError)
            or _sqlite_unavailable(error.orig)
            or "connect" in str(error).lower()
        )
    if isinstance(error, RPCError):
        return error.status in (
            RPCStatusCode.UNAVAILABLE,
            RPCStatusCode.DEADLINE_EXCEEDED,
            RPCStatusCode.RESOURCE_EXHAUSTED,
        )
    return isinstance(error, (ConnectionError, TimeoutError))
