"""Workflow definitions: create, list, read, delete, and running one."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from flows.api import rendering
from flows.api.bodies import read_json, read_json_or_yaml
from flows.api.pagination import cursor_body, is_v2, page_query
from flows.api.responses import JSONResponse
from flows.api.state import application


async def create_workflow(request: Request) -> Response:
    record = await application(request).workflows.create(await read_json_or_yaml(request))
    return JSONResponse({"data": rendering.workflow(record)}, status_code=201)


async def list_workflows(request: Request) -> Response:
    workflows = application(request).workflows
    if not is_v2(request):
        page = await workflows.list()
        return JSONResponse({"data": [rendering.workflow(item) for item in page.items]})
    query = page_query(request, lambda: None)
    page = await workflows.list(query.offset, query.page_size)
    return JSONResponse(cursor_body(query, page, rendering.workflow))


async def get_workflow(request: Request) -> Response:
    record = await application(request).workflows.get(request.path_params["workflow_id"])
    return JSONResponse({"data": rendering.workflow(record)})


async def delete_workflow(request: Request) -> Response:
    await application(request).workflows.delete(request.path_params["workflow_id"])
    return Response(status_code=204)


async def run_workflow(request: Request) -> Response:
    run = await application(request).workflows.run(
        request.path_params["workflow_id"],
        lambda: read_json(request, empty={}),
        key=request.headers.get("idempotency-key") or None,
        wait=request.query_params.get("wait", "").lower() in ("true", "1"),
    )
    body = rendering.instance(run.instance)
    if run.still_running_after is not None:
        # The reference's `error` of a wait-mode run is the wait's own failure: here, running out of time.
        body["error"] = (
            f"still running after waiting {run.still_running_after:g} s (--wait-timeout); follow it with GET /instances/{run.instance.id}"
        )
    return JSONResponse({"data": body}, status_code=201)
