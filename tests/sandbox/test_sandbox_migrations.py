"""The sandbox's tables have their own migration history, and an existing database moves to it
without loss.

Before the sandbox had a history of its own, the core's revision 0002 created its tables (kept
here as the fixture legacy_0002_sandbox.py) and the core's version table recorded it. Such a
database, with rows the sandbox wrote, must come out of `flows migrate` with every row as it was,
the core at its head and the sandbox's own version table at its head; a fresh database must get
the very same schema.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import legacy_0002_sandbox
import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sandbox_support import SandboxServer, balances
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection

from flows.composition import migrate_all
from flows.sandbox.app import create_sandbox_app
from flows.sandbox.tables import MIGRATIONS, metadata
from flows.storage.database import CORE_MIGRATIONS, Database, sqlalchemy_url

# Past 2^64: the amounts column must keep it exact through the migration.
BIG = 2**200
HEADS = {CORE_MIGRATIONS.version_table: CORE_MIGRATIONS.head, MIGRATIONS.version_table: MIGRATIONS.head}

NewDatabase = Callable[[], Awaitable[Database]]


@pytest.fixture(params=["sqlite", "postgres"])
async def new_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[NewDatabase]:
    """Fresh, empty databases on one backend, closed at the end of the test."""
    opened: list[Database] = []

    async def new() -> Database:
        name = f"migrations_{uuid.uuid4().hex[:12]}"
        if request.param == "sqlite":
            url = sqlalchemy_url(None, tmp_path / f"{name}.db")
        else:
            url = sqlalchemy_url(request.getfixturevalue("postgres_cluster").create_database(name), None)
        opened.append(Database(url))
        return opened[-1]

    yield new
    for database in opened:
        await database.close()


def _legacy_sandbox_tables(connection: Connection) -> None:
    with Operations.context(MigrationContext.configure(connection, opts={"render_as_batch": True})):
        legacy_0002_sandbox.upgrade()


async def legacy_layout(database: Database) -> None:
    """What earlier versions left: the core at 0004, the sandbox's tables made by its 0002,
    and no version table of the sandbox's own."""
    await database.migrate()  # 0001 to 0004; 0002 is empty now
    async with database.write() as connection:
        await connection.run_sync(_legacy_sandbox_tables)


async def write_as_the_sandbox_does(database: Database) -> None:
    """A ledger with a transaction and an idempotency key, a payment account and a payment,
    and the test hooks' recording of those requests: a row in every table of the sandbox."""
    app = create_sandbox_app(database, test_hooks=True)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:

        async def ok(method: str, path: str, **options: Any) -> dict[str, Any]:
            response = await client.request(method, path, **options)
            assert response.status_code in (200, 201, 204), response.text
            return response.json() if response.content else {}

        await ok("POST", "/api/ledger/v2/legacy", json={"metadata": {"team": "payments"}})
        await ok(
            "POST",
            "/api/ledger/v2/legacy/transactions",
            json={"postings": [{"source": "world", "destination": "users:1", "amount": BIG, "asset": "USD/2"}]},
            headers={"Idempotency-Key": "first"},
        )
        connectors = (await ok("GET", "/api/payments/connectors"))["data"]
        stripe = next(c["connectorID"] for c in connectors if c["provider"] == "STRIPE")
        common = {"connectorID": stripe, "createdAt": "2025-03-01T10:00:00Z"}
        account = (
            await ok(
                "POST",
                "/api/payments/accounts",
                json={**common, "reference": "acct_legacy", "accountName": "main", "type": "INTERNAL"},
            )
        )["data"]
        payment = {"reference": "py_legacy", "type": "PAY-IN", "amount": 1000, "asset": "USD/2", "scheme": "visa"}
        await ok(
            "POST",
            "/api/payments/payments",
            json={**common, **payment, "status": "SUCCEEDED", "destinationAccountID": account["id"]},
        )
        transfer = {"reference": "tr_legacy", "scheduledAt": "0001-01-01T00:00:00Z", "description": "legacy"}
        await ok(
            "POST",
            "/api/payments/transfer-initiations",
            json={
                **transfer,
                "sourceAccountID": "",
                "destinationAccountID": account["id"],
                "provider": "STRIPE",
                "type": "TRANSFER",
                "amount": 1000,
                "asset": "USD/2",
                "validated": True,
            },
        )


async def contents(database: Database) -> dict[str, list[dict[str, Any]]]:
    """Every row of every table of the sandbox, in primary-key order."""
    found = {}
    async with database.read() as reader:
        for table in metadata.sorted_tables:
            rows = await reader.execute(select(table).order_by(*table.primary_key.columns))
            found[table.name] = [dict(row) for row in rows.mappings()]
    return found


async def versions(database: Database) -> dict[str, str]:
    async with database.read() as reader:
        return {
            table: (await reader.execute(text(f"SELECT version_num FROM {table}"))).scalar_one()
            for table in HEADS
        }


def _describe(connection: Connection) -> dict[str, Any]:
    schema = inspect(connection)
    return {
        table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in schema.get_columns(table)],
            "primary key": schema.get_pk_constraint(table)["constrained_columns"],
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in schema.get_indexes(table)),
            "unique": sorted(tuple(u["column_names"]) for u in schema.get_unique_constraints(table)),
        }
        for table in sorted(schema.get_table_names())
        if not table.startswith("alembic_version")
    }


async def schema(database: Database) -> dict[str, Any]:
    async with database.engine.connect() as connection:
        return await connection.run_sync(_describe)


async def test_an_existing_database_keeps_every_sandbox_row(new_database: NewDatabase) -> None:
    database = await new_database()
    await legacy_layout(database)
    await write_as_the_sandbox_does(database)
    before = await contents(database)
    assert all(before.values()), {table: len(rows) for table, rows in before.items()}

    await migrate_all(database)

    assert await contents(database) == before
    assert await versions(database) == HEADS
    # And the sandbox serves them: the balance written before the migration, to the unit.
    await database.close()
    server = SandboxServer(database.url).start()
    try:
        assert balances(server.url, "legacy", "users:1") == {"USD/2": BIG}
    finally:
        server.stop()


async def test_a_fresh_database_gets_both_histories_and_the_former_schema(new_database: NewDatabase) -> None:
    fresh, legacy = await new_database(), await new_database()
    await migrate_all(fresh)
    await legacy_layout(legacy)
    await migrate_all(legacy)

    assert await versions(fresh) == HEADS
    assert await schema(fresh) == await schema(legacy)
    # Migrating again finds nothing to do.
    await migrate_all(fresh)
    assert await versions(fresh) == HEADS


async def test_the_core_history_knows_nothing_of_the_sandbox(new_database: NewDatabase) -> None:
    database = await new_database()
    await database.migrate()
    tables = await schema(database)
    assert tables and not [name for name in tables if name.startswith("sandbox_")]
