"""The sandbox application itself, in process: routing, trailing slashes, and what an unexpected
failure looks like (the envelope of the service that failed)."""

from __future__ import annotations

import httpx
import pytest
from sandbox_support import SandboxServer

from flows.sandbox.app import create_sandbox_app
from flows.storage.database import Database


def test_routing_and_trailing_slashes(sqlite_sandbox: SandboxServer) -> None:
    url = sqlite_sandbox.url
    assert httpx.get(f"{url}/api/ledger/v2/main/").status_code == 200
    missing = httpx.get(f"{url}/api/ledger/v2/main/nothing/here")
    assert missing.status_code == 404 and missing.json()["errorCode"] == "NOT_FOUND"
    wrong_method = httpx.delete(f"{url}/api/ledger/v2/main")
    assert wrong_method.status_code == 405 and wrong_method.json()["errorCode"] == "VALIDATION"
    assert "GET" in wrong_method.headers["allow"]
    # Bodies end with a newline, as Go's encoder writes them.
    assert httpx.get(f"{url}/api/ledger/v2/main").content.endswith(b"}\n")


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("/api/ledger/v2/main/transactions", "INTERNAL", "Internal error. Consult logs/traces to have more details."),
        ("/api/wallets/wallets", "INTERNAL_ERROR", "internal server error"),
        ("/api/payments/payments", "INTERNAL", "internal error"),
    ],
)
async def test_unexpected_failures_use_the_service_envelope(path: str, code: str, message: str) -> None:
    # Nothing listens on port 1: every database call fails.
    database = Database("postgresql+psycopg://flows@127.0.0.1:1/none?connect_timeout=2")
    app = create_sandbox_app(database, record_requests=False)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sandbox") as client:
            response = await client.get(path)
        assert response.status_code == 500
        assert response.json() == {"errorCode": code, "errorMessage": message}
    finally:
        await database.close()
