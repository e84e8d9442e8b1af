"""Syntax rules of the ledger (stack-apis §1.1): account addresses, assets, ledger names."""

from __future__ import annotations

import re

WORLD = "world"

_ADDRESS = re.compile(r"[a-zA-Z0-9_-]+(:[a-zA-Z0-9_-]+)*")
# Ledger v2.3+: an optional `_SUFFIX` and `/decimals`.
_ASSET = re.compile(r"[A-Z][A-Z0-9]{0,16}(_[A-Z]{1,16})?(/\d{1,6})?")
_LEDGER = re.compile(r"[0-9a-zA-Z_-]{1,63}")
RESERVED_LEDGERS = frozenset({"_", "_info", "_healthcheck"})


def is_address(value: str) -> bool:
    return _ADDRESS.fullmatch(value) is not None


def is_asset(value: str) -> bool:
    return _ASSET.fullmatch(value) is not None


def is_ledger_name(value: str) -> bool:
    return _LEDGER.fullmatch(value) is not None and value not in RESERVED_LEDGERS
