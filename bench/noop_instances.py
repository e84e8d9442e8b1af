"""Benchmark of the embedded setup (SQLite + Temporal dev server, one `flows serve` process).

    .venv/bin/python bench/noop_instances.py

For a workflow of three `noop` stages it prints: instances/s from N concurrent runWorkflow
calls until every instance is terminated; p50/p95 of runWorkflow?wait=true; p50/p99 of
GET /instances/{id} under 50 concurrent clients; RSS of the `flows serve` process (Temporal
runs in its own process and is reported apart).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

import httpx
from harness import (
    FlowsProcess,
    percentile,
    read_latencies,
    rss_mb,
    temporal_pid,
    throughput,
    wait_latencies,
)

NOOPS = {"name": "bench", "stages": [{"noop": {}}, {"noop": {}}, {"noop": {}}]}


async def main(arguments: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="flows-bench-")) / "data"
    service = FlowsProcess(data_dir).start()
    try:
        assert service.process is not None
        limits = httpx.Limits(max_connections=arguments.concurrency)
        async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=60) as client:
            workflow_id = (await client.post("/workflows", json=NOOPS)).json()["data"]["id"]
            await wait_latencies(client, workflow_id, 10)  # warm up
            rate = await throughput(client, workflow_id, arguments.instances)
            print(f"throughput: {arguments.instances} concurrent runs of 3 noop stages -> {rate:.1f} instances/s")
            waits = await wait_latencies(client, workflow_id, arguments.waits)
            print(
                f"runWorkflow?wait=true ({arguments.waits} sequential): "
                f"p50 {statistics.median(waits):.0f} ms, p95 {percentile(waits, 0.95):.0f} ms"
            )
            listed = await client.get("/instances", params={"workflowID": workflow_id})
            ids = [item["id"] for item in listed.json()["data"]]
            reads = await read_latencies(service.url, ids, arguments.reads)
            print(
                f"GET /instances/{{id}} ({arguments.reads} requests, 50 clients): "
                f"p50 {statistics.median(reads):.1f} ms, p99 {percentile(reads, 0.99):.1f} ms"
            )
        temporal = temporal_pid(data_dir)
        print(f"RSS: flows serve {rss_mb(service.process.pid):.0f} MB", end="")
        print(f", embedded Temporal {rss_mb(temporal):.0f} MB" if temporal else "")
    finally:
        service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=300)
    parser.add_argument("--waits", type=int, default=100)
    parser.add_argument("--reads", type=int, default=5000)
    asyncio.run(main(parser.parse_args()))
