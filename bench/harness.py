"""What the benchmarks share: a `flows serve` of their own, load loops and percentiles."""

from __future__ import annotations

import asyncio
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

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = data_dir.parent / f"{data_dir.name}-serve.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> FlowsProcess:
        command = [
            sys.executable, "-m", "flows.cli", "serve",
            "--listen", f"127.0.0.1:{self.port}", "--data-dir", str(self.data_dir),
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


def _free_port() -> int:
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


async def throughput(client: httpx.AsyncClient, workflow_id: str, count: int) -> float:
    started = time.perf_counter()
    responses = await asyncio.gather(*(client.post(f"/workflows/{workflow_id}/instances") for _ in range(count)))
    assert all(r.status_code == 201 for r in responses), {r.status_code for r in responses}
    while True:
        running = await client.get("/instances", params={"workflowID": workflow_id, "running": "true"})
        if not running.json()["data"]:
            break
        await asyncio.sleep(0.05)
    return count / (time.perf_counter() - started)


async def wait_latencies(client: httpx.AsyncClient, workflow_id: str, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        response = await client.post(f"/workflows/{workflow_id}/instances", params={"wait": "true"})
        samples.append((time.perf_counter() - started) * 1000)
        assert response.json()["data"]["terminated"], response.text
    return samples


class KeepAliveClient:
    """A minimal HTTP/1.1 keep-alive GET client: httpx costs more CPU per request than the
    server does, and on a 2-core machine a heavy client would measure itself."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n\r\n".encode())
        status_line = await self.reader.readline()
        length = 0
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return int(status_line.split()[1])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


async def read_latencies(url: str, instance_ids: list[str], requests: int) -> list[float]:
    host, port = url.removeprefix("http://").split(":")
    samples: list[float] = []
    queue = iter(range(requests))

    async def reader() -> None:
        client = KeepAliveClient(host, int(port))
        try:
            for n in queue:
                started = time.perf_counter()
                status = await client.get(f"/instances/{instance_ids[n % len(instance_ids)]}")
                samples.append((time.perf_counter() - started) * 1000)
                assert status == 200
        finally:
            client.close()

    await asyncio.gather(*(reader() for _ in range(50)))
    return samples
