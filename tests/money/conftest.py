"""The two ways a `flows serve` moves money, each started once per session:

* `local`: one `flows serve` (the session's `sqlite_service`) serving its own sandbox stack, its
  worker calling it over HTTP;
* `remote`: one `flows serve --auth-clients stack:stack-secret` acting as the stack (its sandbox),
  and a second `flows serve --stack-url … --stack-client-id stack --stack-client-secret …` whose
  worker moves money on the first over loopback with OAuth2 client credentials: the production
  code path.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from money_support import STACK_CLIENT, Flows, Stack, remote_worker_flags

from tests.support.service import FlowsProcess


@pytest.fixture(scope="session")
def remote_stack_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[FlowsProcess]:
    """A `flows serve` whose sandbox is the stack of the `remote` setup (auth on)."""
    client_id, secret = STACK_CLIENT
    service = FlowsProcess(
        tmp_path_factory.mktemp("stack") / "data",
        "--auth-clients",
        f"{client_id}:{secret}",
        "--sandbox-test-hooks",
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session")
def remote_stack(remote_stack_service: FlowsProcess) -> Stack:
    return Stack(remote_stack_service.url, STACK_CLIENT)


@pytest.fixture(scope="session")
def remote_worker_service(
    tmp_path_factory: pytest.TempPathFactory, remote_stack_service: FlowsProcess
) -> Iterator[FlowsProcess]:
    service = FlowsProcess(
        tmp_path_factory.mktemp("remote") / "data",
        *remote_worker_flags(remote_stack_service),
    )
    service.start()
    try:
        yield service
    finally:
        service.stop()


@pytest.fixture(scope="session", params=["local", "remote"])
def money(request: pytest.FixtureRequest) -> Flows:
    """A Flows API and the stack its worker moves money on, for each setup."""
    if request.param == "local":
        service: FlowsProcess = request.getfixturevalue("sqlite_service")
        return Flows("local", service.url, Stack(service.url))
    worker: FlowsProcess = request.getfixturevalue("remote_worker_service")
    return Flows("remote", worker.url, request.getfixturevalue("remote_stack"))
