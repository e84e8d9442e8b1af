"""CPU per request inside the process, without a server or a socket:

    .venv/bin/python bench/asgi_cost.py [--requests 20000]

The ASGI app of `flows serve` (API, sandbox, console, request metrics: `flows.server.edge_app`,
what `serve` builds) is called directly on a seeded SQLite database, and so is the HTTP floor's
bare Starlette route answering the same document (bench/floors.py); each line gives the CPU µs
per request of both, and of the API's Starlette app alone (no edge). What uvicorn and the
kernel add is the same for both and is left out: this is the part Flows' code decides.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import tempfile
import time
from pathlib import Path
from typing import cast

import floors
import growth
from starlette.types import ASGIApp, Message

from flows.api.app import create_app
from flows.api.keysets import TrustedIssuers
from flows.api.tokens import IssuerKey, TokenIssuer
from flows.application import build_application
from flows.composition import SCOPES
from flows.engine.client import Engine
from flows.sandbox.app import create_sandbox_app
from flows.server import edge_app
from flows.storage.database import Database, sqlalchemy_url
from flows.storage.repository import Repository

PATHS = {"/instances/{id}": "/instances/i000000003", "/workflows/{id}": "/workflows/w0000000"}


async def _receive() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


async def call(app: ASGIApp, path: str) -> bytes:
    """One GET of `path`, as uvicorn would call the app; the answer's body."""
    body = bytearray()
    status = 0

    async def send(message: Message) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        else:
            body.extend(message.get("body", b""))

    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:8080"), (b"user-agent", b"wrk"), (b"accept", b"*/*")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8080),
        "state": {},
    }
    await app(scope, _receive, send)
    if status != 200:
        raise RuntimeError(f"GET {path}: {status} {bytes(body)[:200]!r}")
    return bytes(body)


ROUNDS = 20


async def cpu_us(apps: dict[str, tuple[ASGIApp, str]], requests: int) -> dict[str, float]:
    """CPU µs per request of each (app, path), the best of `ROUNDS` rounds taken in turns: others'
    work on a shared machine only ever adds to a round (caches, frequency), and in turns each
    app meets the same drift; the least is the closest to the cost."""
    for app, path in apps.values():
        for _ in range(200):
            await call(app, path)
    gc.collect()
    best = dict.fromkeys(apps, float("inf"))
    per_round = requests // ROUNDS
    for _ in range(ROUNDS):
        for name, (app, path) in apps.items():
            started = time.process_time()
            for _ in range(per_round):
                await call(app, path)
            best[name] = min(best[name], (time.process_time() - started) / per_round * 1e6)
    return best


async def measure(requests: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="flows-asgi-"))
    database = Database(sqlalchemy_url(None, root / "flows.db"))
    await growth.seed(database, 1, 10)
    repository = Repository(database)
    # Reads never reach Temporal: the engine is there for the application's shape only.
    application = build_application(repository, cast(Engine, None), version="bench")
    issuer = TokenIssuer(b"k" * 32, [], issuer="flows", scopes=SCOPES, key_pair=IssuerKey.from_pem(IssuerKey.generate_pem(), "bench"))
    verifier = TrustedIssuers(issuer, None)
    api = create_app(application, issuer, verifier=verifier)
    sandbox = create_sandbox_app(database, stack_url="http://127.0.0.1:8080")
    whole = edge_app(api, application, issuer, verifier, "orchestration", sandbox=sandbox, console=True)
    documents = {template: json.loads(await call(whole, path)) for template, path in PATHS.items()}
    floor = floors.http_floor_app(documents)
    print("| read | flows serve's app | API app alone | floor route | ratio |")
    print("|---|---|---|---|---|")
    for template, path in PATHS.items():
        floor_path = template.replace("{id}", path.rsplit("/", 1)[1])
        cost = await cpu_us({"flows": (whole, path), "api": (api, path), "floor": (floor, floor_path)}, requests)
        ratio = cost["flows"] / cost["floor"]
        print(f"| GET {template} | {cost['flows']:.0f} µs | {cost['api']:.0f} µs | {cost['floor']:.0f} µs | {ratio:.1f} |")
    await database.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=20_000)
    arguments = parser.parse_args()
    with asyncio.Runner() as runner:
        runner.run(measure(arguments.requests))


if __name__ == "__main__":
    main()
