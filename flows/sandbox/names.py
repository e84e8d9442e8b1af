"""Syntax rules of the ledger (docs/sandbox.md, input checks): account addresses, assets, ledger names, amounts."""

from __future__ import annotations

import re

from flows.ledger_syntax import ADDRESS, ASSET

# The largest amount, and volume (sum of amounts), the sandbox ledger keeps: 256 bits, which the
# volumes' NUMERIC(78, 0) column holds (flows/sandbox/tables.py). The real ledger's
# big.Int has no bound; past this the sandbox answers 400 rather than round or overflow.
MAX_AMOUNT = 2**256 - 1
# Addresses are database index keys (flows.sandbox.rendering.MAX_KEY_BYTES); ASCII, so
# characters are bytes.
MAX_ADDRESS_LENGTH = 1024

_LEDGER = re.compile(r"[0-9a-zA-Z_-]{1,63}")
RESERVED_LEDGERS = frozenset({"_", "_info", "_healthcheck"})


def is_address(value: str) -> bool:
    return len(value) <= MAX_ADDRESS_LENGTH and ADDRESS.fullmatch(value) is not None


def is_asset(value: str) -> bool:
    return ASSET.fullmatch(value) is not None


def is_ledger_name(value: str) -> bool:
    return _LEDGER.fullmatch(value) is not None and value not in RESERVED_LEDGERS
