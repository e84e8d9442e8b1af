"""Setting the scene on a sandbox stack over HTTP (the sandbox of a `flows serve` or alone)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

HOOKS = "/api/sandbox"
"""Where the sandbox serves its test hooks (`--sandbox-test-hooks`, docs/sandbox.md)."""


def new_ledger(url: str, prefix: str = "l") -> str:
    """A ledger of its own, so a test sees only its own transactions and events."""
    name = f"{prefix}{uuid.uuid4().hex[:12]}"
    response = httpx.post(f"{url}/api/ledger/v2/{name}", timeout=30)
    assert response.status_code == 204, response.text
    return name


def hold(url: str, method: str, path: str, when: str, **extra: Any) -> str:
    """Park the sandbox's matching requests `before-commit` or `after-commit`; the hold's id."""
    response = httpx.post(f"{url}{HOOKS}/holds", json={"method": method, "path": path, "when": when, **extra})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


def waiting(url: str, hold_id: str) -> int:
    """How many requests the hold keeps parked."""
    return int(httpx.get(f"{url}{HOOKS}/holds/{hold_id}").json()["data"]["waiting"])
