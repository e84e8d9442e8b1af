"""What the sandbox stack asks of whoever mounts it: its gateway paths and the OAuth2 scopes
that guard them (flows/composition.py hands both to the token issuer and its middleware).

Each path prefix is guarded by the scopes of its service, `<service>:read` / `<service>:write`
(flows.api.auth.required_scopes). The test hooks (flows/sandbox/hooks.py) can park the ledger's
writes and show every request's body: they have scopes of their own, `sandbox:read` and
`sandbox:write`, which no orchestration or stack token implies.
"""

from __future__ import annotations

from collections.abc import Mapping

# Gateway prefix → the service whose scopes guard it.
SERVICES: Mapping[str, str] = {
    "/api/ledger": "ledger",
    "/api/wallets": "wallets",
    "/api/payments": "payments",
    "/api/sandbox": "sandbox",
}

SCOPES: tuple[str, ...] = tuple(f"{service}:{access}" for service in SERVICES.values() for access in ("read", "write"))
