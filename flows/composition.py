"""The top of `flows serve`: the Orchestration API and, without `--stack-url`, the sandbox stack
under the stack's own gateway paths, each behind the auth of its service.

This is the one place where the core and the sandbox meet: the core (flows/api, flows/storage,
…) never imports flows.sandbox; the sandbox declares its paths, scopes and migrations, and this
module hands them to the core's token issuer, middleware and database.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from flows.api.auth import AuthMiddleware
from flows.api.tokens import ORCHESTRATION_SCOPES, TokenIssuer
from flows.sandbox import scopes as sandbox
from flows.sandbox.tables import MIGRATIONS as SANDBOX_MIGRATIONS
from flows.storage.database import Database

# Every scope a client of `--auth-clients` may be given and the token issuer grants, in the order
# of a token's `scope` string. The sandbox's are known even with `--stack-url`: a client's
# configuration does not depend on where the stack is.
SCOPES: tuple[str, ...] = ORCHESTRATION_SCOPES + sandbox.SCOPES


async def migrate_sandbox(database: Database) -> None:
    """The sandbox's tables, at the head of their own history: run before mounting it."""
    await database.migrate(SANDBOX_MIGRATIONS)


async def migrate_all(database: Database) -> None:
    """Both histories, the core's then the sandbox's (`flows migrate`)."""
    await database.migrate()
    await migrate_sandbox(database)


class WithSandbox:
    def __init__(self, api: ASGIApp, sandbox_app: ASGIApp, issuer: TokenIssuer) -> None:
        self.api = api
        self.guarded = {
            prefix: AuthMiddleware(sandbox_app, issuer, service=service, exempt=lambda _path: False)
            for prefix, service in sandbox.SERVICES.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            for prefix, app in self.guarded.items():
                if path == prefix or path.startswith(prefix + "/"):
                    await app(scope, receive, send)
                    return
        await self.api(scope, receive, send)
