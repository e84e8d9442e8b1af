"""Supervising a child process: spawned with its output in a log file and its pid in a pidfile,
found again after a crash of ours (a stale process), terminated with a timeout, and restarted
with a backoff while it keeps dying. Nothing here knows which program the child runs."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

log = logging.getLogger(__name__)

POLL_INTERVAL = 0.05

Poll = Callable[[], "int | None"]
"""The exit status of a process, or None while it runs (`Popen.poll`)."""


def spawn(command: list[str], log_path: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start `command` in its own session, its output appended to `log_path` after a stamped line."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log_file:
        stamp = datetime.now(UTC).isoformat(timespec="seconds")
        log_file.write(f"--- {stamp} flows: {' '.join(command)}\n".encode())
        log_file.flush()
        # Output goes to the file, never to a pipe nobody reads (a full pipe stalls the child).
        # Its own session keeps a terminal's Ctrl-C from killing it before we are done with it.
        return subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=log_path.parent,
            env=env,
            start_new_session=True,
        )


def log_tail(path: Path, offset: int, chars: int) -> str:
    """The last `chars` characters written to `path` after `offset`."""
    try:
        with open(path, "rb") as log_file:
            log_file.seek(offset)
            text = log_file.read().decode(errors="replace")
    except OSError:
        return ""
    return text[-chars:].strip()


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except (FileNotFoundError, NotADirectoryError):
        return None
    return int(text) if text.isdigit() and int(text) > 0 else None


def write_atomic(path: Path, content: str) -> None:
    # A reader in another process must never see a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(content)
    os.replace(tmp, path)


def remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


async def terminate(pid: int, timeout: float, *, poll: Poll) -> None:
    """SIGTERM, wait up to `timeout`, then SIGKILL and wait for it to go."""
    if poll() is not None:
        return
    _signal(pid, signal.SIGTERM)
    if await _wait_exit(poll, timeout):
        return
    log.warning("process %s ignored SIGTERM for %g s, killing it", pid, timeout)
    _signal(pid, signal.SIGKILL)
    await _wait_exit(poll, timeout)


async def stop_stale(pidfile: Path, is_ours: Callable[[int], bool], timeout: float) -> list[int]:
    """Stop the processes a crashed predecessor left running: the pidfile's, and any other that
    `is_ours` recognises (the pidfile can be missing or stale). The pids that were stopped."""
    candidates: list[int] = []
    pid = read_pid(pidfile)
    if pid is not None and is_ours(pid):
        candidates.append(pid)
    candidates += [p for p in _all_pids() if p not in candidates and is_ours(p)]
    for stale in candidates:
        log.warning("stopping a stale process (pid %s) left by a previous run", stale)
        await terminate(stale, timeout, poll=functools.partial(exit_status, stale))
    return candidates


def exit_status(pid: int) -> int | None:
    """None while `pid` runs; 0 once it is gone (or a zombie, which no longer holds anything)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    # The state letter follows the command name, which is in parentheses and may contain any.
    state = stat.rpartition(")")[2].split()[0]
    return 0 if state in ("Z", "X") else None


def command_line(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def flag_value(argv: list[str], *names: str) -> str | None:
    """The value of the first of `names` in a command line, as `--name value` or `--name=value`."""
    for i, arg in enumerate(argv):
        if arg in names and i + 1 < len(argv):
            return argv[i + 1]
        for name in names:
            if arg.startswith(name + "="):
                return arg[len(name) + 1 :]
    return None


def working_dir(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def free_ports(count: int) -> list[int]:
    """Distinct free loopback ports: all sockets stay open until every port is chosen."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


class Backoff:
    """Pauses between restarts of a child that keeps dying: `first`, doubling up to `most`.

    A child that ran `stable_after` seconds since its last restart is restarted at once."""

    def __init__(self, first: float, most: float, stable_after: float) -> None:
        self.first, self.most, self.stable_after = first, most, stable_after
        self._pause = first
        self._restarted = time.monotonic()

    async def before_restart(self) -> None:
        """After the child died: wait, unless it had run long enough to count as stable."""
        if time.monotonic() - self._restarted >= self.stable_after:
            self._pause = self.first
        else:
            await self.after_failure()

    async def after_failure(self) -> None:
        """After a restart that failed: wait, longer each time."""
        await asyncio.sleep(self._pause)
        self._pause = min(self._pause * 2, self.most)

    @property
    def pause(self) -> float:
        """How long the next wait lasts."""
        return self._pause

    def restarted(self) -> None:
        self._restarted = time.monotonic()


async def _wait_exit(poll: Poll, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while poll() is None:
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_INTERVAL)
    return True


def _signal(pid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _all_pids() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
