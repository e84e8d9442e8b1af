"""A private `nats-server -js` on a free loopback port, one per test session."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nats
import pytest

from tests.support.service import free_port


def find_nats_server() -> str | None:
    found = shutil.which("nats-server")
    if found:
        return found
    debian = Path("/usr/sbin/nats-server")
    return str(debian) if debian.exists() else None


class NatsServer:
    def __init__(self, binary: str) -> None:
        self.binary = binary
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        self.root = Path(tempfile.mkdtemp(prefix="flows-nats-"))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> NatsServer:
        log = (self.root / "nats.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "-js", "-a", "127.0.0.1", "-p", str(self.port), "-sd", str(self.root / "store")],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError((self.root / "nats.log").read_text(errors="replace"))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nats-server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """A JetStream server; missing nats-server skips, or fails under CI=true."""
    binary = find_nats_server()
    if binary is None:
        message = "nats-server not found on PATH or in /usr/sbin (.ci/run installs it)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    server = NatsServer(binary).start()
    try:
        yield server
    finally:
        server.stop()


async def jetstream(url: str, action: Any) -> Any:
    """`await action(js)` on a fresh connection to `url`, closed afterwards."""
    connection = await nats.connect(url)
    try:
        return await action(connection.jetstream())
    finally:
        await connection.close()


def publish(url: str, subject: str, envelopes: list[dict[str, Any]]) -> None:
    """Publish each event as the stack's services do: JSON, with a Watermill message id."""

    async def send(js: Any) -> None:
        for envelope in envelopes:
            await js.publish(subject, json.dumps(envelope).encode(), headers={"_watermill_message_uuid": str(uuid.uuid4())})

    asyncio.run(jetstream(url, send))
