"""Setting the scene on a sandbox stack over HTTP (the sandbox of a `flows serve` or alone)."""

from __future__ import annotations

import uuid

import httpx


def new_ledger(url: str, prefix: str = "l") -> str:
    """A ledger of its own, so a test sees only its own transactions and events."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    response = httpx.post(f"{url}/api/ledger/v2/{name}", timeout=30)
    assert response.status_code == 204, response.text
    return name
