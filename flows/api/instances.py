"""Instances: list, read, send events, abort, and their histories."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import Response

from flows.api import rendering
from flows.api.bodies import read_json, require_object
from flows.api.errors import invalid, not_found
from flows.api.pagination import cursor_body, is_v2, page_query
from flows.api.responses import JSONResponse
from flows.api.state import application
from flows.storage.records import InstanceRecord

STAGE_NUMBER = re.compile(r"[0-9]{1,9}")


def _running_filter(request: Request) -> bool:
    return request.query_params.get("running", "").lower() in ("true", "1")


def _listed(record: InstanceRecord) -> dict[str, object]:
    return rendering.instance(record, with_status=False)


async def list_instances(request: Request) -> Response:
    instances = application(request).instances
    if not is_v2(request):
        page = await instances.list(request.query_params.get("workflowID", ""), _running_filter(request))
        return JSONResponse({"data": [_listed(item) for item in page.items]})
    query = page_query(
        request,
        lambda: {
            "WorkflowID": request.query_params.get("workflowID", ""),
            "Running": _running_filter(request),
        },
    )
    filters = query.filters if isinstance(query.filters, dict) else {}
    page = await instances.list(
        str(filters.get("WorkflowID") or ""),
        filters.get("Running") is True,
        query.offset,
        query.page_size,
    )
    return JSONResponse(cursor_body(query, page, _listed))


async def get_instance(request: Request) -> Response:
    record = await application(request).instances.get(request.path_params["instance_id"])
    return JSONResponse({"data": rendering.instance(record)})


async def send_event(request: Request) -> Response:
    body = require_object(await read_json(request, empty={}), "an event")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("validating data: missing event name")
    key = request.headers.get("idempotency-key") or None
    await application(request).instances.send_event(request.path_params["instance_id"], name, key)
    return Response(status_code=204)


async def abort(request: Request) -> Response:
    await application(request).instances.abort(request.path_params["instance_id"])
    return Response(status_code=204)


async def instance_history(request: Request) -> Response:
    stages = await application(request).instances.history(request.path_params["instance_id"])
    return JSONResponse({"data": [rendering.stage_history(stage) for stage in stages]})


async def stage_history(request: Request) -> Response:
    raw_number = request.path_params["number"]
    if not STAGE_NUMBER.fullmatch(raw_number):
        raise not_found(f"stage '{raw_number}' not found: a stage number is a non-negative integer")
    activities = await application(request).instances.stage_history(request.path_params["instance_id"], int(raw_number))
    return JSONResponse({"data": [rendering.activity_history(activity) for activity in activities]})
