"""A migrated repository on a fresh database: SQLite file or PostgreSQL (private cluster)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flows.storage.database import Database, sqlalchemy_url
from flows.storage.repository import Repository


@pytest.fixture(params=["sqlite", "postgres"])
async def repository(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Repository]:
    if request.param == "sqlite":
        url = sqlalchemy_url(None, tmp_path / "flows.db")
    else:
        cluster = request.getfixturevalue("postgres_cluster")
        url = sqlalchemy_url(cluster.create_database(f"storage_{uuid.uuid4().hex[:12]}"), None)
    database = Database(url)
    await database.migrate()
    yield Repository(database)
    await database.close()
