"""A `flows serve` of its own for each engine test that needs one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service import FlowsProcess


@pytest.fixture
def service(tmp_path: Path) -> Iterator[FlowsProcess]:
    process = FlowsProcess(tmp_path / "data").start()
    try:
        yield process
    finally:
        process.stop()
