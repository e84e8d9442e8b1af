"""Benchmark of money movement on the embedded setup, against the built-in sandbox stack.

    .venv/bin/python bench/send_instances.py

For a workflow of one account→account `send` and one `update` it prints instances/s from N
concurrent runWorkflow calls until every instance is terminated, and the p50/p95 of
runWorkflow?wait=true.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import uuid
from pathlib import Path

import httpx
from harness import FlowsProcess, percentile, throughput, wait_latencies


def workflow(ledger: str) -> dict:
    return {
        "name": "bench-send",
        "stages": [
            {
                "send": {
                    "source": {"account": {"id": "world", "ledger": ledger}},
                    "destination": {"account": {"id": "users:bench", "ledger": ledger}},
                    "amount": {"amount": 100, "asset": "USD/2"},
                }
            },
            {"update": {"account": {"id": "users:bench", "ledger": ledger, "metadata": {"paid": "yes"}}}},
        ],
    }


async def main(arguments: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="flows-bench-")) / "data"
    service = FlowsProcess(data_dir).start()
    try:
        limits = httpx.Limits(max_connections=arguments.concurrency)
        async with httpx.AsyncClient(base_url=service.url, limits=limits, timeout=60) as client:
            ledger = f"bench{uuid.uuid4().hex[:8]}"
            assert (await client.post(f"/api/ledger/v2/{ledger}")).status_code == 204
            workflow_id = (await client.post("/workflows", json=workflow(ledger))).json()["data"]["id"]
            await wait_latencies(client, workflow_id, 5)  # warm up
            rate = await throughput(client, workflow_id, arguments.instances)
            print(f"throughput: {arguments.instances} concurrent runs of send + update -> {rate:.1f} instances/s")
            waits = await wait_latencies(client, workflow_id, arguments.waits)
            print(
                f"runWorkflow?wait=true ({arguments.waits} sequential): "
                f"p50 {statistics.median(waits):.0f} ms, p95 {percentile(waits, 0.95):.0f} ms"
            )
    finally:
        service.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--instances", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--waits", type=int, default=50)
    asyncio.run(main(parser.parse_args()))
