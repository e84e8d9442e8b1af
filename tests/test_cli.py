"""The `flows` command: version, migrate, a worker apart from the API, flags that fail loudly."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.service import FlowsProcess, free_port

FLOWS = [sys.executable, "-m", "flows.cli"]


def flows(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*FLOWS, *arguments], capture_output=True, text=True, timeout=60, env=env)


def test_version_prints_the_version() -> None:
    result = flows("version")
    assert result.returncode == 0
    assert result.stdout.startswith("Version: ")


def test_migrate_creates_the_schema_in_the_data_dir(tmp_path: Path) -> None:
    result = flows("migrate", "--data-dir", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "flows.db").exists()


@pytest.mark.parametrize(
    "flag",
    [
        ["--temporal-encryption-enabled"],
        ["--postgres-aws-enable-iam"],
        ["--auth-enabled"],
    ],
)
def test_unsupported_flags_refuse_to_start(tmp_path: Path, flag: list[str]) -> None:
    result = flows("serve", "--data-dir", str(tmp_path), "--listen", "127.0.0.1:0", *flag)
    assert result.returncode == 2
    assert "not supported" in result.stderr


def test_an_api_only_node_with_a_separate_worker_runs_instances(tmp_path: Path) -> None:
    api = FlowsProcess(tmp_path / "data", "--worker=false").start()
    worker = subprocess.Popen(
        [*FLOWS, "worker", "--data-dir", str(api.data_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        created = httpx.post(f"{api.url}/workflows", json={"stages": [{"noop": {}}, {"noop": {}}]})
        workflow_id = created.json()["data"]["id"]
        run = httpx.post(f"{api.url}/workflows/{workflow_id}/instances?wait=true", timeout=10)
        assert run.status_code == 201
        instance = run.json()["data"]
        assert instance["terminated"] is True
        assert [row["stage"] for row in instance["status"]] == [0, 1]
    finally:
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(30) == 0
        api.stop()


def test_serve_runs_on_postgresql_and_an_existing_temporal(
    tmp_path: Path, postgres_cluster  # noqa: F811  (session fixture from tests.support.postgres)
) -> None:
    temporal = subprocess.Popen(
        [
            _temporal_binary(), "server", "start-dev", "--headless", "--ip", "127.0.0.1",
            "--port", str(port := free_port()), "--http-port", str(free_port()),
            "--metrics-port", str(free_port()), "--log-level", "error",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    uri = postgres_cluster.create_database("flows_external")
    service = FlowsProcess(
        tmp_path / "data", "--postgres-uri", uri, "--temporal-address", f"127.0.0.1:{port}"
    )
    try:
        service.start()
        created = httpx.post(f"{service.url}/workflows", json={"stages": [{"noop": {}}]})
        workflow_id = created.json()["data"]["id"]
        run = httpx.post(f"{service.url}/workflows/{workflow_id}/instances?wait=true", timeout=10)
        assert run.json()["data"]["terminated"] is True
        assert not (service.data_dir / "temporal.pid").exists(), "no embedded Temporal was started"
    finally:
        service.stop()
        temporal.terminate()
        temporal.wait(30)


def _temporal_binary() -> str:
    from flows.engine.devserver import find_temporal_binary

    return str(find_temporal_binary())
