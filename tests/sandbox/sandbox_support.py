"""The sandbox stack under a real uvicorn server on a loopback port, in a thread of the test
process, plus small HTTP helpers shared by the sandbox tests."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import httpx
import uvicorn
from formance_sdk_python import SDK
from starlette.applications import Starlette

from flows.sandbox.app import create_sandbox_app
from flows.sandbox.tables import MIGRATIONS
from flows.storage.database import Database
from tests.support.service import free_port

START_TIMEOUT_S = 30


class Recorder:
    """An event sink for the sandbox: records (envelope, message id); raises instead when `failing`."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, Any], str]] = []
        self.failing = False
        self.lock = threading.Lock()

    async def __call__(self, envelope: dict[str, Any], message_id: str) -> None:
        if self.failing:
            raise RuntimeError("broker down")
        with self.lock:
            self.received.append((envelope, message_id))

    def mark(self) -> int:
        with self.lock:
            return len(self.received)

    def since(self, mark: int) -> list[dict[str, Any]]:
        with self.lock:
            return [envelope for envelope, _ in self.received[mark:]]


class SandboxServer:
    """`create_sandbox_app` on a migrated database, served over HTTP until `stop()`."""

    def __init__(self, database_url: str, **options: Any) -> None:
        self.database_url = database_url
        self.options = options
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.app: Starlette | None = None
        self._server: uvicorn.Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="sandbox-server", daemon=True)
        self._failure: BaseException | None = None

    def start(self) -> SandboxServer:
        self._thread.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        while not (self._server is not None and self._server.started):
            if self._failure is not None:
                raise RuntimeError("sandbox server failed to start") from self._failure
            if time.monotonic() > deadline:
                raise RuntimeError("sandbox server did not start")
            time.sleep(0.02)
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:  # noqa: BLE001  (reported to the starting thread)
            self._failure = exc

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        database = Database(self.database_url)
        await database.migrate(MIGRATIONS)  # the sandbox's own history, not the core's
        self.app = create_sandbox_app(database, **self.options)
        config = uvicorn.Config(
            self.app, host="127.0.0.1", port=self.port, lifespan="off", log_level="warning"
        )
        self._server = uvicorn.Server(config)
        try:
            await self._server.serve()
        finally:
            await database.close()

    def stop(self) -> None:
        if self._server is None or self._loop is None or self.app is None:
            return
        self._loop.call_soon_threadsafe(self.app.state.sandbox.hooks.release_all)
        self._server.should_exit = True
        self._thread.join(15)

    @property
    def sdk(self) -> SDK:
        return SDK(server_url=self.url)


def transact(
    url: str,
    ledger: str,
    postings: list[tuple[str, str, int, str]] | None = None,
    *,
    script: str | None = None,
    expect: int = 200,
    key: str | None = None,
    **body: Any,
) -> dict[str, Any]:
    payload: dict[str, Any] = dict(body)
    if postings is not None:
        payload["postings"] = [
            {"source": s, "destination": d, "amount": a, "asset": asset} for s, d, a, asset in postings
        ]
    if script is not None:
        payload["script"] = {"plain": script, "vars": body.pop("vars", {})}
        payload.pop("vars", None)
    headers = {"Idempotency-Key": key} if key else {}
    response = httpx.post(f"{url}/api/ledger/v2/{ledger}/transactions", json=payload, headers=headers)
    assert response.status_code == expect, response.text
    return response.json() if response.content else {}


def balances(url: str, ledger: str, address: str) -> dict[str, int]:
    response = httpx.get(f"{url}/api/ledger/{ledger}/accounts/{address}")
    assert response.status_code == 200, response.text
    return dict(response.json()["data"]["balances"])

