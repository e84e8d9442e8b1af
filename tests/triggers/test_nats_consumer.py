"""Events from NATS JetStream, as the stack deploys it (docs/events.md): one stream per stack
(created here, as the operator would), subjects `<stack>.<service>`, a durable consumer
`orchestration` shared by every consumer process, so each event is processed once across them,
including after a consumer is killed mid-stream (its unacked messages are redelivered)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from formance_sdk_python import SDK
from nats.js import api as js_api

from flows.triggers.cache import DEFAULT_TTL
from tests.api.helpers import create_workflow
from tests.conftest import Api
from tests.support.nats import NatsServer, jetstream, nats_server, publish  # noqa: F401  (a session fixture)
from tests.support.polling import eventually
from tests.support.service import FlowsProcess
from tests.triggers.test_trigger_firing import (
    committed,
    instance_ids,
    occurrences,
    unique_type,
)
from tests.triggers.test_trigger_firing import create_trigger as create_trigger_through_the_api

ACK_WAIT_S = 2.0


class Deployment:
    """One `flows serve` (PostgreSQL, embedded Temporal) and extra `flows worker` consumers."""

    def __init__(self, stack: str, serve: FlowsProcess, flags: list[str]) -> None:
        self.stack = stack
        self.serve = serve
        self.flags = flags
        self.api = Api("postgres", serve, SDK(server_url=serve.url))
        self.workers: list[subprocess.Popen[bytes]] = []

    def start_worker(self) -> subprocess.Popen[bytes]:
        log = (self.serve.data_dir.parent / f"worker-{len(self.workers)}.log").open("ab")
        process = subprocess.Popen(
            [sys.executable, "-m", "flows.cli", "worker", "--data-dir", str(self.serve.data_dir), *self.flags],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=os.environ.copy(),
        )
        log.close()
        self.workers.append(process)
        return process

    def stop(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        # A clean exit (not the harness's kill after its timeout) also stops the embedded Temporal.
        assert self.serve.stop() == 0, "flows serve did not shut down by itself"


def consumer_config(kind: str, stack: str) -> js_api.ConsumerConfig:
    config = js_api.ConsumerConfig(
        durable_name="orchestration",
        filter_subject=f"{stack}.ledger",
        ack_policy=js_api.AckPolicy.EXPLICIT,
        ack_wait=ACK_WAIT_S,
    )
    if kind == "operator-push":
        # As the operator deploys it: a push consumer with a deliver group.
        config.deliver_subject = f"{stack}-orchestration"
        config.deliver_group = "orchestration"
    return config


@pytest.fixture(scope="module", params=["pull", "operator-push"])
def deployment(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    postgres_cluster,
    nats_server: NatsServer,  # noqa: F811
) -> Iterator[Deployment]:
    stack = "s" + uuid.uuid4().hex[:8]

    async def provision(js: Any) -> None:
        # What the operator creates: the stack's stream and the orchestration's consumer.
        await js.add_stream(name=stack, subjects=[f"{stack}.*"])
        await js.add_consumer(stack, consumer_config(request.param, stack))

    asyncio.run(jetstream(nats_server.url, provision))
    uri = postgres_cluster.create_database("flows_" + stack)
    flags = ["--postgres-uri", uri, "--stack", stack, "--nats-url", nats_server.url, "--topics", f"{stack}.ledger"]
    serve = FlowsProcess(tmp_path_factory.mktemp("nats") / "data", *flags).start()
    deployment = Deployment(stack, serve, flags)
    try:
        yield deployment
    finally:
        deployment.stop()


def create_trigger(api: Api, workflow_id: str, event: str, **fields: Any) -> str:
    """A trigger every process of the deployment knows: the others see a new trigger within their
    trigger-type cache's time to live (flows/triggers/cache.py), so events sent sooner may miss it."""
    trigger_id = create_trigger_through_the_api(api, workflow_id, event, **fields)
    time.sleep(DEFAULT_TTL + 0.2)
    return trigger_id


def tagged(event_type: str, count: int) -> list[dict[str, Any]]:
    envelopes = []
    for number in range(count):
        envelope = committed(100 + number, f"users:{number}")
        envelope["type"] = event_type
        envelopes.append(envelope)
    return envelopes


