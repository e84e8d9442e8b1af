"""Workflow definitions: create, list, read, delete, and running one."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from flows.api import rendering
from flows.api.bodies import read_json, read_json_or_yaml
from flows.api.errors import invalid, not_found
from flows.api.pagination import cursor_body, is_v2, page_query
from flows.api.services import now, services
from flows.engine.instances import start_instance
from flows.stages.base import ConfigError
from flows.storage.records import WorkflowRecord
from flows.workflows.config import validate_config


async def create_workflow(request: Request) -> Response:
    body = await read_json_or_yaml(request)
    try:
        config = validate_config(body)
    except ConfigError as error:
        raise invalid(str(error)) from None
    created = now()
    record = WorkflowRecord(id=str(uuid.uuid4()), config=config, created_at=created, updated_at=created)
    await services(request).repository.create_workflow(record)
    return JSONResponse({"data": rendering.workflow(record)}, status_code=201)


async def list_workflows(request: Request) -> Response:
    repository = services(request).repository
    if not is_v2(request):
        page = await repository.list_workflows(0, None)
        return JSONResponse({"data": [rendering.workflow(item) for item in page.items]})
    query = page_query(request, lambda: None)
    page = await repository.list_workflows(query.offset, query.page_size)
    return JSONResponse(cursor_body(query, page, rendering.workflow))


async def live_workflow(request: Request, workflow_id: str) -> WorkflowRecord:
    record = await services(request).repository.get_workflow(workflow_id)
    if record is None or record.deleted_at is not None:
        raise not_found(f"workflow '{workflow_id}' not found")
    return record


async def get_workflow(request: Request) -> Response:
    record = await live_workflow(request, request.path_params["workflow_id"])
    return JSONResponse({"data": rendering.workflow(record)})


async def delete_workflow(request: Request) -> Response:
    workflow_id = request.path_params["workflow_id"]
    if not _is_uuid(workflow_id):
        raise invalid(f"'{workflow_id}' is not a workflow id (a UUID)")
    if not await services(request).repository.delete_workflow(workflow_id, now()):
        raise not_found(f"workflow '{workflow_id}' not found")
    return Response(status_code=204)


async def run_workflow(request: Request) -> Response:
    # `wait=true` answers within --wait-timeout of the request's arrival: under load, starting
    # the workflow on Temporal alone can take seconds, and those count against the wait.
    loop = asyncio.get_running_loop()
    found = services(request)
    deadline = loop.time() + found.wait_timeout
    workflow = await live_workflow(request, request.path_params["workflow_id"])
    variables = _variables(await read_json(request, empty={}))
    key = request.headers.get("idempotency-key") or None
    # Never cut short: once Temporal has the instance, the answer must be a success.
    instance, started = await start_instance(found.engine, found.repository, workflow, variables, key)
    if _wants_wait(request):
        remaining = deadline - loop.time()
        if remaining > 0:
            await found.engine.wait(instance.id, remaining)
    elif started:
        return JSONResponse({"data": rendering.instance(instance)}, status_code=201)
    # Waited, or the same Idempotency-Key again: the instance as it stands.
    stored = await found.repository.get_instance(instance.id)
    return JSONResponse({"data": rendering.instance(stored or instance)}, status_code=201)


def _wants_wait(request: Request) -> bool:
    return request.query_params.get("wait", "").lower() in ("true", "1")


def _variables(body: Any) -> dict[str, str]:
    if not isinstance(body, dict):
        raise invalid("the run variables must be a JSON object of strings")
    wrong = sorted(name for name, value in body.items() if not isinstance(value, str))
    if wrong:
        raise invalid(f"run variables must be strings: {', '.join(wrong)}")
    return body


def _is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
