"""The data directory: location, permissions, exclusive lock."""

from __future__ import annotations

import stat
import subprocess
import sys
from pathlib import Path

import pytest

from flows.datadir import DataDirLocked, default_data_dir, open_data_dir


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
             "import sys; from flows.datadir import open_data_dir, DataDirLocked\n"
             "try:\n    open_data_dir(sys.argv[1])\nexcept DataDirLocked as e:\n"
             "    print(e); sys.exit(3)",
             str(tmp_path)],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        held.close()
    assert probe.returncode == 3, probe.stderr
    assert str(tmp_path) in probe.stdout
    assert "pid" in probe.stdout
