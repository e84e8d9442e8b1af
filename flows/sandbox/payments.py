"""Payments v1 API of the sandbox (stack-apis §3)."""

from __future__ import annotations

from typing import Any

from flows.storage.database import Database


class Payments:
    def __init__(self, database: Database) -> None:
        self.db = database


def routes() -> list[tuple[str, str, Any]]:
    return []
