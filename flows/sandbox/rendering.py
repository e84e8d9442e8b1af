"""HTTP plumbing shared by the sandboxed services: go-libs envelopes, times, cursors, bodies."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flows.sandbox.errors import StackError, validation

JSON_TYPE = "application/json"
DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 100
ZERO_TIME = "0001-01-01T00:00:00Z"


def now() -> datetime:
    # The ledger rounds times to microseconds; Python's datetimes already are.
    return datetime.now(UTC)


def format_time(value: datetime) -> str:
    """RFC 3339 in UTC with the fraction trimmed of trailing zeros, as Go's RFC3339Nano."""
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    if value.microsecond:
        text += f".{value.microsecond:06d}".rstrip("0")
    return text + "Z"


def parse_time(value: Any, field: str) -> datetime | None:
    """An RFC 3339 date with an offset (what Go's time.Time accepts); None for absent or zero."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise validation(f"{field}: expected an RFC 3339 date")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise validation(f"{field}: expected an RFC 3339 date, got {value!r}") from exc
    if parsed.tzinfo is None:
        raise validation(f"{field}: expected an RFC 3339 date with a time zone, got {value!r}")
    parsed = parsed.astimezone(UTC)
    # Go's zero time means "not set".
    return None if parsed.year == 1 and parsed == datetime(1, 1, 1, tzinfo=UTC) else parsed


def json_response(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    # Go's JSON encoder ends bodies with a newline; big integers stay JSON numbers.
    body = json.dumps(content, separators=(",", ":"), ensure_ascii=False) + "\n"
    return Response(body.encode(), status_code=status, media_type=JSON_TYPE, headers=headers)


def data_response(data: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return json_response({"data": data}, status, headers)


def empty_response(status: int = 204, headers: Mapping[str, str] | None = None) -> Response:
    # The stack's services send a JSON content type even on empty answers.
    return Response(status_code=status, headers={"Content-Type": JSON_TYPE, **(headers or {})})


def error_response(error: StackError) -> Response:
    if error.code is None:
        return empty_response(error.status)
    body: dict[str, str] = {"errorCode": error.code}
    if error.message:
        body["errorMessage"] = error.message
    return json_response(body, error.status)


def cursor_response(
    items: Sequence[Any],
    page_size: int,
    has_more: bool,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> Response:
    cursor: dict[str, Any] = {"pageSize": page_size, "hasMore": has_more}
    if previous_cursor:
        cursor["previous"] = previous_cursor
    if next_cursor:
        cursor["next"] = next_cursor
    cursor["data"] = list(items)
    return json_response({"cursor": cursor})


def encode_cursor(state: Mapping[str, Any]) -> str:
    raw = json.dumps(state, separators=(",", ":"), sort_keys=True).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(token: str) -> dict[str, Any]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        state = json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise validation("invalid cursor") from exc
    if not isinstance(state, dict):
        raise validation("invalid cursor")
    return state


def page_size(request: Request, default: int = DEFAULT_PAGE_SIZE) -> int:
    raw = request.query_params.get("pageSize")
    if raw is None or raw == "":
        return default
    try:
        size = int(raw)
    except ValueError as exc:
        raise validation(f"invalid page size {raw!r}") from exc
    if size < 0:
        raise validation(f"invalid page size {raw!r}")
    # go-libs clamps an oversized page rather than refusing it.
    return min(size, MAX_PAGE_SIZE) if size else default


def query_flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes", "y")


async def read_json(request: Request, *, allow_empty: bool = True) -> Any:
    """The request body as JSON; None for an empty body when allowed."""
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return None
        raise validation("a JSON body is required")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise validation(f"invalid JSON body: {exc}") from exc


def string_map(value: Any, field: str) -> dict[str, str]:
    """A metadata map: strings to strings, as Go's map[string]string decodes it."""
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise validation(f"{field}: expected an object of strings")
    return dict(value)


def integer(value: Any, field: str) -> int:
    """A JSON integer (a big.Int in Go: never a float, never a boolean)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise validation(f"{field}: expected an integer")
    return value
