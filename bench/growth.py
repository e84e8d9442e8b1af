"""How the cost of reads grows with the data, and of bookkeeping with the stages.

Reads: the same repository calls the API makes (flows.storage.repository), timed on a small
database, just big enough that every page is full (16 workflows, 1,600 instances), then on one
of 1,000 workflows and 100,000 instances ("grown"), on SQLite and on PostgreSQL. Both have the
same shape: 100 instances per workflow, three stage rows each, 1 % of them running, so each
read returns as many rows on both and only the size of the tables differs. The rows are
written straight into the tables, as the worker would have left them.

Bookkeeping: a workflow of 200 `noop` stages is run on a `flows serve`, and its Temporal history
tells how many RecordProgress writes (local activities) it made, beside the API's one insert.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from harness import FlowsProcess
from load import RawClient
from postgres import postgres
from sqlalchemy import insert, text
from temporalio.client import Client

from flows.datadir import DataDir
from flows.storage.database import Database, sqlalchemy_url
from flows.storage.repository import Repository, instances_listing, running_ids
from flows.storage.tables import workflow_instance_stage_statuses, workflow_instances, workflows

GROWN = (1_000, 100_000)
SMALL = (16, 1_600)
STAGES_PER_INSTANCE = 3
RUNNING_EVERY = 100
CHUNK = 10_000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
TARGET = 1.5


def _rows(workflow_count: int, instance_count: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    config = {"name": "grown", "stages": [{"noop": {}}] * STAGES_PER_INSTANCE}
    flows = [
        {"id": f"w{n:07d}", "config": config, "created_at": EPOCH + timedelta(seconds=n), "updated_at": EPOCH, "deleted_at": None}
        for n in range(workflow_count)
    ]
    instances, stages = [], []
    for n in range(instance_count):
        created = EPOCH + timedelta(seconds=workflow_count + n)
        running = n % RUNNING_EVERY == RUNNING_EVERY - 1
        instances.append(
            {
                "id": f"i{n:09d}",
                "workflow_id": flows[n % workflow_count]["id"],
                "created_at": created,
                "updated_at": created,
                "terminated": not running,
                "terminated_at": None if running else created,
                "error": None,
            }
        )
        for stage in range(STAGES_PER_INSTANCE):
            finished = None if running and stage == STAGES_PER_INSTANCE - 1 else created
            stages.append(
                {
                    "instance_id": f"i{n:09d}",
                    "stage": stage,
                    "temporal_run_id": "run",
                    "started_at": created,
                    "terminated_at": finished,
                    "error": None,
                    "name": "NoOp",
                    "input": {},
                }
            )
    return flows, instances, stages


async def seed(database: Database, workflow_count: int, instance_count: int) -> None:
    await database.migrate()
    tables = (workflows, workflow_instances, workflow_instance_stage_statuses)
    for table, rows in zip(tables, _rows(workflow_count, instance_count), strict=True):
        for start in range(0, len(rows), CHUNK):
            async with database.write() as conn:
                await conn.execute(insert(table), rows[start : start + CHUNK])
    if not database.is_sqlite:
        # As autovacuum would after a bulk load: statistics and visibility map up to date.
        async with database.engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))


def _reads(repository: Repository, workflow_count: int, instance_count: int) -> dict[str, Callable[[int], Awaitable[Any]]]:
    """What the API asks the repository, by figure; `n` picks which row."""

    def instance(n: int) -> str:
        return f"i{(n * 7919) % instance_count:09d}"

    def workflow(n: int) -> str:
        return f"w{(n * 7919) % workflow_count:07d}"

    return {
        "GET /instances/{id}": lambda n: repository.get_instance(instance(n)),
        "GET /workflows/{id}": lambda n: repository.get_workflow(workflow(n)),
        "v2 /instances page": lambda n: repository.list_instances("", False, 0, 15),
        "v2 /instances?workflowID page": lambda n: repository.list_instances(workflow(n), False, 0, 15),
        "v2 /instances?running=true page": lambda n: repository.list_instances("", True, 0, 15),
        "/instances?workflowID&running=true": lambda n: repository.list_instances(workflow(n), True, 0, None),
        "v2 /workflows page": lambda n: repository.list_workflows(0, 15),
    }


async def _timings(database: Database, sizes: tuple[int, int], iterations: int) -> dict[str, float]:
    repository = Repository(database)
    timings = {}
    for figure, read in _reads(repository, *sizes).items():
        for n in range(20):  # warm up: compiled statements, caches, pool
            await read(n)
        samples = []
        for n in range(iterations):
            started = time.perf_counter()
            await read(n)
            samples.append((time.perf_counter() - started) * 1000)
        timings[figure] = statistics.median(samples)
    return timings


ROUNDS = 3


async def _backend(name: str, url_for: Callable[[str], Awaitable[str]], iterations: int) -> tuple[list[str], list[str]]:
    """The table's rows of a backend, and the notes: seeding time, query plans. The two
    databases are timed in turns, ROUNDS times, and each figure keeps its best round: the
    machine's load drifts, and both sides meet it alike."""
    databases = {label: Database(await url_for(label)) for label in ("small", "grown")}
    try:
        started = time.perf_counter()
        for label, sizes in (("small", SMALL), ("grown", GROWN)):
            await seed(databases[label], *sizes)
        seeded = time.perf_counter() - started
        best: dict[str, dict[str, float]] = {"small": {}, "grown": {}}
        for _ in range(ROUNDS):
            for label, sizes in (("small", SMALL), ("grown", GROWN)):
                for figure, ms in (await _timings(databases[label], sizes, iterations)).items():
                    best[label][figure] = min(ms, best[label].get(figure, ms))
        plans = await explain(databases["grown"])
    finally:
        for database in databases.values():
            await database.close()
    notes = [f"{name}: seeded {GROWN[1]:,} instances and {GROWN[0]:,} workflows in {seeded:.0f} s"]
    notes += [f"plan on {name}, {query}: {plan}" for query, plan in plans.items()]
    lines = []
    for figure, small in best["small"].items():
        grown = best["grown"][figure]
        verdict = "yes" if grown <= TARGET * small else "NO"
        lines.append(f"| {name} | {figure} | {small:.3f} ms | {grown:.3f} ms | {grown / small:.2f} | ≤ {TARGET} | {verdict} |")
    return lines, notes


