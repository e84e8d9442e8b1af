"""Load that costs the server's cores as little as possible, and what it cost.

Reads come from `wrk` (C); runWorkflow starts and waits from `RawClient`, an HTTP/1.1 keep-alive
client on bare asyncio streams (httpx spends more CPU per request than the server does). Each
measurement reports the client's CPU seconds beside the server's, read from /proc.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads), from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def own_cpu_seconds() -> float:
    return time.process_time()


@dataclass(frozen=True)
class Reads:
    """A wrk run: throughput, tail, and the CPU of wrk and of the server during it."""

    requests_per_s: float
    p50_ms: float
    p99_ms: float
    client_cpu_s: float
    server_cpu_s: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _latency_ms(text: str, label: str) -> float:
    match = re.search(rf"^\s*{label}\s+([0-9.]+)(us|ms|s)\s*$", text, re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no {label} latency in wrk output:\n{text}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def wrk(url: str, server_pid: int, *, connections: int = 50, seconds: int = 6) -> Reads:
    """`wrk -t1 -c<connections> -d<seconds>s --latency url` against a server process."""
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    server_before, client_before = cpu_seconds(server_pid), children_cpu_seconds()
    command = [binary, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    output = done.stdout
    if "Non-2xx" in output:
        raise RuntimeError(f"wrk got errors from {url}:\n{output}")
    rate = re.search(r"^Requests/sec:\s+([0-9.]+)", output, re.MULTILINE)
    if rate is None:
        raise RuntimeError(f"no Requests/sec in wrk output:\n{output}")
    return Reads(
        requests_per_s=float(rate.group(1)),
        p50_ms=_latency_ms(output, "50%"),
        p99_ms=_latency_ms(output, "99%"),
        client_cpu_s=children_cpu_seconds() - client_before,
        server_cpu_s=cpu_seconds(server_pid) - server_before,
    )


class RawClient:
    """One keep-alive HTTP/1.1 connection; answers must carry Content-Length (uvicorn's do)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\nContent-Length: {len(body)}\r\n"
        if body:
            head += "Content-Type: application/json\r\n"
        reused = self._writer is not None
        try:
            status_line = await self._send(head.encode() + b"\r\n" + body)
        except ConnectionResetError:
            if not reused:
                raise
            status_line = b""  # the close raced the request: the server read none of it
        if not status_line and reused:
            # The server closed the idle connection (its keep-alive timeout): once more, anew.
            self.close()
            status_line = await self._send(head.encode() + b"\r\n" + body)
        assert self._reader is not None
        length = 0
        while (line := await self._reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        return int(status_line.split()[1]), await self._reader.readexactly(length)

    async def _send(self, message: bytes) -> bytes:
        if self._writer is None:
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        self._writer.write(message)
        return await self._reader.readline()

    async def json(self, method: str, path: str, body: Any = None) -> Any:
        status, raw = await self.request(method, path, b"" if body is None else json.dumps(body).encode())
        if status >= 300:
            raise RuntimeError(f"{method} {path}: {status} {raw[:300]!r}")
        return json.loads(raw) if raw else None

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


class Pool:
    """`size` RawClients to one server, each used by one task at a time."""

    def __init__(self, url: str, size: int) -> None:
        host, port = url.removeprefix("http://").split(":")
        self._idle: asyncio.Queue[RawClient] = asyncio.Queue()
        for _ in range(size):
            self._idle.put_nowait(RawClient(host, int(port)))

    async def json(self, method: str, path: str, body: Any = None) -> Any:
        client = await self._idle.get()
        try:
            return await client.json(method, path, body)
        finally:
            self._idle.put_nowait(client)

    def close(self) -> None:
        while not self._idle.empty():
            self._idle.get_nowait().close()


async def concurrently(count: int, concurrency: int, job: Callable[[], Awaitable[Any]]) -> None:
    """Run `job` `count` times, at most `concurrency` at once."""
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one() for _ in range(count)))


async def timed_ms(job: Callable[[], Awaitable[Any]]) -> float:
    started = time.perf_counter()
    await job()
    return (time.perf_counter() - started) * 1000
