"""Reading request bodies: size-capped, JSON or YAML, with 4xx errors that name the problem."""

from __future__ import annotations

import asyncio
from typing import Any

from starlette.requests import Request

from flows.api.errors import ApiError, invalid
from flows.documents import MAX_DEPTH, DocumentError, check_document, parse_json
from flows.stages.base import ConfigError
from flows.workflows.yaml_body import load_yaml

MAX_BODY = 1024 * 1024
YAML_TYPES = {"text/vnd.yaml", "application/yaml", "application/x-yaml", "text/yaml"}
# Parsing and checking a document this large takes milliseconds: do it off the event loop.
OFF_LOOP_BYTES = 256 * 1024


class BodyTooLarge(ApiError):
    """413; `received` holds what was read of the body before it went over the cap."""

    def __init__(self, max_body: int, received: bytes) -> None:
        super().__init__(413, "VALIDATION", f"request body is larger than {max_body} bytes")
        self.received = received


async def read_body(request: Request, *, max_body: int = MAX_BODY) -> bytes:
    """The body, read as it streams in and refused (`BodyTooLarge`) once over `max_body` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_body:
        raise BodyTooLarge(max_body, b"")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_body:
            raise BodyTooLarge(max_body, bytes(body[:max_body]))
    return bytes(body)


def _checked(document: Any) -> Any:
    """The document, once known to be storable (flows.documents); 400 otherwise."""
    try:
        check_document(document)
    except DocumentError as error:
        raise invalid(f"the body {error}") from None
    return document


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


def _parse_json(body: bytes) -> Any:
    try:
        return parse_json(body)
    except DocumentError as error:
        raise invalid(f"the body {error}") from None


async def read_json(request: Request, *, empty: Any = None, max_body: int = MAX_BODY) -> Any:
    """The JSON body; `empty` when there is none (the TypeScript SDK sends none for optional bodies)."""
    body = await read_body(request, max_body=max_body)
    if not body.strip():
        if empty is not None:
            return empty
        raise invalid("unmarshalling json body: the body is empty")
    if len(body) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(_parse_json, body)
    return _parse_json(body)


async def read_json_or_yaml(request: Request) -> Any:
    if _media_type(request) not in YAML_TYPES:
        return await read_json(request)
    body = await read_body(request)
    try:
        value = load_yaml(body)
    except ConfigError as error:
        raise invalid(str(error)) from None
    except RecursionError:
        raise invalid(f"the body nests deeper than {MAX_DEPTH} levels") from None
    return _checked(value)


def require_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{what} must be a JSON object")
    return value
