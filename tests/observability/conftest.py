"""One `flows serve` observed every way at once, to start one process for all of it: traces to an
OTLP/HTTP receiver in the test process, JSON logs, `--debug`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.observability.otlp import TraceReceiver
from tests.support.service import FlowsProcess, serving


@pytest.fixture(scope="package")
def receiver() -> Iterator[TraceReceiver]:
    with TraceReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="package")
def observed(tmp_path_factory: pytest.TempPathFactory, receiver: TraceReceiver) -> Iterator[FlowsProcess]:
    service = FlowsProcess(
        tmp_path_factory.mktemp("observed") / "data",
        "--log-format", "json",
        "--debug",
        "--otel-traces",
        "--otel-traces-exporter", "otlp",
        "--otel-traces-exporter-otlp-mode", "http",
        "--otel-traces-exporter-otlp-endpoint", receiver.endpoint,
        "--otel-traces-exporter-otlp-insecure",
        # Spans leave in batches every 100 ms rather than 5 s, so the test waits less.
        env={"OTEL_BSP_SCHEDULE_DELAY": "100"},
    )  # fmt: skip
    yield from serving(service)
