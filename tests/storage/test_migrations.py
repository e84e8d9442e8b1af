"""The migrations build exactly the schema the code describes (flows/storage/tables.py), and
reach their heads from a process of their own (`Database.migrate_apart`)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, text

from flows.sandbox.tables import MIGRATIONS as SANDBOX_MIGRATIONS
from flows.storage.database import CORE_MIGRATIONS, MIGRATOR, UNREACHABLE, Database, MigrationFailed, Migrations, sqlalchemy_url
from flows.storage.repository import Repository
from flows.storage.tables import metadata
from tests.support.storage import fresh_database_url


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    core = set(metadata.tables)
    # The sandbox keeps its own tables, with their own history, in the same database.
    return [
        difference
        for difference in compare_metadata(context, metadata)
        if not (difference[0] in ("remove_table", "remove_index") and _table_of(difference) not in core)
    ]


def _table_of(difference: Any) -> str:
    item = difference[1]
    return str(getattr(item, "name", "") if difference[0] == "remove_table" else getattr(item.table, "name", ""))


async def test_migrated_schema_matches_the_table_definitions(repository: Repository) -> None:
    async with repository.db.write() as conn:
        differences = await conn.run_sync(_differences)
    assert differences == []


@pytest.mark.parametrize("migrations", [CORE_MIGRATIONS, SANDBOX_MIGRATIONS], ids=["core", "sandbox"])
def test_each_history_knows_its_head(migrations: Migrations) -> None:
    # A database at `head` is not migrated at all (no Alembic import): the constant must be true.
    config = Config()
    config.set_main_option("script_location", str(migrations.scripts))
    assert ScriptDirectory.from_config(config).get_heads() == [migrations.head]


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(fresh_database_url(request, tmp_path, "migrations"))
    yield database
    await database.close()


async def _revisions(database: Database, *histories: Migrations) -> list[str]:
    async with database.read() as reader:
        return [(await reader.execute(text(f"SELECT version_num FROM {m.version_table}"))).scalar_one() for m in histories]


async def test_migrating_apart_brings_each_history_to_its_head(empty_database: Database) -> None:
    await empty_database.migrate_apart([CORE_MIGRATIONS, SANDBOX_MIGRATIONS])
    assert await _revisions(empty_database, CORE_MIGRATIONS, SANDBOX_MIGRATIONS) == [CORE_MIGRATIONS.head, SANDBOX_MIGRATIONS.head]
    await empty_database.migrate_apart([CORE_MIGRATIONS, SANDBOX_MIGRATIONS])  # at head: nothing to do
    assert await _revisions(empty_database, CORE_MIGRATIONS) == [CORE_MIGRATIONS.head]


def test_a_process_that_migrates_apart_never_imports_alembic(tmp_path: Path) -> None:
    # The reason to migrate apart: Alembic's 10 MB would stay for the life of `flows serve`.
    script = f"""
import asyncio, sys
from flows.storage.database import CORE_MIGRATIONS, Database
async def main():
    database = Database({sqlalchemy_url(None, tmp_path / "flows.db")!r})
    await database.migrate_apart([CORE_MIGRATIONS])
    await database.close()
asyncio.run(main())
print(sorted(name for name in sys.modules if name.split(".")[0] in ("alembic", "mako")))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


async def test_a_failing_migration_apart_raises_with_the_childs_traceback(tmp_path: Path) -> None:
    scripts = tmp_path / "history"
    (scripts / "versions").mkdir(parents=True)
    (scripts / "env.py").write_text("raise RuntimeError('this history cannot run')\n")
    database = Database(sqlalchemy_url(None, tmp_path / "flows.db"))
    try:
        with pytest.raises(MigrationFailed) as failed:
            await database.migrate_apart([Migrations(scripts, head="0001")])
    finally:
        await database.close()
    assert "RuntimeError: this history cannot run" in str(failed.value)
    assert "Traceback" in str(failed.value)


def test_the_migrator_tells_an_unreachable_database_in_one_line() -> None:
    order = {
        "url": sqlalchemy_url("postgres://flows:pw@127.0.0.1:1/x", None),
        "histories": [{"scripts": str(CORE_MIGRATIONS.scripts), "head": CORE_MIGRATIONS.head, "version_table": "alembic_version"}],
    }
    done = subprocess.run([sys.executable, "-m", MIGRATOR], input=json.dumps(order), capture_output=True, text=True, timeout=60)
    assert done.returncode == UNREACHABLE, done.stderr
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert "pw" not in done.stderr
