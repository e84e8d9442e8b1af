"""Reading request bodies: size-capped, JSON or YAML, with 4xx errors that name the problem."""

from __future__ import annotations

import json
import math
from typing import Any

from starlette.requests import Request

from flows.api.errors import ApiError, invalid
from flows.stages.base import ConfigError
from flows.workflows.yaml_body import load_yaml

MAX_BODY = 1024 * 1024
# Workflow configs and trigger bodies nest a handful of levels; far deeper documents only serve to
# exhaust the stack of whatever walks them next (validation, storage, rendering).
MAX_DEPTH = 64
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


def _too_deep() -> ApiError:
    return invalid(f"the body nests deeper than {MAX_DEPTH} levels")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"number {text} is out of range")
    return value


def _checked(document: Any) -> Any:
    """The document, once known to nest at most MAX_DEPTH levels and to hold only valid Unicode.

    JSON escapes can spell lone surrogates (`"\\ud800"`), which no database nor response encoder
    accepts. Iterative, so that the check itself cannot exhaust the stack.
    """
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise _too_deep()
            if isinstance(value, dict):
                for key in value:
                    if isinstance(key, str):
                        _check_text(key)
                pending.extend((item, depth + 1) for item in value.values())
            else:
                pending.extend((item, depth + 1) for item in value)
    return document


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise invalid("the body holds a string that is not valid Unicode (a lone surrogate)") from None


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
        value = json.loads(body, parse_constant=_no_constant, parse_float=_finite_float)
    except (ValueError, UnicodeDecodeError) as error:
        raise invalid(f"unmarshalling json body: {error}") from None
    except RecursionError:
        raise _too_deep() from None
    return _checked(value)


async def read_json_or_yaml(request: Request) -> Any:
    if _media_type(request) not in YAML_TYPES:
        return await read_json(request)
    body = await read_body(request)
    try:
        value = load_yaml(body)
    except ConfigError as error:
        raise invalid(str(error)) from None
    except RecursionError:
        raise _too_deep() from None
    return _checked(value)


def require_object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise invalid(f"{what} must be a JSON object")
    return value
