"""The top of `flows serve`: the Orchestration API and, without `--stack-url`, the sandbox stack
under the stack's own gateway paths, each behind the auth of its service.

This is the one place where the core and the sandbox meet: the core (flows/api, flows/storage,
…) never imports flows.sandbox; the sandbox declares its paths, scopes and migrations, and this
module hands them to the core's token issuer, middleware and database.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

from flows.api.auth import AuthMiddleware, TokenVerifier
from flows.api.tokens import ORCHESTRATION_SCOPES
from flows.sandbox import scopes as sandbox_scopes
from flows.sandbox.tables import MIGRATIONS as SANDBOX_MIGRATIONS
from flows.storage.database import CORE_MIGRATIONS, Database, Migrations

# Every scope a client of `--auth-clients` may be given and the token issuer grants, in the order
# of a token's `scope` string. The sandbox's are known even with `--stack-url`: a client's
# configuration does not depend on where the stack is.
SCOPES: tuple[str, ...] = ORCHESTRATION_SCOPES + sandbox_scopes.SCOPES


async def migrate_sandbox(database: Database) -> None:
    """The sandbox's tables, at the head of their own history: run before mounting it."""
    await database.migrate(SANDBOX_MIGRATIONS)


async def migrate_all(database: Database) -> None:
    """Both histories, the core's then the sandbox's (`flows migrate`)."""
    await database.migrate()
    await migrate_sandbox(database)


def served_histories(*, sandbox: bool) -> tuple[Migrations, ...]:
    """What `flows serve` migrates as it starts: the core's history, and the sandbox's if it
    mounts the sandbox."""
    return (CORE_MIGRATIONS, SANDBOX_MIGRATIONS) if sandbox else (CORE_MIGRATIONS,)


class Edge:
    """What `flows serve` answers on its port: the sandbox's paths, each behind the auth of its
    service; the console's, once mounted (`mount_console`); every other path the API's. One
    dispatch for all three: a layer per part would wrap every request of the API once more."""

    def __init__(self, api: ASGIApp, issuer: TokenVerifier, *, sandbox: ASGIApp | None) -> None:
        self.api = api
        self.console: ASGIApp | None = None
        self._console_root: Callable[[str], str | None] = lambda _path: None
        # The sandbox's scopes guard it whatever --auth-check-scopes says of the API's.
        self.guarded: dict[str, ASGIApp] = {}
        if sandbox is not None:
            self.guarded = {
                prefix: AuthMiddleware(sandbox, issuer, service=service, exempt=lambda _path: False, always_check_scopes=True)
                for prefix, service in sandbox_scopes.SERVICES.items()
            }
        self.sandbox_prefixes = tuple(self.guarded)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._part(scope)(scope, receive, send)

    def _part(self, scope: Scope) -> ASGIApp:
        if scope["type"] != "http":
            return self.api
        path: str = scope["path"]
        if path.startswith(self.sandbox_prefixes):
            for prefix, app in self.guarded.items():
                if path == prefix or path.startswith(prefix + "/"):
                    return app
        if self.console is not None and self._console_root(path) is not None:
            return self.console
        return self.api

    def mount_console(self, console: ASGIApp, console_root: Callable[[str], str | None]) -> None:
        """Serve with `console` the paths under a root that `console_root` finds (given by the
        caller: only `--console` loads the console's modules, flows/server.py)."""
        self.console = console
        self._console_root = console_root
