"""`/metrics` (docs/operations.md): Prometheus' text format, counters that move with what the
service does, HTTP requests by route template, and Temporal's own worker metrics beside ours."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support.polling import eventually
from tests.support.service import FlowsProcess, free_port, serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, **request: object) -> Samples:
    answer = httpx.get(f"{url}/metrics", timeout=10, **request)  # type: ignore[arg-type]
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def run(url: str, stages: list[dict[str, object]]) -> str:
    workflow = httpx.post(f"{url}/workflows", json={"stages": stages}, timeout=10).json()["data"]["id"]
    answer = httpx.post(f"{url}/workflows/{workflow}/instances?wait=true", json={}, timeout=10)
    assert answer.status_code == 201 and answer.json()["data"]["terminated"], answer.text
    return str(answer.json()["data"]["id"])


def test_counters_move_with_an_instance_run(sqlite_service: FlowsProcess) -> None:
    url = sqlite_service.url
    before = scrape(url)
    send = {
        "send": {
            "source": {"account": {"id": "world", "ledger": "default"}},
            "destination": {"account": {"id": "metered", "ledger": "default"}},
            "amount": {"amount": 1, "asset": "USD/2"},
        }
    }
    run(url, [{"noop": {}}, send])

    def moved() -> Samples | None:
        after = scrape(url)
        ended = value(after, "flows_instances_ended_total", outcome="succeeded") - value(
            before, "flows_instances_ended_total", outcome="succeeded"
        )
        return after if ended >= 1 else None

    after = eventually(moved, 10)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("flows_instances_started_total") >= 1
    assert delta("flows_stage_duration_seconds_count", stage_type="noop", outcome="succeeded") >= 1
    assert delta("flows_stage_duration_seconds_count", stage_type="send", outcome="succeeded") >= 1
    assert delta("flows_activity_attempts_total", activity="CreateTransaction") >= 1
    assert delta("flows_events_received_total", source="lifecycle") >= 1  # STARTED_WORKFLOW… into the triggers
    routes = {dict(labels).get("route") for name, labels in after if name == "flows_http_request_duration_seconds_count"}
    assert "/workflows/{workflow_id}/instances" in routes
    assert "/api/ledger/*" in routes  # the worker's call to the sandbox, under its mount
    # Temporal's own worker metrics, in the same answer.
    assert (
        value(
            after,
            "temporal_num_pollers",
            namespace="default",
            poller_type="activity_task",
            service_name="temporal-core-sdk",
            task_queue="flows",
        )
        > 0
    )
    assert any(name.startswith("temporal_workflow_completed") for name, _ in after)


def test_http_requests_are_labelled_by_route_template_never_by_raw_path(sqlite_service: FlowsProcess) -> None:
    url = sqlite_service.url
    unknown = str(uuid.uuid4())
    before = scrape(url)
    assert httpx.get(f"{url}/api/orchestration/instances/{unknown}").status_code == 404
    assert httpx.get(f"{url}/no/such/{unknown}").status_code == 404
    answer = httpx.get(f"{url}/metrics")
    assert unknown not in answer.text
    after = scrape(url)
    requests = "flows_http_request_duration_seconds_count"
    route = "/instances/{instance_id}"
    assert (
        value(after, requests, method="GET", route=route, status="404")
        == value(before, requests, method="GET", route=route, status="404") + 1
    )
    assert value(after, "flows_http_request_duration_seconds_bucket", method="GET", route=route, status="404", le="+Inf") >= 1
    assert value(after, requests, method="GET", route="unmatched", status="404") >= 1


def test_instance_events_and_trigger_occurrences_are_counted(sqlite_service: FlowsProcess) -> None:
    url = sqlite_service.url
    workflow = httpx.post(f"{url}/workflows", json={"stages": [{"wait_event": {"event": "go"}}]}).json()["data"]["id"]
    event_type = f"METERED_{uuid.uuid4().hex}"
    trigger = httpx.post(f"{url}/triggers", json={"event": event_type, "workflowID": workflow, "filter": "event.n > 1"})
    assert trigger.status_code == 201, trigger.text
    before = scrape(url)
    for n, message in ((2, "m1"), (0, "m2")):
        envelope = {
            "type": event_type,
            "payload": {"n": n},
            "app": "test",
            "version": "v2",
            "date": "2026-01-01T00:00:00Z",
            "idempotency_key": "",
        }
        assert httpx.post(f"{url}/events", json=envelope, headers={"Message-Uuid": f"{message}-{event_type}"}).status_code == 204
    [occurrence] = httpx.get(f"{url}/v2/triggers/{trigger.json()['data']['id']}/occurrences").json()["cursor"]["data"]
    instance = occurrence["workflowInstanceID"]
    assert httpx.post(f"{url}/instances/{instance}/events", json={"name": "go"}).status_code == 204
    after = scrape(url)

    def delta(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("flows_events_received_total", source="http") == 2
    assert delta("flows_trigger_evaluations_total", result="matched") >= 1
    assert delta("flows_trigger_evaluations_total", result="unmatched") >= 1
    assert delta("flows_trigger_occurrences_total", outcome="succeeded") >= 1
    assert delta("flows_instance_events_total", outcome="delivered") >= 1


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowsProcess]:
    service = FlowsProcess(
        tmp_path_factory.mktemp("guarded") / "data",
        # The worker moves money on the sandbox as `mover`, a client with every scope.
        "--auth-clients", "scraper:scraper-secret:orchestration:read,mover:mover-secret",
        "--metrics-listen", f"127.0.0.1:{free_port()}",
    )  # fmt: skip
    yield from serving(service)


def test_with_auth_on_metrics_need_a_read_token_or_the_private_metrics_address(guarded: FlowsProcess) -> None:
    assert httpx.get(f"{guarded.url}/metrics").status_code == 401
    samples = scrape(guarded.url, headers={"Authorization": f"Bearer {guarded.token('scraper', 'scraper-secret')}"})
    # Refused before routing, the first scrape has no route template.
    assert value(samples, "flows_http_request_duration_seconds_count", method="GET", route="unmatched", status="401") == 1
    private = guarded.flags[guarded.flags.index("--metrics-listen") + 1]
    samples = scrape(f"http://{private}")  # no token
    assert any(name.startswith("temporal_") for name, _ in samples)
    assert httpx.get(f"http://{private}/instances").status_code == 404  # metrics only
