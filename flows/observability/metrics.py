"""What a process counts, in Prometheus' text format at `/metrics` (docs/operations.md).

The metrics are module-level, as loggers are: a process has one set, and the modules that count
(the worker's interceptor, the lifecycle of instances, the trigger handler, the HTTP middleware)
reach them without being handed a registry. Every label has a bounded set of values (route
templates, activity and stage types, sources, outcomes), never an id.

Temporal's own worker and client metrics come from its core runtime, which serves them on a
loopback port of its own (`EngineMetrics`); `/metrics` appends them, so one scrape has both.
"""

from __future__ import annotations

import bisect
import itertools
import socket
from collections.abc import Iterator

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram, disable_created_metrics, generate_latest
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString
from starlette.requests import Request
from starlette.responses import Response

# A `_created` timestamp beside every series doubles the output for nothing Prometheus uses.
disable_created_metrics()
REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
"""The classic text format, the one Temporal's core serves too: the two concatenate."""

# Stages last from milliseconds (noop) to days (delay, wait_event).
STAGE_BUCKETS = (0.005, 0.025, 0.1, 0.5, 1, 5, 30, 120, 600, 3600, 6 * 3600, 24 * 3600, 7 * 24 * 3600)
CALL_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

INSTANCES_STARTED = Counter("flows_instances_started", "Instances that started running", registry=REGISTRY)
INSTANCES_ENDED = Counter(
    "flows_instances_ended", "Instances that ended, by outcome: succeeded, failed, aborted", ["outcome"], registry=REGISTRY
)
STAGE_DURATION = Histogram(
    "flows_stage_duration_seconds",
    "Time from a stage's start to its end, by stage type and outcome (succeeded, failed, aborted)",
    ["stage_type", "outcome"],
    buckets=STAGE_BUCKETS,
    registry=REGISTRY,
)
ACTIVITY_ATTEMPTS = Counter(
    "flows_activity_attempts", "Attempts of the worker's activities (stack calls, bookkeeping)", ["activity"], registry=REGISTRY
)
ACTIVITY_FAILURES = Counter(
    "flows_activity_failures",
    "Failed attempts, by activity and whether Temporal retries it (retried: true) or the stage fails (false)",
    ["activity", "retried"],
    registry=REGISTRY,
)
ACTIVITY_DURATION = Histogram(
    "flows_activity_duration_seconds", "Time of one activity attempt", ["activity"], buckets=CALL_BUCKETS, registry=REGISTRY
)
INSTANCE_EVENTS = Counter(
    "flows_instance_events",
    "Events sent to instances, by outcome: delivered, rejected (too many pending), not_running",
    ["outcome"],
    registry=REGISTRY,
)
EVENTS_RECEIVED = Counter(
    "flows_events_received", "Stack and lifecycle events taken in for the triggers, by source: http, nats, sandbox, lifecycle", ["source"],
    registry=REGISTRY,
)  # fmt: skip
TRIGGER_EVALUATIONS = Counter(
    "flows_trigger_evaluations",
    "Triggers evaluated against an event (their filter, if any), by result: matched, unmatched, error",
    ["result"],
    registry=REGISTRY,
)
TRIGGER_OCCURRENCES = Counter(
    "flows_trigger_occurrences", "Trigger occurrences recorded, by outcome: succeeded (an instance started), failed", ["outcome"],
    registry=REGISTRY,
)  # fmt: skip


class RequestDurations(Collector):
    """`flows_http_request_duration_seconds{method, route, status}`, the HTTP requests answered
    (`_count`) and their latency. Kept in plain lists, written only by the event loop: through a
    prometheus_client Histogram, the locks and label checks cost 7 µs a request, ~4 % of a read."""

    name = "flows_http_request_duration_seconds"
    documentation = "Time to answer an HTTP request, by method, route template and status; _count: the requests"
    labels = ("method", "route", "status")

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.bounds = buckets
        self._series: dict[tuple[str, str, str], list[float]] = {}
        """Per label values: a count per bucket (`le` each bound, then +Inf), then the sum."""

    def observe(self, method: str, route: str, status: str, seconds: float) -> None:
        key = (method, route, status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = [0.0] * (len(self.bounds) + 2)
        series[bisect.bisect_left(self.bounds, seconds)] += 1
        series[-1] += seconds

    def describe(self) -> Iterator[Metric]:
        yield HistogramMetricFamily(self.name, self.documentation, labels=self.labels)

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labels)
        for key, series in list(self._series.items()):
            cumulative = list(itertools.accumulate(series[:-1]))
            bounds = [*(floatToGoString(bound) for bound in self.bounds), "+Inf"]
            family.add_metric(list(key), list(zip(bounds, cumulative, strict=True)), sum_value=series[-1])
        yield family


HTTP_DURATION = RequestDurations(CALL_BUCKETS)
REGISTRY.register(HTTP_DURATION)

ENGINE_SCRAPE_TIMEOUT_S = 2.0


def free_loopback_address() -> str:
    """A loopback `host:port` free now, for Temporal's core to serve its metrics on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


class EngineMetrics:
    """Temporal's core metrics, served by the core runtime on a loopback address."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._http = httpx.AsyncClient(base_url=f"http://{address}", timeout=ENGINE_SCRAPE_TIMEOUT_S)

    async def text(self) -> bytes:
        try:
            response = await self._http.get("/metrics")
            response.raise_for_status()
        except httpx.HTTPError as error:
            return f"# Temporal's metrics unavailable: {type(error).__name__}\n".encode()
        return response.content

    async def close(self) -> None:
        await self._http.aclose()


async def exposition(engine: EngineMetrics | None) -> bytes:
    """Flows' metrics, then Temporal's."""
    own = generate_latest(REGISTRY)
    return own + await engine.text() if engine is not None else own


async def metrics_endpoint(request: Request) -> Response:
    """`GET /metrics`; the app's `state.engine_metrics` says where Temporal's are."""
    engine: EngineMetrics | None = getattr(request.app.state, "engine_metrics", None)
    return Response(await exposition(engine), media_type=CONTENT_TYPE)
