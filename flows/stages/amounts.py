"""Amounts of money: whole numbers of the asset's smallest unit, taken exactly or refused.

An amount is never rounded. The reference truncates a JSON number (`1.5` posts 1, `0.5` posts 0)
and reads `1e3` as 1000; here any JSON number that is not an integer is refused, even an integral
one such as `1e3` or `1000.0`: it says the writer thinks in decimals, and a JSON float beyond 2^53
is already rounded by whoever produced it. A string amount (usually `"${amount}"`) must be written
in canonical form, digits only, as the ledger prints amounts: no sign, space, exponent, `0x` or
leading zero, so that no reading of it other than the obvious one exists.

Amounts are Python ints end to end (JSON in the database and in Temporal payloads keeps them
exact), bounded by MAX_AMOUNT: Formance's ledger works on big.Int, the sandbox stores amounts as
NUMERIC(78, 0) (flows/sandbox/tables.py), and a bound keeps a hostile variable of a
million digits from ever being converted.
"""

from __future__ import annotations

import re
from typing import Any

MAX_AMOUNT = 2**256 - 1
"""The largest amount accepted: any 256-bit unsigned value (78 digits)."""

_MAX_DIGITS = len(str(MAX_AMOUNT))
_CANONICAL = re.compile(r"0|[1-9][0-9]*")
_NEGATIVE = re.compile(r"-[0-9]+")


class AmountError(ValueError):
    """A value that is not an acceptable amount; the message says why, about "it", no path."""


def amount_from_json(value: Any) -> int:
    """A JSON integer in [0, MAX_AMOUNT]: never a float (`1.5`, `1e3`, `1.0`) nor a boolean."""
    if isinstance(value, float):
        raise AmountError(f"expected an integer in the asset's smallest unit, got {value!r} (amounts are never rounded)")
    if isinstance(value, bool) or not isinstance(value, int):  # a bool is an int to Python only
        raise AmountError("expected an integer")
    if value < 0:
        raise AmountError(f"must not be negative, got {value}")
    return _at_most_max(value)


def amount_from_text(text: str) -> int:
    """A canonical base-10 integer string (`0`, `2819`) in [0, MAX_AMOUNT]."""
    if _CANONICAL.fullmatch(text) is None:
        if _NEGATIVE.fullmatch(text):
            raise AmountError("must not be negative")
        raise AmountError("is not an integer (expected digits only, like 2819)")
    if len(text) > _MAX_DIGITS:  # before int(): a huge string must not cost a conversion
        raise _too_large()
    return _at_most_max(int(text))


def _at_most_max(value: int) -> int:
    if value > MAX_AMOUNT:
        raise _too_large()
    return value


def _too_large() -> AmountError:
    return AmountError(f"must be at most 2^256-1 (a {_MAX_DIGITS}-digit number)")
