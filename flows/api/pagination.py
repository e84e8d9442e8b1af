"""v2 cursor pagination, in the reference's token format.

A cursor is base64url (no padding) of `{"offset", "order", "pageSize", "filters"}`; when a request
carries one, the filters come from the cursor and the other query parameters are ignored.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request

from flows.api.errors import invalid
from flows.storage.records import Page

DEFAULT_PAGE_SIZE = 15
MAX_PAGE_SIZE = 100
# A Go int, as in the reference's tokens; also what SQL OFFSET takes (a signed 64-bit integer).
MAX_OFFSET = 2**63 - 1
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


@dataclass(frozen=True)
class PageQuery:
    offset: int
    page_size: int
    filters: Any


def is_v2(request: Request) -> bool:
    return request.scope["path"].startswith("/v2/")


def page_query(request: Request, filters: Callable[[], Any]) -> PageQuery:
    """The page a v2 request asks for; `filters` reads the filters from the query string."""
    cursor = request.query_params.get("cursor")
    if cursor:
        return _decode(cursor)
    return PageQuery(0, _page_size(request.query_params.get("pageSize")), filters())


def _page_size(raw: str | None) -> int:
    if raw is None or raw == "":
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw, 10)
    except ValueError:
        raise invalid("invalid 'pageSize' query param") from None
    if size < 0 or size > 2**32:
        raise invalid("invalid 'pageSize' query param")
    if size == 0:
        return DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE)


def _encode(query: PageQuery) -> str:
    token = {"offset": query.offset, "order": 0, "pageSize": query.page_size, "filters": query.filters}
    raw = json.dumps(token, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _decode(cursor: str) -> PageQuery:
    # Python's decoder skips characters outside the alphabet; a corrupted cursor must not pass.
    if not _BASE64URL.fullmatch(cursor):
        raise invalid("invalid 'cursor' query param")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        token = json.loads(raw)
        offset, page_size = token["offset"], token["pageSize"]
    except (binascii.Error, ValueError, KeyError, TypeError, RecursionError):
        raise invalid("invalid 'cursor' query param") from None
    # `bool` is an `int` in Python, not in JSON: `{"offset": true}` is no offset.
    if not _is_integer(offset) or not _is_integer(page_size):
        raise invalid("invalid 'cursor' query param")
    if not 0 <= offset <= MAX_OFFSET or not 0 < page_size <= MAX_PAGE_SIZE:
        raise invalid("invalid 'cursor' query param")
    return PageQuery(offset, page_size, token.get("filters"))


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def cursor_body(query: PageQuery, page: Page[Any], render: Callable[[Any], Any]) -> dict[str, Any]:
    body: dict[str, Any] = {"pageSize": query.page_size, "hasMore": page.has_more}
    if query.offset > 0:
        previous = PageQuery(max(0, query.offset - query.page_size), query.page_size, query.filters)
        body["previous"] = _encode(previous)
    if page.has_more:
        body["next"] = _encode(PageQuery(query.offset + query.page_size, query.page_size, query.filters))
    body["data"] = [render(item) for item in page.items]
    return {"cursor": body}
