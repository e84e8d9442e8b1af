"""One `flows serve` (auth off) shared by the client tests of this package: starting a server
costs more than all the commands run against it. test_auth.py starts its own, with clients."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.client.helpers import Cli, serve
from tests.support.service import FlowsProcess


@pytest.fixture(scope="package")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    yield from serve(tmp_path_factory, "client")


@pytest.fixture(scope="package")
def cli(service: FlowsProcess) -> Cli:
    return Cli(service.url)
