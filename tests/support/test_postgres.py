"""The private PostgreSQL cluster used by the storage tests."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from .postgres import PostgresCluster, find_postgres_bin, require_postgres


@pytest.fixture(scope="module")
def cluster() -> Iterator[PostgresCluster]:
    with PostgresCluster(require_postgres()) as running:
        yield running


def test_find_postgres_bin_names_a_directory_with_the_tools() -> None:
    directory = find_postgres_bin()
    if directory is None:
        require_postgres()  # fails under CI=true, skips elsewhere
        return
    assert (directory / "initdb").is_file()
    assert (directory / "pg_ctl").is_file()


def test_cluster_answers_on_loopback(cluster: PostgresCluster) -> None:
    uri = cluster.uri()
    assert uri.startswith(f"postgres://postgres@127.0.0.1:{cluster.port}/postgres")
    assert uri.endswith("?sslmode=disable")
    with psycopg.connect(uri) as conn:
        assert conn.execute("select 1").fetchone() == (1,)


def test_create_database_returns_a_usable_uri(cluster: PostgresCluster) -> None:
    uri = cluster.create_database("flows_test")
    assert uri == cluster.uri("flows_test")
    with psycopg.connect(uri) as conn:
        assert conn.execute("select current_database()").fetchone() == ("flows_test",)


def test_stop_removes_the_cluster() -> None:
    cluster = PostgresCluster(require_postgres()).start()
    root, uri = cluster.root, cluster.uri()
    cluster.stop()
    assert not root.exists()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(uri, connect_timeout=2)
