"""The migrations build exactly the schema the code describes (flows/storage/tables.py)."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from flows.sandbox.tables import MIGRATIONS as SANDBOX_MIGRATIONS
from flows.storage.database import CORE_MIGRATIONS, Migrations
from flows.storage.repository import Repository
from flows.storage.tables import metadata


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
