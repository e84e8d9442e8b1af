"""Scale-out as docs/deploy.md describes it: one PostgreSQL, one Temporal server of its own, NATS
JetStream, two API nodes (`flows serve --worker=false`) and three `flows worker` processes, all on
loopback. Instances started through both API nodes and trigger events from NATS all end, each
stage runs once and money moves once, though a worker and an API node are killed (SIGKILL) while
they run, and restarted."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from flows.engine.devserver import find_temporal_binary
from flows.triggers.cache import DEFAULT_TTL
from tests.support.nats import NatsServer, jetstream, nats_server, publish  # noqa: F401  (a session fixture)
from tests.support.polling import eventually
from tests.support.service import FlowsProcess, WorkerProcess, free_port
from tests.support.stack import new_ledger
from tests.triggers.test_nats_consumer import consumer_config, tagged

INSTANCES = 500
EVENTS = 200
NOOPS = [{"noop": {}}, {"noop": {}}, {"noop": {}}]


def send_stages(ledger: str) -> list[dict[str, Any]]:
    send = {
        "source": {"account": {"id": "world", "ledger": ledger}},
        "destination": {"account": {"id": "users:${n}", "ledger": ledger}},
        "amount": {"amount": "${amount}", "asset": "USD/2"},
        "metadata": {"run": "${n}"},
    }
    return [{"send": send}, {"noop": {}}]


class TemporalServer:
    """The Temporal dev server started on its own, as a shared cluster stands for."""

    def __init__(self, root: Path) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        log = (root / "temporal.log").open("ab")
        self.process = subprocess.Popen(
            [
                str(find_temporal_binary()), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
                "--port", str(self.port), "--http-port", str(free_port()), "--metrics-port", str(free_port()),
                "--db-filename", str(root / "temporal.db"), "--log-level", "error",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


@dataclass
class Deployment:
    stack: str
    nats_url: str
    apis: list[FlowsProcess]
    workers: list[WorkerProcess]
    temporal: TemporalServer
    started: dict[str, str] = field(default_factory=dict)
    """Instance id by idempotency key, as the API nodes answered the runs."""


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, postgres_cluster, nats_server: NatsServer) -> Iterator[Deployment]:  # noqa: F811
    root = tmp_path_factory.mktemp("scale-out")
    stack = "s" + uuid.uuid4().hex[:8]

    async def provision(js: Any) -> None:
        await js.add_stream(name=stack, subjects=[f"{stack}.*"])
        await js.add_consumer(stack, consumer_config("pull", stack))

    asyncio.run(jetstream(nats_server.url, provision))
    temporal = TemporalServer(root)
    shared = ["--postgres-uri", postgres_cluster.create_database("flows_" + stack), "--temporal-address", temporal.address]
    apis = [FlowsProcess(root / f"api-{n}", "--worker=false", *shared) for n in range(2)]
    workers: list[WorkerProcess] = []
    try:
        for api in apis:
            api.start()
        # The workers move money on the sandbox the first API node serves, and consume the stack's events.
        events = ["--stack", stack, "--nats-url", nats_server.url, "--topics", f"{stack}.ledger"]
        workers = [WorkerProcess(root / f"worker-{n}", [*shared, *events, "--stack-url", apis[0].url]).start() for n in range(3)]
        for worker in workers:
            worker.wait_polling()
        yield Deployment(stack, nats_server.url, apis, workers, temporal)
    finally:
        for worker in workers:
            worker.stop()
        for api in apis:
            api.stop()
        temporal.stop()


def _create(url: str, path: str, body: dict[str, Any]) -> str:
    response = httpx.post(f"{url}{path}", json=body, timeout=30)
    assert response.status_code in (200, 201), response.text
    return str(response.json()["data"]["id"])


async def _start_all(deployment: Deployment, runs: list[tuple[str, str, dict[str, str]]], started: threading.Event) -> None:
    """Run each (key, workflow, variables) through the API nodes in turn; a run whose node fails is
    retried on the other with the same Idempotency-Key, as a client behind a load balancer would."""
    limit = asyncio.Semaphore(16)

    async def one(client: httpx.AsyncClient, number: int, key: str, workflow_id: str, variables: dict[str, str]) -> None:
        async with limit:
            for attempt in range(200):
                api = deployment.apis[(number + attempt) % 2]
                try:
                    response = await client.post(
                        f"{api.url}/workflows/{workflow_id}/instances", json=variables, headers={"Idempotency-Key": key}
                    )
                except httpx.TransportError:
                    await asyncio.sleep(0.2)
                    continue
                if response.status_code == 201:
                    deployment.started[key] = response.json()["data"]["id"]
                    if len(deployment.started) >= len(runs) // 3:
                        started.set()
                    return
                assert response.status_code == 503, response.text
                await asyncio.sleep(0.2)
            raise AssertionError(f"run {key} never started")

    async with httpx.AsyncClient(timeout=30) as client:
        await asyncio.gather(*(one(client, number, *run) for number, run in enumerate(runs)))


def _pages(url: str, path: str, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"pageSize": 100, **params}
    while True:
        response = httpx.get(f"{url}{path}", params=query, timeout=30)
        assert response.status_code == 200, response.text
        cursor = response.json()["cursor"]
        items.extend(cursor["data"])
        if not cursor.get("hasMore"):
            return items
        query = {"cursor": cursor["next"]}


def _running(url: str, workflow_ids: list[str]) -> int:
    return sum(len(_pages(url, "/v2/instances", workflowID=workflow_id, running="true")) for workflow_id in workflow_ids)


def _assert_ran_once(url: str, key: str, instance_id: str) -> None:
    history = httpx.get(f"{url}/instances/{instance_id}/history", timeout=30).json()["data"]
    assert [entry["name"] for entry in history] == (["RunSend", "RunNoop"] if key.startswith("send") else ["RunNoop"] * 3)
    assert all(entry["terminated"] and "error" not in entry for entry in history)
    if key.startswith("send"):
        calls = httpx.get(f"{url}/instances/{instance_id}/stages/0/history", timeout=30).json()["data"]
        assert [call["name"] for call in calls] == ["CreateTransaction"]


def test_a_deployment_of_many_processes_loses_and_duplicates_nothing_through_crashes(deployment: Deployment) -> None:
    url = deployment.apis[0].url
    ledger = new_ledger(url, "scale")
    noops = _create(url, "/workflows", {"stages": NOOPS})
    sends = _create(url, "/workflows", {"stages": send_stages(ledger)})
    fired = _create(url, "/workflows", {"stages": [{"noop": {}}]})
    event_type = "SCALE_OUT_" + uuid.uuid4().hex[:8].upper()
    to = "event.transactions[0].postings[0].destination"
    trigger_id = _create(url, "/triggers", {"event": event_type, "workflowID": fired, "vars": {"to": to}})
    time.sleep(DEFAULT_TTL + 0.2)  # every worker now knows the trigger

    runs: list[tuple[str, str, dict[str, str]]] = []
    for number in range(INSTANCES):
        if number % 2:
            runs.append((f"send-{number}", sends, {"n": str(number), "amount": str(number + 1)}))
        else:
            runs.append((f"noop-{number}", noops, {}))
    a_third_started = threading.Event()
    starter = threading.Thread(target=lambda: asyncio.run(_start_all(deployment, runs, a_third_started)))
    starter.start()
    publish(deployment.nats_url, f"{deployment.stack}.ledger", tagged(event_type, EVENTS))

    # Mid-run: a worker and an API node die without warning, then come back.
    assert a_third_started.wait(120), "the runs did not get going"
    deployment.workers[0].kill()
    deployment.apis[1].kill()
    time.sleep(2)
    deployment.apis[1].start()
    deployment.workers[0].start().wait_polling()
    starter.join(300)
    assert not starter.is_alive() and len(deployment.started) == INSTANCES

    # Every instance ends, without error.
    eventually(lambda: _running(url, [noops, sends, fired]) == 0, timeout=240, step=1)
    for workflow_id, expected in ((noops, INSTANCES // 2), (sends, INSTANCES // 2), (fired, EVENTS)):
        instances = _pages(url, "/v2/instances", workflowID=workflow_id)
        assert len(instances) == expected
        assert [item for item in instances if item.get("error") or not item["terminated"]] == []
    assert sorted(deployment.started.values()) == sorted(
        item["id"] for workflow_id in (noops, sends) for item in _pages(url, "/v2/instances", workflowID=workflow_id)
    )

    # Each stage ran once: one history entry per stage, one ledger call per send.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda started: _assert_ran_once(url, *started), deployment.started.items()))

    # Each event made exactly one occurrence, and each occurrence its instance.
    occurrences = _pages(url, f"/v2/triggers/{trigger_id}/occurrences")
    destinations = sorted(o["event"]["payload"]["transactions"][0]["postings"][0]["destination"] for o in occurrences)
    assert destinations == sorted(f"users:{n}" for n in range(EVENTS))
    assert all(o.get("workflowInstanceID") and not o.get("error") for o in occurrences)

    # Money moved once per send, exactly.
    transactions = _pages(url, f"/api/ledger/v2/{ledger}/transactions")
    assert sorted(int(t["metadata"]["run"]) for t in transactions) == list(range(1, INSTANCES, 2))

    def balance(number: int) -> dict[str, int]:
        return httpx.get(f"{url}/api/ledger/{ledger}/accounts/users:{number}", timeout=30).json()["data"]["balances"]

    with ThreadPoolExecutor(8) as pool:
        sent = list(range(1, INSTANCES, 2))
        assert list(pool.map(balance, sent)) == [{"USD/2": number + 1} for number in sent]
