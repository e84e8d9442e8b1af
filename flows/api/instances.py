"""Instances: list, read, send events, abort, and their histories."""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flows.api import rendering
from flows.api.bodies import read_json, require_object
from flows.api.errors import invalid, not_found
from flows.api.pagination import cursor_body, is_v2, page_query
from flows.api.services import services
from flows.engine.client import EventRejected, InstanceNotRunning
from flows.storage.records import InstanceRecord

STAGE_NUMBER = re.compile(r"[0-9]{1,9}")


def _running_filter(request: Request) -> bool:
    return request.query_params.get("running", "").lower() in ("true", "1")


async def list_instances(request: Request) -> Response:
    repository = services(request).repository
    render = lambda item: rendering.instance(item, with_status=False)  # noqa: E731
    if not is_v2(request):
        page = await repository.list_instances(
            request.query_params.get("workflowID", ""), _running_filter(request), 0, None
        )
        return JSONResponse({"data": [render(item) for item in page.items]})
    query = page_query(
        request,
        lambda: {
            "WorkflowID": request.query_params.get("workflowID", ""),
            "Running": _running_filter(request),
        },
    )
    filters = query.filters if isinstance(query.filters, dict) else {}
    page = await repository.list_instances(
        str(filters.get("WorkflowID") or ""),
        filters.get("Running") is True,
        query.offset,
        query.page_size,
    )
    return JSONResponse(cursor_body(query, page, render))


async def _instance(request: Request) -> InstanceRecord:
    instance_id = request.path_params["instance_id"]
    record = await services(request).repository.get_instance(instance_id)
    if record is None:
        raise not_found(f"instance '{instance_id}' not found")
    return record


async def get_instance(request: Request) -> Response:
    return JSONResponse({"data": rendering.instance(await _instance(request))})


async def send_event(request: Request) -> Response:
    body = require_object(await read_json(request, empty={}), "an event")
    name = body.get("name")
    if not isinstance(name, str) or not name:
        raise invalid("validating data: missing event name")
    instance = await _instance(request)
    if instance.terminated:
        raise invalid(f"instance '{instance.id}' is terminated and takes no more events")
    key = request.headers.get("idempotency-key") or None
    try:
        await services(request).engine.deliver_event(instance.id, name, key)
    except InstanceNotRunning:
        raise invalid(f"instance '{instance.id}' is terminated and takes no more events") from None
    except EventRejected as rejection:
        raise invalid(str(rejection)) from None
    return Response(status_code=204)


async def abort(request: Request) -> Response:
    instance = await _instance(request)
    if not instance.terminated:
        found = services(request)
        await found.engine.cancel(instance.id, found.abort_timeout)
    return Response(status_code=204)


async def instance_history(request: Request) -> Response:
    instance = await _instance(request)
    started = [stage for stage in instance.stages if stage.name is not None]
    return JSONResponse({"data": [rendering.stage_history(stage) for stage in started]})


async def stage_history(request: Request) -> Response:
    raw_number = request.path_params["number"]
    if not STAGE_NUMBER.fullmatch(raw_number):
        raise not_found(f"stage '{raw_number}' not found: a stage number is a non-negative integer")
    number = int(raw_number)
    instance = await _instance(request)
    stage = next((stage for stage in instance.stages if stage.stage == number), None)
    if stage is None or stage.name is None:
        raise not_found(f"stage {number} of instance '{instance.id}' has not started")
    found = services(request)
    activities = await found.repository.list_activities(instance.id, number)
    pending = {}
    if activities and stage.terminated_at is None:
        pending = {
            activity.activity_id: activity
            for activity in await found.engine.pending_activities(instance.id)
        }
    items = []
    for activity in activities:
        live = pending.get(activity.activity_id)
        if live is None:
            items.append(rendering.activity_history(activity))
            continue
        items.append(
            rendering.activity_history(
                activity,
                attempt=live.attempt,
                last_failure=live.last_failure,
                next_execution=live.next_execution,
            )
        )
    return JSONResponse({"data": items})
