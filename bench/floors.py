"""The floors, each in a process of its own, as `flows serve` is:

    python bench/floors.py engine --runs 300 --concurrency 100 --waits 50
    python bench/floors.py send --runs 200 --concurrency 200 --waits 50
    python bench/floors.py http --port 8001 --documents documents.json

`engine` and `send` start the embedded dev server exactly as `flows serve` does
(flows.engine.devserver, same SQLite pragmas) and a worker with Flows' settings, run the bare
workflows of floor_workflows.py and print one JSON line: instances/s, the start→result p50, and
the process's CPU seconds. `send` also serves the sandbox stack in the same process, on uvicorn,
as `flows serve` does. `http` serves a bare Starlette route per document on uvicorn with the
settings of `flows serve`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import floor_workflows
import uvicorn
from load import concurrently, own_cpu_seconds, timed_ms
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from flows.composition import migrate_sandbox
from flows.datadir import open_data_dir
from flows.engine import worker as flows_worker
from flows.engine.devserver import EmbeddedTemporal
from flows.sandbox.app import create_sandbox_app
from flows.stack.client import StackClient
from flows.storage.database import Database, sqlalchemy_url

TASK_QUEUE = "floor"


def uvicorn_config(app: Any, port: int) -> uvicorn.Config:
    """What flows/server.py gives uvicorn (HTTP parser on auto: httptools), on the standard
    library's event loop as `flows serve` runs (flows/cli.py)."""
    return uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off", loop="asyncio")


@asynccontextmanager
async def temporal(root: Path) -> AsyncIterator[Client]:
    server = EmbeddedTemporal(open_data_dir(root / "data"))
    address = await server.start()
    try:
        yield await Client.connect(address, data_converter=pydantic_data_converter)
    finally:
        await server.stop()


def worker(client: Client, activities: list[Callable[..., Any]]) -> Worker:
    """A worker tuned as Flows' (flows.engine.worker), running the floor's workflows."""
    return Worker(
        client,
        task_queue=TASK_QUEUE,
        workflows=[floor_workflows.Noops, floor_workflows.SendUpdate],
        activities=activities,
        workflow_runner=SandboxedWorkflowRunner(
            restrictions=SandboxRestrictions.default.with_passthrough_modules("flows", "pydantic", "pydantic_core", "floor_workflows")
        ),
        max_concurrent_workflow_tasks=flows_worker.MAX_WORKFLOW_TASKS,
        max_concurrent_local_activities=flows_worker.MAX_LOCAL_ACTIVITIES,
        max_concurrent_activities=flows_worker.MAX_ACTIVITIES,
    )


async def measure(arguments: argparse.Namespace, run: Callable[[], Awaitable[Any]]) -> dict[str, float]:
    for _ in range(5):  # warm up, as the Flows side is
        await run()
    cpu_before, started = own_cpu_seconds(), time.perf_counter()
    await concurrently(arguments.runs, arguments.concurrency, run)
    elapsed = time.perf_counter() - started
    cpu = own_cpu_seconds() - cpu_before
    waits = [await timed_ms(run) for _ in range(arguments.waits)]
    return {"instances_per_s": arguments.runs / elapsed, "wait_p50_ms": statistics.median(waits), "cpu_s": cpu}


async def engine_floor(arguments: argparse.Namespace) -> dict[str, float]:
    async with temporal(Path(tempfile.mkdtemp(prefix="flows-floor-"))) as client:
        async with worker(client, []):

            async def run() -> None:
                await client.execute_workflow(floor_workflows.Noops.run, {}, id=str(uuid.uuid4()), task_queue=TASK_QUEUE)

            return await measure(arguments, run)


async def send_floor(arguments: argparse.Namespace) -> dict[str, float]:
    root = Path(tempfile.mkdtemp(prefix="flows-floor-"))
    database = Database(sqlalchemy_url(None, root / "sandbox.db"))
    await migrate_sandbox(database)
    port = arguments.port
    server = uvicorn.Server(uvicorn_config(create_sandbox_app(database, stack_url=f"http://127.0.0.1:{port}"), port))
    serving = asyncio.create_task(server.serve())
    stack = StackClient(f"http://127.0.0.1:{port}")
    try:
        while not server.started:
            await asyncio.sleep(0.05)
        ledger = f"floor{uuid.uuid4().hex[:8]}"
        await stack.request("POST", f"/api/ledger/v2/{ledger}")
        calls = floor_workflows.StackCalls(stack)
        async with temporal(root) as client, worker(client, [calls.create_transaction, calls.add_account_metadata]):

            async def run() -> None:
                await client.execute_workflow(floor_workflows.SendUpdate.run, ledger, id=str(uuid.uuid4()), task_queue=TASK_QUEUE)

            return await measure(arguments, run)
    finally:
        server.should_exit = True
        await serving
        await stack.close()
        await database.close()


def http_floor_app(documents: dict[str, Any]) -> Starlette:
    """One route per document (`/instances/{id}`, `/workflows/{id}`), answering it as JSON."""

    def answer(document: Any) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return JSONResponse(document)

        return endpoint

    return Starlette(routes=[Route(path, answer(document), methods=["GET"]) for path, document in documents.items()])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("floor", choices=["engine", "send", "http"])
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--waits", type=int, default=50)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--documents", type=Path)
    arguments = parser.parse_args()
    if arguments.floor == "http":
        documents = json.loads(arguments.documents.read_text())
        uvicorn.Server(uvicorn_config(http_floor_app(documents), arguments.port)).run()
        return
    floor = engine_floor if arguments.floor == "engine" else send_floor
    with asyncio.Runner() as runner:
        print(json.dumps(runner.run(floor(arguments))), flush=True)


if __name__ == "__main__":
    main()
