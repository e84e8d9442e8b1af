"""The API's error envelope: `{"errorCode", "errorMessage"}`, the only error shape the SDKs accept."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from flows.api.responses import JSONResponse
from flows.application.errors import ApplicationError, NotFound
from flows.outages import dependency_down

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


async def on_application_error(_request: Request, error: Exception) -> Response:
    """A use case's refusal (flows/application/errors.py) in the envelope: the one place that
    decides the status of each."""
    assert isinstance(error, ApplicationError)
    if isinstance(error, NotFound):
        return error_response(404, NOT_FOUND, error.message)
    return error_response(400, VALIDATION, error.message)


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


async def on_unexpected_error(request: Request, error: Exception) -> Response:
    if dependency_down(error):
        logger.warning("dependency unavailable during %s %s: %s", request.method, request.url.path, error)
        return error_response(503, INTERNAL, "a dependency of the service is unavailable, retry later")
    logger.exception("unexpected error during %s %s", request.method, request.url.path)
    return error_response(500, INTERNAL, "internal error")
