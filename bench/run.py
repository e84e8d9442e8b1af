"""Flows against its floors, measured side by side in one run:

    .venv/bin/python bench/run.py            # the figures of the README's table
    .venv/bin/python bench/run.py --quick    # fewer runs, shorter reads: while iterating
    .venv/bin/python bench/run.py --growth   # also: cost with 100,000 instances, 200 stages

Each figure of `flows serve` (embedded SQLite + dev server) is printed beside its floor, measured
in the same run on the same machine (bench/floors.py): the engine floor is a bare Temporal
workflow doing the same stage work on the same dev server; the HTTP floor is a bare Starlette
route on uvicorn with the same settings. Absolute figures move with the machine and its load;
the ratios are what the targets are about (docs/performance.md).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import growth
from harness import FlowsProcess, free_port, rss_mb, temporal_pid
from load import Pool, RawClient, Reads, concurrently, cpu_seconds, own_cpu_seconds, timed_ms, wrk

BENCH = Path(__file__).parent
NOOPS = {"name": "bench", "stages": [{"noop": {}}, {"noop": {}}, {"noop": {}}]}


def send_workflow(ledger: str) -> dict[str, Any]:
    account = {"id": "users:bench", "ledger": ledger}
    send = {
        "source": {"account": {"id": "world", "ledger": ledger}},
        "destination": {"account": account},
        "amount": {"amount": 100, "asset": "USD/2"},
    }
    return {"name": "bench-send", "stages": [{"send": send}, {"update": {"account": {**account, "metadata": {"paid": "yes"}}}}]}


@dataclass(frozen=True)
class Row:
    figure: str
    flows: float
    floor: float | None
    target: str
    passed: bool | None
    unit: str = ""

    def cells(self) -> list[str]:
        ratio = f"{self.flows / self.floor:.2f}" if self.floor else "—"
        floor = f"{self.floor:,.1f}{self.unit}" if self.floor is not None else "—"
        verdict = "—" if self.passed is None else ("yes" if self.passed else "NO")
        return [self.figure, f"{self.flows:,.1f}{self.unit}", floor, ratio, self.target, verdict]


def at_least(figure: str, flows: float, floor: float, ratio: float, unit: str = "") -> Row:
    return Row(figure, flows, floor, f"≥ {ratio} × floor", flows >= ratio * floor, unit)


def at_most(figure: str, flows: float, floor: float, ratio: float, unit: str = "") -> Row:
    return Row(figure, flows, floor, f"≤ {ratio} × floor", flows <= ratio * floor, unit)


def table(rows: list[Row]) -> str:
    lines = ["| figure | Flows | floor | ratio | target | pass |", "|---|---|---|---|---|---|"]
    return "\n".join(lines + ["| " + " | ".join(row.cells()) + " |" for row in rows])


def floor_process(kind: str, *arguments: str) -> dict[str, float]:
    command = [sys.executable, str(BENCH / "floors.py"), kind, *arguments]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"floor {kind} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


@dataclass(frozen=True)
class Runs:
    instances_per_s: float
    wait_p50_ms: float
    client_cpu_s: float
    server_cpu_s: float


async def flows_runs(service: FlowsProcess, pool: Pool, workflow_id: str, runs: int, concurrency: int, waits: int) -> Runs:
    """`runs` runWorkflow calls, `concurrency` at once, until every instance is terminated;
    then `waits` sequential runWorkflow?wait=true."""
    assert service.process is not None
    start = f"/workflows/{workflow_id}/instances"
    for _ in range(5):  # warm up
        await pool.json("POST", start + "?wait=true", {})
    running = f"/v2/instances?workflowID={workflow_id}&running=true&pageSize=1"
    server_before, client_before = cpu_seconds(service.process.pid), own_cpu_seconds()
    started = time.perf_counter()
    await concurrently(runs, concurrency, lambda: pool.json("POST", start, {}))
    while (await pool.json("GET", running))["cursor"]["data"]:
        await asyncio.sleep(0.05)
    rate = runs / (time.perf_counter() - started)
    client_cpu, server_cpu = own_cpu_seconds() - client_before, cpu_seconds(service.process.pid) - server_before
    samples = [await timed_ms(lambda: pool.json("POST", start + "?wait=true", {})) for _ in range(waits)]
    return Runs(rate, statistics.median(samples), client_cpu, server_cpu)


def best(reads: list[Reads]) -> Reads:
    return max(reads, key=lambda r: r.requests_per_s)


def best_runs(rounds: list[Runs]) -> Runs:
    """The best instances/s and the best p50 of the rounds (the CPU shares of the fastest)."""
    fastest = max(rounds, key=lambda r: r.instances_per_s)
    return Runs(fastest.instances_per_s, min(r.wait_p50_ms for r in rounds), fastest.client_cpu_s, fastest.server_cpu_s)


def best_floor(rounds: list[dict[str, float]]) -> dict[str, float]:
    return {"instances_per_s": max(r["instances_per_s"] for r in rounds), "wait_p50_ms": min(r["wait_p50_ms"] for r in rounds)}


async def measure(arguments: argparse.Namespace) -> tuple[list[Row], list[str]]:
    quick = arguments.quick
    runs, waits, seconds = (100, 20, 3) if quick else (300, 50, 6)
    send_runs = 60 if quick else 200
    notes = []
    # Flows and its floor take turns, `rounds` times, and each keeps its best: the machine's
    # load drifts during a run, and both sides meet it alike.
    rounds = range(arguments.rounds)
    root = Path(tempfile.mkdtemp(prefix="flows-bench-"))
    service = FlowsProcess(root / "data", *arguments.serve).start()
    floor_server: subprocess.Popen[bytes] | None = None
    try:
        assert service.process is not None
        pool = Pool(service.url, 100)
        client = RawClient("127.0.0.1", service.port)
        workflow_id = (await client.json("POST", "/workflows", NOOPS))["data"]["id"]
        engine_rounds, noop_rounds = [], []
        for _ in rounds:
            engine_rounds.append(floor_process("engine", "--runs", str(runs), "--concurrency", "100", "--waits", str(waits)))
            noop_rounds.append(await flows_runs(service, pool, workflow_id, runs, 100, waits))
        engine, noops = best_floor(engine_rounds), best_runs(noop_rounds)
        notes.append(
            f"runWorkflow load: client (raw asyncio sockets) {noops.client_cpu_s:.1f} s CPU, "
            f"flows serve {noops.server_cpu_s:.1f} s ({noops.client_cpu_s / noops.server_cpu_s:.0%})"
        )

        ledger = f"bench{uuid.uuid4().hex[:8]}"
        await client.json("POST", f"/api/ledger/v2/{ledger}")
        send_id = (await client.json("POST", "/workflows", send_workflow(ledger)))["data"]["id"]
        send_pool, send_rounds, send_floor_rounds = Pool(service.url, send_runs), [], []
        for _ in rounds:
            send_rounds.append(await flows_runs(service, send_pool, send_id, send_runs, send_runs, waits // 2))
            floor_arguments = ["--runs", str(send_runs), "--concurrency", str(send_runs), "--waits", str(waits // 2)]
            send_floor_rounds.append(floor_process("send", *floor_arguments, "--port", str(free_port())))
        sends, send_floor = best_runs(send_rounds), best_floor(send_floor_rounds)
        send_pool.close()

        instance_id = (await client.json("GET", f"/v2/instances?workflowID={workflow_id}&pageSize=1"))["cursor"]["data"][0]["id"]
        paths = {"instances": f"/instances/{instance_id}", "workflows": f"/workflows/{workflow_id}"}
        documents = {f"/{kind}/{{id}}": await client.json("GET", path) for kind, path in paths.items()}
        documents_file = root / "documents.json"
        documents_file.write_text(json.dumps(documents))
        floor_port = free_port()
        # The loop has nothing else to do meanwhile: blocking on subprocesses here is harmless.
        floor_server = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, str(BENCH / "floors.py"), "http", "--port", str(floor_port), "--documents", str(documents_file)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        await _until_up(f"127.0.0.1:{floor_port}")
        reads: dict[str, tuple[Reads, Reads]] = {}
        for kind, path in paths.items():
            flows_reads, floor_reads = [], []
            for _ in range(arguments.rounds):
                flows_reads.append(wrk(service.url + path, service.process.pid, seconds=seconds))
                floor_reads.append(wrk(f"http://127.0.0.1:{floor_port}{path}", floor_server.pid, seconds=seconds))
            reads[kind] = (best(flows_reads), best(floor_reads))
            flows_best = reads[kind][0]
            notes.append(
                f"GET /{kind}/{{id}} load: wrk {flows_best.client_cpu_s:.1f} s CPU, flows serve "
                f"{flows_best.server_cpu_s:.1f} s ({flows_best.client_cpu_s / flows_best.server_cpu_s:.0%})"
            )
        temporal = temporal_pid(service.data_dir)
        rss = rss_mb(service.process.pid)
        notes.append(f"RSS: flows serve {rss:.0f} MB" + (f", embedded Temporal apart: {rss_mb(temporal):.0f} MB" if temporal else ""))
        client.close()
        pool.close()
    finally:
        if floor_server is not None:
            floor_server.terminate()
            floor_server.wait()
        service.stop()

    rows = [
        at_least(f"instances/s, {runs} runs of 3 noop", noops.instances_per_s, engine["instances_per_s"], 0.75),
        at_most("runWorkflow?wait=true p50 (floor: start→result)", noops.wait_p50_ms, engine["wait_p50_ms"], 1.25, " ms"),
    ]
    for kind, (flows_reads, floor_reads) in reads.items():
        rows.append(at_least(f"GET /{kind}/{{id}} req/s (wrk -c50)", flows_reads.requests_per_s, floor_reads.requests_per_s, 0.6))
        rows.append(at_most(f"GET /{kind}/{{id}} p99", flows_reads.p99_ms, floor_reads.p99_ms, 3, " ms"))
    rows += [
        at_least(f"send+update instances/s, {send_runs} runs", sends.instances_per_s, send_floor["instances_per_s"], 0.75),
        Row("send+update wait=true p50", sends.wait_p50_ms, send_floor["wait_p50_ms"], "(shown)", None, " ms"),
        Row("RSS of flows serve, Temporal apart", rss, None, "≤ 150 MB", rss <= 150, " MB"),
    ]
    featured = await rss_with_features(runs)
    rows.append(Row("RSS, with traces and the metrics port on", featured, None, "(shown)", None, " MB"))
    return rows, notes


OPTIONAL_FEATURES = ("--otel-traces", "--otel-traces-exporter", "stdout", "--metrics-listen")


async def rss_with_features(runs: int) -> float:
    """RSS of a `flows serve` with the optional features on (traces to its log, a metrics port),
    after `runs` instances of 3 noop."""
    root = Path(tempfile.mkdtemp(prefix="flows-bench-"))
    service = FlowsProcess(root / "data", *OPTIONAL_FEATURES, f"127.0.0.1:{free_port()}").start()
    try:
        assert service.process is not None
        pool = Pool(service.url, 50)
        workflow_id = (await pool.json("POST", "/workflows", NOOPS))["data"]["id"]
        await concurrently(runs, 50, lambda: pool.json("POST", f"/workflows/{workflow_id}/instances?wait=true", {}))
        pool.close()
        return rss_mb(service.process.pid)
    finally:
        service.stop()


async def _until_up(address: str) -> None:
    host, port = address.split(":")
    for _ in range(200):
        try:
            _, writer = await asyncio.open_connection(host, int(port))
        except OSError:
            await asyncio.sleep(0.05)
            continue
        writer.close()
        return
    raise RuntimeError(f"nothing listens on {address}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer runs and shorter reads")
    parser.add_argument("--rounds", type=int, default=2, help="turns of Flows and floor per figure (each keeps its best)")
    parser.add_argument("--growth", action="store_true", help="also measure cost with 100,000 instances (SQLite, PostgreSQL)")
    parser.add_argument("--growth-only", action="store_true", help="only the growth figures")
    parser.add_argument("--serve", nargs=argparse.REMAINDER, default=[], help="extra flags for flows serve (last)")
    arguments = parser.parse_args()
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} (1, 5, 15 min), {os.cpu_count()} cores")
    if not arguments.growth_only:
        rows, notes = asyncio.run(measure(arguments))
        print(table(rows))
        for note in notes:
            print(f"- {note}")
    if arguments.growth or arguments.growth_only:
        print(growth.report(quick=arguments.quick))
    print(f"load after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")


if __name__ == "__main__":
    main()