def assert_once_each(api: Api, trigger_id: str, workflow_id: str, sent: list[dict[str, Any]]) -> None:
    def all_recorded() -> list[Any]:
        found = occurrences(api, trigger_id)
        return found if len(found) >= len(sent) else []

    found = eventually(all_recorded, timeout=60)
    time.sleep(ACK_WAIT_S * 2)  # any redelivery would have landed by now
    found = occurrences(api, trigger_id)
    destinations = sorted(o.event["payload"]["transactions"][0]["postings"][0]["destination"] for o in found)
    assert destinations == sorted(f"users:{n}" for n in range(len(sent)))
    assert all(o.error is None for o in found)
    assert sorted(instance_ids(api, workflow_id)) == sorted(o.workflow_instance_id for o in found)


def test_each_event_is_processed_once_across_two_consumers(deployment: Deployment, nats_server: NatsServer) -> None:  # noqa: F811
    deployment.start_worker()
    api = deployment.api
    workflow_id = create_workflow(api, [{"noop": {}}])
    event_type = unique_type()
    trigger_id = create_trigger(api, workflow_id, event_type, vars={"to": "event.transactions[0].postings[0].destination"})
    sent = tagged(event_type, 30)
    publish(nats_server.url, f"{deployment.stack}.ledger", sent)
    assert_once_each(api, trigger_id, workflow_id, sent)


def test_a_consumer_killed_mid_stream_loses_and_duplicates_nothing(deployment: Deployment, nats_server: NatsServer) -> None:  # noqa: F811
    victim = deployment.start_worker()
    time.sleep(3)  # let it bind and start pulling
    api = deployment.api
    workflow_id = create_workflow(api, [{"noop": {}}])
    event_type = unique_type()
    trigger_id = create_trigger(api, workflow_id, event_type)
    sent = tagged(event_type, 60)
    publish(nats_server.url, f"{deployment.stack}.ledger", sent)
    time.sleep(0.2)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert_once_each(api, trigger_id, workflow_id, sent)


def test_a_malformed_message_is_terminated_and_the_stream_goes_on(deployment: Deployment, nats_server: NatsServer) -> None:  # noqa: F811
    api = deployment.api
    workflow_id = create_workflow(api, [{"noop": {}}])
    event_type = unique_type()
    trigger_id = create_trigger(api, workflow_id, event_type)

    async def send(js: Any) -> None:
        await js.publish(f"{deployment.stack}.ledger", b"{not json")
        await js.publish(f"{deployment.stack}.ledger", json.dumps({"type": 3}).encode())

    asyncio.run(jetstream(nats_server.url, send))
    sent = tagged(event_type, 2)
    publish(nats_server.url, f"{deployment.stack}.ledger", sent)
    assert_once_each(api, trigger_id, workflow_id, sent)


def dead_letters(api: Api) -> list[dict[str, Any]]:
    response = httpx.get(f"{api.url}/api/orchestration/v2/events/dead-letters", params={"pageSize": 100})
    assert response.status_code == 200, response.text
    letters: list[dict[str, Any]] = response.json()["cursor"]["data"]
    return letters


def test_a_poison_message_is_dead_lettered_and_never_redelivered(deployment: Deployment, nats_server: NatsServer) -> None:  # noqa: F811
    api = deployment.api
    workflow_id = create_workflow(api, [{"noop": {}}])
    event_type = unique_type()
    trigger_id = create_trigger(api, workflow_id, event_type)
    typed = '{"type": "' + event_type + '", "payload": '
    poison = {
        str(uuid.uuid4()): b"{not json",
        str(uuid.uuid4()): (typed + "[" * 600 + "]" * 600 + "}").encode(),
        str(uuid.uuid4()): (typed + '{"s": "\\ud800"}}').encode(),
        str(uuid.uuid4()): (typed + '{"s": "a\\u0000"}}').encode(),
    }

    async def send(js: Any) -> None:
        for message_id, data in poison.items():
            await js.publish(f"{deployment.stack}.ledger", data, headers={"_watermill_message_uuid": message_id})

    asyncio.run(jetstream(nats_server.url, send))
    sent = tagged(event_type, 2)
    publish(nats_server.url, f"{deployment.stack}.ledger", sent)
    assert_once_each(api, trigger_id, workflow_id, sent)  # waits out any redelivery
    kept = [letter for letter in dead_letters(api) if letter["messageID"] in poison]
    assert sorted(letter["messageID"] for letter in kept) == sorted(poison)
    assert all(letter["source"] == "nats" and letter["reason"] for letter in kept)

    async def consumer(js: Any) -> Any:
        return await js.consumer_info(deployment.stack, "orchestration")

    info = asyncio.run(jetstream(nats_server.url, consumer))
    assert info.num_ack_pending == 0 and info.num_redelivered == 0
