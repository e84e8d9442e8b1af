"""The application on a real SQLite repository; a real Temporal dev server and worker for the use
cases that drive instances."""

from __future__ import annotations

import shutil
import sysconfig
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from flows.application import Application, build_application
from flows.engine.client import Engine
from flows.engine.worker import build_worker
from flows.storage.repository import Repository

TASK_QUEUE = "flows-application-test"

ON_SQLITE = pytest.mark.parametrize("repository", ["sqlite"], indirect=True)
"""The `repository` of tests/support/storage.py, on SQLite only."""


@pytest.fixture
def without_engine(repository: Repository) -> Application:
    """For the use cases that never reach Temporal: any call to the engine would fail the test."""
    return build_application(repository, cast(Engine, None), version="test")


@pytest.fixture(scope="module")
async def dev_server() -> AsyncIterator[WorkflowEnvironment]:
    binary = shutil.which("temporal") or str(Path(sysconfig.get_path("scripts")) / "temporal")
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=binary, data_converter=pydantic_data_converter)
    yield env
    await env.shutdown()


@pytest.fixture
async def with_engine(repository: Repository, dev_server: WorkflowEnvironment) -> AsyncIterator[Application]:
    """The application with its instances run by a worker on the dev server."""
    engine = Engine(dev_server.client, TASK_QUEUE)
    async with build_worker(dev_server.client, TASK_QUEUE, repository):
        yield build_application(repository, engine, version="test", wait_timeout=10, abort_timeout=5)
