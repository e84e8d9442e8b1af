"""A real `flows serve` process for tests: its own data dir, a free loopback port, real HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

START_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class FlowsProcess:
    """`flows serve` started with the given flags; restartable on the same data dir and port."""

    def __init__(self, data_dir: Path, *flags: str, env: dict[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.flags = flags
        self.env = env or {}
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FlowsProcess:
        command = [
            sys.executable, "-m", "flows.cli", "serve",
            "--listen", f"127.0.0.1:{self.port}",
            "--data-dir", str(self.data_dir),
            *self.flags,
        ]  # fmt: skip
        log = self.log_path.open("ab")
        environment = {**os.environ, **self.env}
        self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=environment)
        log.close()
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"flows serve exited early:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/_healthcheck", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"flows serve did not become ready:\n{self.log_tail()}")

    def token(self, client_id: str, secret: str) -> str:
        """An access token of the service's built-in issuer, for this client (`--auth-clients`)."""
        form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        response = httpx.post(f"{self.url}/api/auth/oauth/token", data=form, timeout=10)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    def log_tail(self, lines: int = 60) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        self.process = None
        return code

    def kill(self) -> None:
        """SIGKILL, as a crash: the embedded Temporal is left running, as after a real crash."""
        self.stop(signal.SIGKILL)


def serving(service: FlowsProcess) -> Iterator[FlowsProcess]:
    """For a fixture, `yield from serving(FlowsProcess(...))`: the service started, and stopped
    once the fixture's users are done."""
    service.start()
    try:
        yield service
    finally:
        service.stop()


class WorkerProcess:
    """`flows worker` with the given flags, logging to `<root>/worker.log`; restartable.

    Its data dir is `data_dir` (a `flows serve`'s, to share its SQLite database and sandbox) or
    one of its own under `root` (PostgreSQL)."""

    def __init__(self, root: Path, flags: list[str], data_dir: Path | None = None) -> None:
        self.root = root
        self.flags = flags
        self.data_dir = data_dir or root / "data"
        self.log_path = root / "worker.log"
        self.process: subprocess.Popen[bytes] | None = None
        self._seen = 0

    def start(self) -> WorkerProcess:
        self.root.mkdir(parents=True, exist_ok=True)
        self._seen = self._polling_lines()
        with self.log_path.open("ab") as log:
            command = [sys.executable, "-m", "flows.cli", "worker", "--data-dir", str(self.data_dir), *self.flags]
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=os.environ.copy())
        return self

    def wait_polling(self, timeout: float = 90) -> None:
        """Until this start's "worker polling" line (the log keeps those of earlier starts)."""
        deadline = time.monotonic() + timeout
        while self._polling_lines() <= self._seen:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"flows worker exited early:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"flows worker did not start polling:\n{self.log_tail()}")
            time.sleep(0.1)

    def log_tail(self, characters: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-characters:] if self.log_path.exists() else ""

    def _polling_lines(self) -> int:
        return self.log_tail(10**9).count("worker polling")

    def kill(self) -> None:
        """SIGKILL, as a crash."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout: float = 30) -> int | None:
        """SIGTERM and wait; the exit status (None if it was not running)."""
        if self.process is None:
            return None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode
