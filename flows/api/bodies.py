"""Reading request bodies: size-capped, JSON or YAML, with 4xx errors that name the problem."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request

from flows.api.errors import ApiError, invalid
from flows.stages.base import ConfigError
from flows.workflows.yaml_body import load_yaml

MAX_BODY = 1024 * 1024
YAML_TYPES = {"text/vnd.yaml", "application/yaml", "application/x-yaml", "text/yaml"}


async def read_body(request: Request) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _too_large()
    return bytes(body)


def _too_large() -> ApiError:
    return ApiError(413, "VALIDATION", f"request body is larger than {MAX_BODY} bytes")


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_json(request: Request, *, empty: Any = None) -> Any:
    """The JSON body; `empty` when there is none (the TypeScript SDK sends none for optional bodies)."""
    body = await read_body(request)
    if not body.strip():
        if empty is not None:
            return empty
        raise invalid("unmarshalling json body: the body is empty")
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid(f"unmarshalling json body: {error}") from None


async def read_json_or_yaml(request: Request) -> Any:
    if _media_type(request) not in YAML_TYPES:
        return await read_json(request)
    body = await read_body(request)
    try:
        return load_yaml(body)
    except ConfigError as error:
        raise invalid(str(error)) from None


def require_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{what} must be a JSON object")
    return value
