"""The `flows` command: version, migrate, a worker apart from the API, flags that fail loudly."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.service import FlowsProcess

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
