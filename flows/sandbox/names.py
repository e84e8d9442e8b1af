"""Syntax rules of the ledger (stack-apis §1.1): account addresses, assets, ledger names, amounts."""

from __future__ import annotations

import re

WORLD = "world"
# The largest amount, and volume (sum of amounts), the sandbox ledger keeps: 256 bits, which the
# volumes' NUMERIC(78, 0) column holds (flows/storage/sandbox_tables.py). The real ledger's
# big.Int has no bound; past this the sandbox answers 400 rather than round or overflow.
MAX_AMOUNT = 2**256 - 1
# Addresses are database index keys (flows.sandbox.rendering.MAX_KEY_BYTES); ASCII, so
# characters are bytes.
MAX_ADDRESS_LENGTH = 1024

_ADDRESS = re.compile(r"[a-zA-Z0-9_-]+(:[a-zA-Z0-9_-]+)*")
# Ledger v2.3+: an optional `_SUFFIX` and `/decimals`.
_ASSET = re.compile(r"[A-Z][A-Z0-9]{0,16}(_[A-Z]{1,16})?(/[0-9]{1,6})?")
_LEDGER = re.compile(r"[0-9a-zA-Z_-]{1,63}")
RESERVED_LEDGERS = frozenset({"_", "_info", "_healthcheck"})


def is_address(value: str) -> bool:
    return len(value) <= MAX_ADDRESS_LENGTH and _ADDRESS.fullmatch(value) is not None


def is_asset(value: str) -> bool:
    return _ASSET.fullmatch(value) is not None


def is_ledger_name(value: str) -> bool:
    return _LEDGER.fullmatch(value) is not None and value not in RESERVED_LEDGERS
