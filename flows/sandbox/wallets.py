"""Wallets on top of the sandbox ledger (stack-apis §2)."""

from __future__ import annotations

from typing import Any

from flows.sandbox.ledger import Ledger

WALLETS_LEDGER = "wallets-002"


class Wallets:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger


def routes() -> list[tuple[str, str, Any]]:
    return []
