"""Triggers: create, list, read, delete, and their occurrences."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flows.api import rendering
from flows.api.bodies import read_json, require_object
from flows.api.errors import invalid, not_found
from flows.api.pagination import cursor_body, is_v2, page_query
from flows.api.services import now, services
from flows.api.workflows import live_workflow
from flows.storage.records import TriggerRecord


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
    return value or None


async def create_trigger(request: Request) -> Response:
    body = require_object(await read_json(request), "a trigger")
    event = _optional_string(body, "event")
    workflow_id = _optional_string(body, "workflowID")
    name = _optional_string(body, "name") or ""
    version = _optional_string(body, "version") or None
    filter_ = _optional_string(body, "filter") or None
    variables = _vars(body)
    if not event:
        raise invalid("validating data: missing event")
    if not workflow_id:
        raise invalid("validating data: missing workflow id")
    await live_workflow(request, workflow_id)
    record = TriggerRecord(
        id=str(uuid.uuid4()),
        workflow_id=workflow_id,
        name=name,
        event=event,
        version=version,
        filter=filter_,
        vars=variables,
        created_at=now(),
    )
    await services(request).repository.create_trigger(record)
    return JSONResponse({"data": rendering.trigger(record)}, status_code=201)


async def list_triggers(request: Request) -> Response:
    repository = services(request).repository
    if not is_v2(request):
        page = await repository.list_triggers(request.query_params.get("name", ""), 0, None)
        return JSONResponse({"data": [rendering.trigger(item) for item in page.items]})
    query = page_query(request, lambda: {"Name": request.query_params.get("name", "")})
    filters = query.filters if isinstance(query.filters, dict) else {}
    page = await repository.list_triggers(
        str(filters.get("Name") or ""), query.offset, query.page_size
    )
    return JSONResponse(cursor_body(query, page, rendering.trigger))


async def read_trigger(request: Request) -> Response:
    trigger_id = request.path_params["trigger_id"]
    record = await services(request).repository.get_trigger(trigger_id)
    if record is None:
        raise not_found(f"trigger '{trigger_id}' not found")
    return JSONResponse({"data": rendering.trigger(record)})


async def delete_trigger(request: Request) -> Response:
    trigger_id = request.path_params["trigger_id"]
    if not await services(request).repository.delete_trigger(trigger_id, now()):
        raise not_found(f"trigger '{trigger_id}' not found")
    return Response(status_code=204)


async def list_occurrences(request: Request) -> Response:
    repository = services(request).repository
    trigger_id = request.path_params["trigger_id"]
    if not is_v2(request):
        page = await repository.list_occurrences(trigger_id, 0, None)
        return JSONResponse({"data": [rendering.occurrence(item) for item in page.items]})
    # The path's trigger wins over one carried by a cursor.
    query = page_query(request, lambda: {"TriggerID": trigger_id})
    page = await repository.list_occurrences(trigger_id, query.offset, query.page_size)
    return JSONResponse(cursor_body(query, page, rendering.occurrence))
