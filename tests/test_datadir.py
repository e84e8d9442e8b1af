"""The data directory: location, permissions, exclusive lock."""

from __future__ import annotations

import logging
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from flows.datadir import DataDirLocked, DataDirNotOurs, default_data_dir, open_data_dir


def test_default_follows_xdg_data_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / "flows"


def test_default_without_xdg_is_under_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_data_dir() == tmp_path / ".local" / "share" / "flows"


def test_created_private_with_parents(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "flows"
    with open_data_dir(target) as data_dir:
        assert data_dir.path == target
        assert stat.S_IMODE(target.stat().st_mode) == 0o700
        assert (target / "flows.lock").exists()


def test_file_locations(tmp_path: Path) -> None:
    with open_data_dir(tmp_path) as d:
        assert d.database_path == tmp_path / "flows.db"
        assert d.temporal_db_path == tmp_path / "temporal.db"
        assert d.temporal_log_path == tmp_path / "temporal.log"
        assert d.temporal_pid_path == tmp_path / "temporal.pid"
        assert d.temporal_address_path == tmp_path / "temporal.address"
        assert d.signing_key_path == tmp_path / "auth.key"


def test_second_open_is_refused_until_closed(tmp_path: Path) -> None:
    first = open_data_dir(tmp_path)
    with pytest.raises(DataDirLocked, match="another flows serve is using"):
        open_data_dir(tmp_path)
    first.close()
    open_data_dir(tmp_path).close()


def test_lock_conflict_across_processes(tmp_path: Path) -> None:
    held = open_data_dir(tmp_path)
    try:
        probe = subprocess.run(
            [sys.executable, "-c",
             ("import sys; from flows.datadir import open_data_dir, DataDirLocked\n"
              "try:\n    open_data_dir(sys.argv[1])\nexcept DataDirLocked as e:\n"
              "    print(e); sys.exit(3)"),
             str(tmp_path)],
            check=False, capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        held.close()
    assert probe.returncode == 3, probe.stderr
    assert str(tmp_path) in probe.stdout
    assert "pid" in probe.stdout


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_an_existing_readable_dir_and_its_files_are_made_private(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    target = tmp_path / "flows"
    target.mkdir(mode=0o755)
    target.chmod(0o755)
    names = ["flows.db", "flows.db-wal", "flows.db-shm", "auth.key", "temporal.db", "temporal.log"]
    for name in names:
        (target / name).write_text("state")
        (target / name).chmod(0o644)
    (target / "temporal.address").write_text("127.0.0.1:1")
    (target / "temporal.address").chmod(0o400)  # already private: left as it is

    with caplog.at_level(logging.WARNING), open_data_dir(target):
        assert _mode(target) == 0o700
        assert {name: _mode(target / name) for name in names} == dict.fromkeys(names, 0o600)
        assert _mode(target / "temporal.address") == 0o400
    [logged] = [record.getMessage() for record in caplog.records]
    assert "tightened permissions" in logged and "auth.key 0644 → 0600" in logged

    caplog.clear()
    with caplog.at_level(logging.WARNING), open_data_dir(target):
        assert not caplog.records  # nothing to tighten the second time


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_a_dir_of_another_user_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "flows"
    target.mkdir(mode=0o700)
    os.chown(target, 4321, 4321)
    with pytest.raises(DataDirNotOurs, match="belongs to another user"):
        open_data_dir(target)
    assert not (target / "flows.lock").exists()
    assert _mode(target) == 0o700


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a directory to another user needs root")
def test_serve_on_a_dir_of_another_user_exits_2_with_one_line(tmp_path: Path) -> None:
    target = tmp_path / "flows"
    target.mkdir(mode=0o700)
    os.chown(target, 4321, 4321)
    served = subprocess.run(
        [sys.executable, "-m", "flows.cli", "serve", "--data-dir", str(target), "--listen", "127.0.0.1:0"],
        check=False, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert served.returncode == 2
    [line] = served.stderr.strip().splitlines()
    assert line.startswith("flows: ") and "belongs to another user" in line
