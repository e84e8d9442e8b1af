"""Sandbox servers for the tests of this directory: one on SQLite, one on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sandbox_support import SandboxServer

from flows.storage.database import sqlalchemy_url


@pytest.fixture(scope="session")
def sqlite_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    path = tmp_path_factory.mktemp("sandbox") / "flows.sqlite"
    server = SandboxServer(sqlalchemy_url(None, path)).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def postgres_sandbox(postgres_cluster) -> Iterator[SandboxServer]:
    uri = postgres_cluster.create_database("flows_sandbox")
    server = SandboxServer(sqlalchemy_url(uri, None)).start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def sandbox(request: pytest.FixtureRequest) -> SandboxServer:
    """The sandbox on each database backend."""
    return request.getfixturevalue(f"{request.param}_sandbox")  # type: ignore[no-any-return]
