"""Records instance workflow histories for the replay test (run by hand, not by pytest):

    .venv/bin/python tests/engine/record_histories.py

Histories recorded by a released version must keep replaying: a change to the workflow code that
breaks one needs `workflow.patched`. Add a history here for each new kind of stage.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from flows.engine.client import Engine
from flows.engine.models import InstanceInput
from flows.engine.worker import build_worker
from flows.stack.client import StackClient
from flows.storage.database import Database, sqlalchemy_url
from flows.storage.records import WorkflowRecord
from flows.storage.repository import Repository

HISTORIES = Path(__file__).parent / "histories"
SCENARIOS: dict[str, tuple[list[dict], dict[str, str]]] = {
    "noop-delay-events": (
        [{"noop": {}}, {"delay": {"duration": "1s"}}, {"wait_event": {"event": "${event}"}}],
        {"event": "approved"},
    ),
    "failed-resolution": ([{"noop": {}}, {"delay": {"duration": "${wait}"}}], {"wait": "later"}),
    "canceled": ([{"wait_event": {"event": "never"}}, {"noop": {}}], {}),
    # Two stack calls: recorded before the patch `progress-with-call` (flows/engine/workflow.py),
    # each preceded by a RecordProgress local activity.
    "send-update": (
        [
            {
                "send": {
                    "source": {"account": {"id": "world"}},
                    "destination": {"account": {"id": "users:1"}},
                    "amount": {"amount": 100, "asset": "USD/2"},
                }
            },
            {"update": {"account": {"id": "users:1", "metadata": {"paid": "yes"}}}},
        ],
        {},
    ),
}


def _stack_answer(request: httpx.Request) -> httpx.Response:
    """A stack that accepts every call: a created transaction, or no content (the metadata)."""
    if request.url.path.endswith("/transactions"):
        posting = {"source": "world", "destination": "users:1", "amount": 100, "asset": "USD/2"}
        body: dict[str, Any] = {"data": {"id": 1, "postings": [posting], "metadata": {}, "timestamp": "2025-01-01T00:00:00Z"}}
        return httpx.Response(200, json=body)
    return httpx.Response(204)


async def main() -> None:
    database = Database(sqlalchemy_url(None, Path(tempfile.mkdtemp()) / "flows.db"))
    await database.migrate()
    repository = Repository(database)
    now = datetime.now(UTC)
    await repository.create_workflow(WorkflowRecord("recorded", {"stages": []}, now, now))
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=shutil.which("temporal"), data_converter=pydantic_data_converter
    ) as env:
        engine = Engine(env.client, "record")
        stack = StackClient("http://stack.invalid", transport=httpx.MockTransport(_stack_answer))
        async with build_worker(env.client, "record", repository, stack):
            for name, (stages, variables) in SCENARIOS.items():
                instance_id = str(uuid.uuid4())
                await engine.start(
                    InstanceInput(
                        instance_id=instance_id,
                        workflow_id="recorded",
                        stages=stages,
                        variables=variables,
                        created_at=now,
                    )
                )
                if name == "noop-delay-events":
                    await engine.deliver_event(instance_id, "approved", None)
                if name == "canceled":
                    await engine.wait(instance_id, 0.5)
                    await engine.cancel(instance_id, 5)
                await engine.wait(instance_id, 10)
                history = await env.client.get_workflow_handle(instance_id).fetch_history()
                (HISTORIES / f"{name}.json").write_text(history.to_json())
    await database.close()


if __name__ == "__main__":
    asyncio.run(main())
