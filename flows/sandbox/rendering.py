"""HTTP plumbing shared by the sandboxed services: go-libs envelopes, times, cursors, bodies.

Whatever a client sends is checked here before any service sees it: JSON (bodies, cursors,
filters) nests at most flows.documents.MAX_DEPTH levels and holds only text both databases can store, so a
write is refused with a 400 rather than committed and then answered 500 (or stored and then
unreadable).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from flows import documents
from flows.documents import DocumentError
from flows.sandbox.errors import VALIDATION, StackError, validation
from flows.sandbox.names import MAX_AMOUNT

JSON_TYPE = "application/json"
DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 100
ZERO_TIME = "0001-01-01T00:00:00Z"
# Idempotency-Keys, references and account addresses are database index keys, which PostgreSQL
# caps at about 2.7 kB.
MAX_KEY_BYTES = 1024
_DIGITS = re.compile("[0-9]+")
# go-libs reads a page size as a uint64.
_MAX_UINT64 = 2**64 - 1


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


def json_response(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    # Go's JSON encoder ends bodies with a newline; big integers stay JSON numbers.
    body = json.dumps(content, separators=(",", ":"), ensure_ascii=False) + "\n"
    try:
        encoded = body.encode()
    except UnicodeEncodeError:
        # A lone surrogate stored before requests were checked: written as its JSON escape.
        encoded = (json.dumps(content, separators=(",", ":")) + "\n").encode()
    return Response(encoded, status_code=status, media_type=JSON_TYPE, headers=headers)


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


class Cursor:
    """A cursor the sandbox minted, read back field by field: any field missing or of the wrong
    type makes it an invalid cursor (a 400), never a wrong query."""

    def __init__(self, token: str) -> None:
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError) as exc:
            raise _invalid_cursor() from exc
        state = parse_json(raw, "cursor")
        if not isinstance(state, dict):
            raise _invalid_cursor()
        self.state: dict[str, Any] = state

    def position(self, name: str) -> int:
        """A row id to continue from: a non-negative integer the database can compare."""
        value = self.state.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**63:
            raise _invalid_cursor()
        return value

    def text(self, name: str) -> str:
        value = self.state.get(name)
        if not isinstance(value, str):
            raise _invalid_cursor()
        return value

    def optional_text(self, name: str) -> str | None:
        return None if self.state.get(name) is None else self.text(name)

    def page_size(self) -> int:
        value = self.state.get("pageSize")
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
            raise _invalid_cursor()
        return value

    def texts(self, name: str) -> list[str]:
        value = self.state.get(name)
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise _invalid_cursor()
        return value

    def text_map(self, name: str) -> dict[str, str]:
        value = self.state.get(name)
        if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
            raise _invalid_cursor()
        return value

    def flag(self, name: str) -> bool:
        value = self.state.get(name)
        if not isinstance(value, bool):
            raise _invalid_cursor()
        return value

    def document(self, name: str) -> Any:
        """A JSON value kept as it was given (a list filter), checked again where it is used."""
        if name not in self.state:
            raise _invalid_cursor()
        return self.state[name]


def _invalid_cursor() -> StackError:
    return validation("invalid cursor")


def read_cursor(request: Request) -> Cursor | None:
    """The `cursor` query parameter; None when there is none."""
    token = request.query_params.get("cursor")
    return Cursor(token) if token else None


def page_size(request: Request, default: int = DEFAULT_PAGE_SIZE) -> int:
    """`pageSize` as go-libs reads it: absent means the default, beyond the maximum is clamped,
    anything but a positive uint64 is a 400."""
    raw = request.query_params.get("pageSize")
    if raw is None or raw == "":
        return default
    if not _DIGITS.fullmatch(raw) or len(raw) > 20 or not 1 <= int(raw) <= _MAX_UINT64:
        raise validation(f"invalid page size {raw!r}: expected a positive integer")
    return min(int(raw), MAX_PAGE_SIZE)


def query_flag(request: Request, name: str) -> bool:
    return request.query_params.get(name, "").lower() in ("1", "true", "yes", "y")


def parse_json(raw: bytes | str, what: str, malformed: str = VALIDATION) -> Any:
    """A JSON document a client sent (`what` names it in errors): a 400 with `malformed` as
    code unless it parses, then VALIDATION unless it is a document Flows can store
    (flows/documents.py: depth, valid Unicode, no NUL)."""
    try:
        return documents.parse_json(raw)
    except DocumentError as error:
        raise StackError(400, malformed if error.syntax else VALIDATION, f"invalid {what}: {error}") from None


def storable_text(value: str, what: str) -> str:
    """`value`, unless it holds a lone surrogate or NUL (a 400)."""
    try:
        documents.check_text(value)
    except DocumentError as error:
        raise validation(f"invalid {what}: {error}") from None
    return value


def key_text(value: str, what: str) -> str:
    """Text that becomes part of a database index key: storable and at most MAX_KEY_BYTES."""
    storable_text(value, what)
    if len(value.encode()) > MAX_KEY_BYTES:
        raise validation(f"invalid {what}: longer than {MAX_KEY_BYTES} bytes")
    return value


def request_refusal(scope: Scope) -> StackError | None:
    """Why a request cannot be served whatever its body, if it cannot: NUL in its path or query
    (servers decode the rest into storable text) or an oversized Idempotency-Key."""
    if "\x00" in scope["path"]:
        return validation("invalid path: NUL characters are not allowed")
    if "\x00" in unquote_plus(scope.get("query_string", b"").decode("latin-1"), encoding="latin-1"):
        return validation("invalid query: NUL characters are not allowed")
    for name, value in scope.get("headers") or []:
        if name == b"idempotency-key":
            try:
                key_text(value.decode("latin-1"), "Idempotency-Key")
            except StackError as error:
                return error
    return None


async def read_json(request: Request, *, allow_empty: bool = True, malformed: str = VALIDATION) -> Any:
    """The request body as checked JSON (parse_json); None for an empty body when allowed."""
    raw = await request.body()
    if not raw.strip():
        if allow_empty:
            return None
        raise StackError(400, malformed, "a JSON body is required")
    return parse_json(raw, "JSON body", malformed)


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


def amount(value: Any, field: str) -> int:
    """An amount of money: an integer from 0 to MAX_AMOUNT."""
    found = integer(value, field)
    if not 0 <= found <= MAX_AMOUNT:
        raise validation(f"{field}: expected an integer from 0 to 2^256 - 1")
    return found


def digits(value: str, field: str) -> int:
    """A decimal integer written as text: ASCII digits only (`int()` also takes `٣`, `1_000`
    or ` 1 `), short enough to convert."""
    if not _DIGITS.fullmatch(value) or len(value) > 80:
        raise validation(f"{field}: expected a decimal integer, got {value[:100]!r}")
    return int(value)
