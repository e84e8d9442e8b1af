"""A migrated repository on a fresh database: SQLite file or PostgreSQL (private cluster)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flows.storage.database import Database, sqlalchemy_url
from flows.storage.repository import Repository


def fresh_database_url(request: pytest.FixtureRequest, tmp_path: Path, name: str) -> str:
    """The URL of an empty database of the backend `request.param` names ("sqlite" or "postgres")."""
    if request.param == "sqlite":
        return sqlalchemy_url(None, tmp_path / "flows.db")
    cluster = request.getfixturevalue("postgres_cluster")
    return sqlalchemy_url(cluster.create_database(f"{name}_{uuid.uuid4().hex[:12]}"), None)


@pytest.fixture(params=["sqlite", "postgres"])
async def repository(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Repository]:
    database = Database(fresh_database_url(request, tmp_path, "storage"))
    await database.migrate()
    yield Repository(database)
    await database.close()
