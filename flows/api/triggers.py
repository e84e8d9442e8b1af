"""Triggers: create, list, read, delete, test, and their occurrences."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from flows.api import rendering
from flows.api.auth import request_claims
from flows.api.bodies import read_json, require_object
from flows.api.errors import invalid
from flows.api.pagination import cursor_body, is_v2, page_query
from flows.api.responses import JSONResponse
from flows.api.state import application
from flows.api.tokens import readable_services


def _optional_string(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise invalid(f"validating data: '{key}' must be a string")
    if value is not None and "\x00" in value:
        # PostgreSQL text columns cannot hold NUL; refuse it on every backend alike.
        raise invalid(f"validating data: '{key}' must not contain NUL characters")
    return value


def _vars(body: dict[str, Any]) -> dict[str, str] | None:
    value = body.get("vars")
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
        raise invalid("validating data: 'vars' must be an object of strings")
    return value


async def create_trigger(request: Request) -> Response:
    body = require_object(await read_json(request), "a trigger")
    record = await application(request).triggers.create(
        event=_optional_string(body, "event"),
        workflow_id=_optional_string(body, "workflowID"),
        name=_optional_string(body, "name") or "",
        version=_optional_string(body, "version") or None,
        filter=_optional_string(body, "filter") or None,
        variables=_vars(body),
    )
    return JSONResponse({"data": rendering.trigger(record)}, status_code=201)


async def test_trigger(request: Request) -> Response:
    """Evaluate a trigger's filter and variables against a payload (docs/triggers.md), no side effect.

    `filter` is omitted when the trigger has none; `variables` when it has none or the filter did
    not match.
    """

    async def payload() -> dict[str, Any]:
        return require_object(await read_json(request, empty={}), "the event payload")

    readable = readable_services(request_claims(request))
    result = await application(request).triggers.test(request.path_params["trigger_id"], payload, readable)
    return JSONResponse({"data": rendering.trigger_test(result)})


async def list_triggers(request: Request) -> Response:
    triggers = application(request).triggers
    if not is_v2(request):
        page = await triggers.list(request.query_params.get("name", ""))
        return JSONResponse({"data": [rendering.trigger(item) for item in page.items]})
    query = page_query(request, lambda: {"Name": request.query_params.get("name", "")})
    filters = query.filters if isinstance(query.filters, dict) else {}
    page = await triggers.list(str(filters.get("Name") or ""), query.offset, query.page_size)
    return JSONResponse(cursor_body(query, page, rendering.trigger))


async def read_trigger(request: Request) -> Response:
    record = await application(request).triggers.get(request.path_params["trigger_id"])
    return JSONResponse({"data": rendering.trigger(record)})


async def delete_trigger(request: Request) -> Response:
    await application(request).triggers.delete(request.path_params["trigger_id"])
    return Response(status_code=204)


async def list_occurrences(request: Request) -> Response:
    triggers = application(request).triggers
    trigger_id = request.path_params["trigger_id"]
    if not is_v2(request):
        page = await triggers.occurrences(trigger_id)
        return JSONResponse({"data": [rendering.occurrence(item) for item in page.items]})
    # The path's trigger wins over one carried by a cursor.
    query = page_query(request, lambda: {"TriggerID": trigger_id})
    page = await triggers.occurrences(trigger_id, query.offset, query.page_size)
    return JSONResponse(cursor_body(query, page, rendering.occurrence))
