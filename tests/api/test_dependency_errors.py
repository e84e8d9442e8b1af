"""A database the service cannot reach answers 503 in the envelope (retry later); any other
unexpected failure answers 500 in the envelope. Either is answered, not re-raised to the server
(which would log the traceback a second time)."""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import cast

import httpx
import pytest

from flows.api.app import create_app
from flows.api.tokens import TokenIssuer
from flows.application import build_application
from flows.engine.client import Engine
from flows.storage.database import Database, sqlalchemy_url
from flows.storage.repository import Repository

UNAVAILABLE = {
    "errorCode": "INTERNAL",
    "errorMessage": "a dependency of the service is unavailable, retry later",
}


def _unreachable_database(kind: str, tmp_path: Path) -> Database:
    if kind == "sqlite":
        # A directory where the database file should be: SQLite cannot open it.
        (tmp_path / "flows.db").mkdir()
        return Database(sqlalchemy_url(None, tmp_path / "flows.db"))
    # Nothing listens on port 1.
    return Database("postgresql+psycopg://flows@127.0.0.1:1/none?connect_timeout=2")


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
@pytest.mark.parametrize(
    "path", ["/instances/{id}", "/v2/instances/{id}", "/workflows/{id}", "/instances"]
)
async def test_reads_answer_503_when_the_database_is_unreachable(
    kind: str, path: str, tmp_path: Path
) -> None:
    database = _unreachable_database(kind, tmp_path)
    try:
        response = await _get(database, path.format(id=uuid.uuid4()))
        assert response.status_code == 503
        assert response.json() == UNAVAILABLE
    finally:
        await database.close()


async def test_an_unexpected_failure_answers_500_and_is_logged_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    database = Database(sqlalchemy_url(None, tmp_path / "flows.db"))
    await database.migrate()
    try:
        async with _client(database) as client:
            created = await client.post("/workflows", json={"stages": [{"noop": {}}]})
            workflow_id = created.json()["data"]["id"]
            with caplog.at_level(logging.ERROR):
                # Running reaches the engine, which this application lacks: a bug.
                response = await client.post(f"/workflows/{workflow_id}/instances")
        assert response.status_code == 500
        assert response.json() == {"errorCode": "INTERNAL", "errorMessage": "internal error"}
        logged = [record for record in caplog.records if record.exc_info]
        assert [record.getMessage() for record in logged] == [
            f"unexpected error during POST /workflows/{workflow_id}/instances"
        ]
    finally:
        await database.close()


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
async def test_the_healthcheck_answers_503_when_the_database_is_unreachable(
    kind: str, tmp_path: Path
) -> None:
    database = _unreachable_database(kind, tmp_path)
    try:
        response = await _get(database, "/_healthcheck")
        assert response.status_code == 503
        assert response.json() == {
            "errorCode": "INTERNAL",
            "errorMessage": "the database is unavailable, retry later",
        }
    finally:
        await database.close()


async def test_a_database_error_that_is_no_outage_answers_500(tmp_path: Path) -> None:
    # Reachable, but never migrated: "no such table" is a bug to look at, not a retry later.
    database = Database(sqlalchemy_url(None, tmp_path / "flows.db"))
    try:
        response = await _get(database, f"/instances/{uuid.uuid4()}")
        assert response.status_code == 500
        assert response.json() == {"errorCode": "INTERNAL", "errorMessage": "internal error"}
    finally:
        await database.close()


@contextlib.asynccontextmanager
async def _client(database: Database) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the real application; an exception it re-raised would fail the test."""
    # Reads never reach Temporal: no engine is needed to show what the database does.
    found = build_application(Repository(database), cast(Engine, None), version="test")
    app = create_app(found, TokenIssuer(b"k" * 32, {}, issuer="flows"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://flows") as client:
        yield client


async def _get(database: Database, path: str) -> httpx.Response:
    async with _client(database) as client:
        return await client.get(path)
