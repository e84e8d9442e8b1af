"""The sandbox stack as one Starlette application serving the stack's gateway paths itself:

* `/api/ledger/v2/…` and `/api/ledger/{ledger}/accounts/{address}` (v1): flows.sandbox.ledger_api
* `/api/wallets/…`: flows.sandbox.wallets (ledger `wallets-002`)
* `/api/payments/…`: flows.sandbox.payments
* `/api/sandbox/…`: test hooks, flows.sandbox.hooks, only with `test_hooks=True`

It carries no auth: whoever mounts it guards each prefix with the scopes of its service. The
ledgers `default`, `main`, `orchestration-000-internal` (the orchestration's defaults) and
`wallets-002` (created by Wallets at startup) exist from the first request on; any other ledger
is created with `POST /api/ledger/v2/{ledger}` first, as on a real stack, unless
`auto_create_ledgers` is set (a forgiving mode a real ledger does not have).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from flows.routing import routes_by_path
from flows.sandbox import hooks, ledger_api, payments, wallets_api
from flows.sandbox.errors import NOT_FOUND, VALIDATION, StackError
from flows.sandbox.events import EventSink, Publisher
from flows.sandbox.hooks import DEFAULT_RECORD_LIMIT, HookedRequests, Hooks
from flows.sandbox.ledger import DEFAULT_BUCKET, Ledger
from flows.sandbox.payments import Payments
from flows.sandbox.rendering import error_response
from flows.sandbox.wallets import WALLETS_LEDGER, Wallets
from flows.storage.database import Database

# Ledger name -> bucket. Wallets creates its ledger with the ledger's name as bucket.
DEFAULT_LEDGERS: Mapping[str, str] = {
    "default": DEFAULT_BUCKET,
    "main": DEFAULT_BUCKET,
    "orchestration-000-internal": DEFAULT_BUCKET,
    WALLETS_LEDGER: WALLETS_LEDGER,
}


@dataclass
class Sandbox:
    """What the endpoints reach through `request.app.state.sandbox`."""

    database: Database
    ledger: Ledger
    wallets: Wallets
    payments: Payments
    hooks: Hooks


class _Bootstrap:
    """Creates the default ledgers once, on the first request: a mounted sub-application gets no
    lifespan events, and this must not slow down the start of `flows serve`."""

    def __init__(self, ledger: Ledger, names: Mapping[str, str]) -> None:
        self.ledger = ledger
        self.names = dict(names)
        self.done = False
        self.lock = asyncio.Lock()

    async def __call__(self) -> None:
        if self.done:
            return
        async with self.lock:
            if not self.done:
                await self.ledger.ensure_ledgers(self.names)
                self.done = True


async def _on_stack_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, StackError)
    return error_response(error)


async def _on_http_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        return error_response(StackError(404, NOT_FOUND, "no such route in the sandbox stack"))
    response = error_response(StackError(error.status_code, VALIDATION, str(error.detail)))
    response.headers.update(error.headers or {})
    return response


def create_sandbox_app(
    database: Database,
    *,
    auto_create_ledgers: bool = False,
    test_hooks: bool = False,
    record_requests: bool = True,
    record_limit: int = DEFAULT_RECORD_LIMIT,
    default_ledgers: Mapping[str, str] = DEFAULT_LEDGERS,
    events: EventSink | None = None,
    stack_url: str = "",
) -> Starlette:
    """The sandbox on a migrated `database` (SQLite or PostgreSQL).

    `test_hooks=True` serves the test hooks (flows.sandbox.hooks; off, `/api/sandbox/…` is an
    unknown route and nothing is recorded); with them, `record_requests=False` skips the
    per-request recording write (for benchmarks) and `record_limit` is how many of the latest
    requests the recording keeps.
    `app.state.sandbox.hooks.release_all()` frees held requests, e.g. before a shutdown.
    `events` receives every event the stack publishes, after its write commits
    (flows.sandbox.events); `stack_url` is the stack's public URL, for the payments' `links`.
    """
    publisher = Publisher(events)
    ledger = Ledger(database, auto_create_ledgers=auto_create_ledgers, events=publisher)
    sandbox = Sandbox(
        database=database,
        ledger=ledger,
        wallets=Wallets(ledger),
        payments=Payments(database, events=publisher, stack_url=stack_url),
        hooks=Hooks(database, record=test_hooks and record_requests, limit=record_limit),
    )
    endpoints = ledger_api.routes() + wallets_api.routes() + payments.routes()
    if test_hooks:
        endpoints += hooks.routes()
    app = Starlette(
        routes=routes_by_path(endpoints),
        middleware=[
            Middleware(
                HookedRequests,
                hooks=sandbox.hooks,
                on_first_request=_Bootstrap(ledger, default_ledgers),
            )
        ],
        exception_handlers={StackError: _on_stack_error, HTTPException: _on_http_error},
    )
    app.state.sandbox = sandbox
    return app
