"""What the benchmarks share: a `flows serve` of their own, free ports, RSS, percentiles."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from flows.datadir import DataDir

START_TIMEOUT_S = 60


class FlowsProcess:
    """`flows serve` on a free loopback port and its own data dir, output in a log beside it."""

    def __init__(self, data_dir: Path, *extra: str) -> None:
        self.data_dir = data_dir
        self.extra = list(extra)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FlowsProcess:
        command = [
            sys.executable, "-m", "flows.cli", "serve",
            "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir), *self.extra,
        ]  # fmt: skip
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"flows serve exited early, see {self.log_path}")
            try:
                if httpx.get(f"{self.url}/_healthcheck", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"flows serve did not become ready, see {self.log_path}")

    def stop(self, timeout: float = 30) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.process = None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def temporal_pid(data_dir: Path) -> int | None:
    pidfile = DataDir.unlocked(data_dir).temporal_pid_path
    return int(pidfile.read_text().split()[0]) if pidfile.exists() else None


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
