"""Session-wide services: one `flows serve` per backend, driven through the official SDK."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from formance_sdk_python import SDK
from formance_sdk_python.models import shared

from tests.support.postgres import postgres_cluster  # noqa: F401  (a session fixture)
from tests.support.service import FlowsProcess, serving
from tests.support.storage import repository  # noqa: F401  (a fixture: a fresh migrated repository)

AUTH_CLIENTS = {"tester": "tester-secret", "reader": "reader-secret"}


@dataclass
class Api:
    """A running service and an SDK client for it."""

    backend: str
    service: FlowsProcess
    sdk: SDK

    @property
    def url(self) -> str:
        return self.service.url


def _serve(tmp_path_factory: pytest.TempPathFactory, name: str, *flags: str) -> Iterator[FlowsProcess]:
    yield from serving(FlowsProcess(tmp_path_factory.mktemp(name) / "data", *flags))


@pytest.fixture(scope="session")
def sqlite_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    # The money tests read its sandbox's recording of requests and park writes on its holds.
    yield from _serve(tmp_path_factory, "sqlite", "--sandbox-test-hooks")


@pytest.fixture(scope="session")
def postgres_service(
    tmp_path_factory: pytest.TempPathFactory, postgres_cluster  # noqa: F811
) -> Iterator[FlowsProcess]:
    uri = postgres_cluster.create_database("flows_api")
    yield from _serve(tmp_path_factory, "postgres", "--postgres-uri", uri)


@pytest.fixture(scope="session")
def auth_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    clients = ",".join(f"{client}:{secret}" for client, secret in AUTH_CLIENTS.items())
    yield from _serve(tmp_path_factory, "auth", "--auth-clients", clients)


@pytest.fixture(scope="session", params=["sqlite", "postgres"])
def api(request: pytest.FixtureRequest) -> Api:
    """The API on each database backend, with an SDK client (no credentials: auth is off)."""
    service: FlowsProcess = request.getfixturevalue(f"{request.param}_service")
    return Api(request.param, service, SDK(server_url=service.url))


@pytest.fixture(scope="session")
def sqlite_api(sqlite_service: FlowsProcess) -> Api:
    return Api("sqlite", sqlite_service, SDK(server_url=sqlite_service.url))


def sdk_with_credentials(url: str, client_id: str, secret: str) -> SDK:
    return SDK(
        server_url=url,
        security=shared.Security(client_id=client_id, client_secret=secret),
    )
