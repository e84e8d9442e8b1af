"""What the console shows of the sandbox stack, read through the sandbox's own HTTP API.

The console never imports the sandbox (tests/test_layering.py): the composition hands it an
HTTP client onto the sandbox's routes, and each read carries the viewer's token, so that the
sandbox's own scopes (`ledger:read`, `wallets:read`, `payments:read`) decide what is shown.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import httpx

PAGE_SIZE = 50


@dataclass
class Section:
    """One list of the sandbox, or why it could not be read."""

    items: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Overview:
    ledgers: list[str]
    ledger: str | None
    accounts: Section
    transactions: Section
    wallets: Section
    payments: Section
    error: str | None = None


class SandboxReader:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def overview(self, token: str | None, ledger: str | None) -> Overview:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        ledgers = await self._list("/api/ledger/v2", headers)
        names = [str(item.get("name")) for item in ledgers.items]
        chosen = ledger if ledger in names else (names[0] if names else None)
        if chosen is None:
            empty = Section(error=ledgers.error)
            return Overview(names, None, empty, empty, *(await self._money(headers)), error=ledgers.error)
        accounts, transactions, (wallets, payments) = await asyncio.gather(
            self._list(f"/api/ledger/v2/{chosen}/accounts", headers, expand="volumes"),
            self._list(f"/api/ledger/v2/{chosen}/transactions", headers),
            self._money(headers),
        )
        return Overview(names, chosen, accounts, transactions, wallets, payments)

    async def _money(self, headers: dict[str, str]) -> tuple[Section, Section]:
        wallets, payments = await asyncio.gather(self._list("/api/wallets/wallets", headers), self._list("/api/payments/payments", headers))
        return wallets, payments

    async def _list(self, path: str, headers: dict[str, str], **query: str) -> Section:
        try:
            response = await self.client.get(path, params={"pageSize": str(PAGE_SIZE), **query}, headers=headers)
        except httpx.HTTPError as error:
            return Section(error=f"the sandbox did not answer: {type(error).__name__}")
        body = _json(response)
        if response.status_code != 200:
            message = body.get("errorMessage") if isinstance(body, dict) else None
            return Section(error=f"{response.status_code}: {message or 'the sandbox refused this read'}")
        cursor = body.get("cursor") if isinstance(body, dict) else None
        data = cursor.get("data") if isinstance(cursor, dict) else None
        return Section(items=[item for item in data or [] if isinstance(item, dict)])


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None
