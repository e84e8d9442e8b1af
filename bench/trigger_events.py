"""Benchmark of triggers end to end: HTTP event ingestion → trigger → instance started.

    .venv/bin/python bench/trigger_events.py

One `flows serve` (SQLite + embedded Temporal), a noop workflow and one trigger on a custom
event type with a filter and a variable. Prints:

* events/s: N events POSTed concurrently to /api/orchestration/events (distinct Message-Uuid)
  until N instances of the workflow are listed;
* p50/p95 event→instance-started: M events sent one after the other, each timed from its POST
  until its instance is listed by GET /instances?workflowID=… (polled every ~5 ms);
* for reference, the in-process filter matching figure of bench/trigger_filters.py.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
import trigger_filters
from harness import FlowsProcess, percentile

EVENT_TYPE = "BENCH_EVENT"
NOOP = {"name": "bench-trigger", "stages": [{"noop": {}}]}


def envelope(n: int) -> dict:
    return {
        "idempotency_key": "",
        "date": "2025-03-01T10:00:00Z",
        "app": "bench",
        "version": "v2",
        "type": EVENT_TYPE,
        "payload": {"amount": 100 + n, "asset": "USD/2", "reference": f"ref-{n}"},
    }


async def post_event(client: httpx.AsyncClient, n: int) -> None:
    response = await client.post("/api/orchestration/events", json=envelope(n), headers={"Message-Uuid": str(uuid.uuid4())})
    assert response.status_code == 204, response.text


async def listed(client: httpx.AsyncClient, workflow_id: str) -> int:
    response = await client.get("/instances", params={"workflowID": workflow_id})
    return len(response.json()["data"])


async def main(arguments: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="flows-bench-")) / "data"
    service = FlowsProcess(data_dir).start()
    try:
        limits = httpx.Limits(max_connections=arguments.events)
        async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=60) as client:
            workflow_id = (await client.post("/workflows", json=NOOP)).json()["data"]["id"]
            trigger = await client.post(
                "/triggers",
                json={
                    "event": EVENT_TYPE,
                    "workflowID": workflow_id,
                    "filter": 'event.amount > 50 && event.asset == "USD/2"',
                    "vars": {"reference": "event.reference"},
                },
            )
            assert trigger.status_code == 201, trigger.text
            for n in range(5):  # warm up
                await post_event(client, n)
            base = await listed(client, workflow_id)

            started = time.perf_counter()
            await asyncio.gather(*(post_event(client, n) for n in range(arguments.events)))
            while await listed(client, workflow_id) < base + arguments.events:
                await asyncio.sleep(0.02)
            rate = arguments.events / (time.perf_counter() - started)
            print(f"ingestion: {arguments.events} concurrent events -> {rate:.1f} events/s (all instances listed)")

            samples = []
            expected = base + arguments.events
            for n in range(arguments.sequential):
                expected += 1
                sent = time.perf_counter()
                await post_event(client, n)
                while await listed(client, workflow_id) < expected:
                    await asyncio.sleep(0.005)
                samples.append((time.perf_counter() - sent) * 1000)
            print(
                f"event->instance-started ({arguments.sequential} sequential): "
                f"p50 {statistics.median(samples):.0f} ms, p95 {percentile(samples, 0.95):.0f} ms"
            )
    finally:
        service.stop()
    print("matching (bench/trigger_filters.py): ", end="")
    trigger_filters.main()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--sequential", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
