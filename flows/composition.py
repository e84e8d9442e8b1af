"""One ASGI application for `flows serve`: the Orchestration API and, without `--stack-url`, the
sandbox stack under the stack's own gateway paths, each behind the auth of its service."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from flows.api.auth import AuthMiddleware
from flows.api.tokens import TokenIssuer

# Gateway prefix → the service whose scopes guard it (`ledger:read`, `ledger:write`, …). The test
# hooks (flows/sandbox/hooks.py) can park the ledger's writes and show every request's body: they
# have scopes of their own, `sandbox:read` and `sandbox:write`, which no orchestration or stack
# token implies.
SANDBOX_SERVICES = {
    "/api/ledger": "ledger",
    "/api/wallets": "wallets",
    "/api/payments": "payments",
    "/api/sandbox": "sandbox",
}


class WithSandbox:
    def __init__(self, api: ASGIApp, sandbox: ASGIApp, issuer: TokenIssuer) -> None:
        self.api = api
        self.guarded = {
            prefix: AuthMiddleware(sandbox, issuer, service=service, exempt=lambda _path: False)
            for prefix, service in SANDBOX_SERVICES.items()
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            for prefix, app in self.guarded.items():
                if path == prefix or path.startswith(prefix + "/"):
                    await app(scope, receive, send)
                    return
        await self.api(scope, receive, send)
