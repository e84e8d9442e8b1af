"""Triggers: create, list, read, delete, and their occurrences."""

from __future__ import annotations

import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flows.api import rendering
from flows.api.auth import request_claims
from flows.api.bodies import read_json, require_object
from flows.api.errors import invalid, not_found
from flows.api.pagination import cursor_body, is_v2, page_query
from flows.api.services import now, services
from flows.api.workflows import live_workflow
from flows.stack.client import StackClient
from flows.storage.records import TriggerRecord
from flows.triggers import expr, link
from flows.triggers.cache import invalidate as invalidate_trigger_types
from flows.triggers.expr.values import from_json

MAX_QUOTED = 200  # characters of an expression repeated in an error message


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
    for source in [filter_, *(variables or {}).values()]:
        if source is not None:
            await _compile(source)
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
    invalidate_trigger_types()  # the next event in this process sees the new trigger
    return JSONResponse({"data": rendering.trigger(record)}, status_code=201)


async def _compile(source: str) -> expr.Program:
    """Compile a filter or variable expression, or reject the trigger with 400 VALIDATION."""
    try:
        return await link.compile_expression(source)
    except expr.ExprError as error:
        raise invalid(f"validating data: error compiling expression '{_quoted(source)}': {error}") from None


def _quoted(source: str) -> str:
    """The expression as an error message repeats it: its beginning when it is long."""
    return source if len(source) <= MAX_QUOTED else source[:MAX_QUOTED] + "…"


def _readable_services(request: Request) -> tuple[str, ...] | None:
    """The stack services a trigger test may `link()` to: those the caller's token has a scope of
    (`ledger:read` → ledger), so that orchestration scopes alone read no ledger data through the
    worker's credentials; any with auth off."""
    claims = request_claims(request)
    if claims is None:
        return None
    return tuple(sorted({scope.split(":", 1)[0] for scope in claims.scopes if ":" in scope}))


async def _evaluate(
    source: str, payload: Any, stack: StackClient | None, readable: link.Services, run: Any = link.run
) -> tuple[Any, str | None]:
    """The value of one expression (`run`: link.run or link.run_variable), or its error; 400 when
    it went over its budget."""
    try:
        return await run(await _compile(source), source, payload, stack, services=readable), None
    except expr.ExprError as error:
        if error.over_budget:
            raise invalid(f"validating data: expression '{_quoted(source)}': {error}") from None
        return None, str(error)


async def test_trigger(request: Request) -> Response:
    """Evaluate a trigger's filter and variables against a payload (reference §3), no side effect.

    `filter` is omitted when the trigger has none; `variables` when it has none or the filter did
    not match. Numbers of the payload are what the event pipeline makes of them
    (flows/triggers/expr/values.py).
    """
    trigger_id = request.path_params["trigger_id"]
    record = await services(request).repository.get_trigger(trigger_id)
    if record is None:
        raise not_found(f"trigger '{trigger_id}' not found")
    try:
        payload = from_json(require_object(await read_json(request, empty={}), "the event payload"))
    except ValueError as problem:
        raise invalid(f"the event payload is invalid: {problem}") from None
    events = services(request).events
    stack = events.stack if events is not None else None
    readable = _readable_services(request)
    result: dict[str, Any] = {}
    matched = True
    if record.filter is not None:
        value, error = await _evaluate(record.filter, payload, stack, readable)
        matched = value is True
        result["filter"] = {"match": matched} if error is None else {"match": False, "error": error}
    if matched and record.vars:
        variables: dict[str, Any] = {}
        for name, source in record.vars.items():
            value, error = await _evaluate(source, payload, stack, readable, link.run_variable)
            variables[name] = {"value": value} if error is None else {"error": error}
        result["variables"] = variables
    return JSONResponse({"data": result})


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
    invalidate_trigger_types()
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