async def explain(database: Database) -> dict[str, str]:
    """The plans of the repository's listings, one line each: none may scan every instance."""
    prefix = "EXPLAIN QUERY PLAN " if database.is_sqlite else "EXPLAIN "
    queries = {
        "page": instances_listing("", False).limit(16),
        "workflow page": instances_listing("w0000001", False).limit(16),
        "running page": instances_listing("", True).limit(16),
        "workflow running": instances_listing("w0000001", True),
        "running ids": running_ids(),
    }
    plans = {}
    async with database.engine.connect() as conn:
        for name, query in queries.items():
            sql = str(query.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
            rows = (await conn.execute(text(prefix + sql))).all()
            plans[name] = " / ".join(str(row[-1]).strip() for row in rows if "Cache" not in str(row[-1]))
    return plans


async def read_growth(iterations: int) -> list[str]:
    root = Path(tempfile.mkdtemp(prefix="flows-growth-"))

    async def sqlite_url(label: str) -> str:
        return sqlalchemy_url(None, root / f"{label}.db")

    lines, notes = await _backend("SQLite", sqlite_url, iterations)
    with postgres() as uri:

        async def postgres_url(label: str) -> str:
            admin = Database(sqlalchemy_url(uri, None))
            try:
                async with admin.engine.connect() as conn:
                    await conn.execution_options(isolation_level="AUTOCOMMIT")
                    await conn.execute(text(f"CREATE DATABASE {label}"))
            finally:
                await admin.close()
            return sqlalchemy_url(uri.replace("/postgres?", f"/{label}?"), None)

        pg_lines, pg_notes = await _backend("PostgreSQL", postgres_url, iterations)
    return lines + pg_lines + [""] + [f"- {note}" for note in notes + pg_notes]


async def bookkeeping_writes(stage_counts: tuple[int, ...] = (3, 200)) -> list[str]:
    """Writes per instance for workflows of `noop` stages: RecordProgress local activities in the
    Temporal history, plus the API's insert of the instance row."""
    data_dir = Path(tempfile.mkdtemp(prefix="flows-growth-")) / "data"
    service = FlowsProcess(data_dir).start()
    lines = []
    try:
        client = RawClient("127.0.0.1", service.port)
        address = DataDir.unlocked(data_dir).temporal_address_path.read_text().strip()
        temporal = await Client.connect(address)
        for count in stage_counts:
            workflow = {"name": f"stages-{count}", "stages": [{"noop": {}}] * count}
            workflow_id = (await client.json("POST", "/workflows", workflow))["data"]["id"]
            instance = (await client.json("POST", f"/workflows/{workflow_id}/instances?wait=true", {}))["data"]
            assert instance["terminated"], json.dumps(instance)[:300]
            history = await temporal.get_workflow_handle(instance["id"]).fetch_history()
            records = sum(1 for event in history.events if event.HasField("marker_recorded_event_attributes"))
            writes = records + 1
            lines.append(
                f"| {count} noop stages | {records} RecordProgress + 1 insert = {writes} writes | {writes / count:.3f} per stage | "
                f"{len(history.events)} history events |"
            )
        client.close()
    finally:
        service.stop()
    return lines


def report(quick: bool = False) -> str:
    reads = asyncio.run(read_growth(100 if quick else 400))
    writes = asyncio.run(bookkeeping_writes())
    head = [
        "",
        "| backend | read | 1,600 instances | 100,000 instances | ratio | target | pass |",
        "|---|---|---|---|---|---|---|",
    ]
    bookkeeping = ["", "| workflow | bookkeeping writes | per stage | Temporal history |", "|---|---|---|---|"]
    return "\n".join(head + reads + bookkeeping + writes)
