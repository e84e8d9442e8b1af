"""Go's renderings of values: type names (`%T`), float64 with `%v`, and float64 in JSON.

Expressions show the reference's messages and variables character for character, and Go prints
numbers its own way (`1.2e+06` with `%v`, `1e+21` in JSON, never Python's `1200000.0`).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any


def go_type(value: Any) -> str:
    """Go's `%T` of the value a decoded JSON document or an expression would hold."""
    if value is None:
        return "<nil>"
    kind = type(value)
    if kind is bool:
        return "bool"
    if kind is int:
        return "int"
    if kind is float:
        return "float64"
    if kind is str:
        return "string"
    if kind is dict:
        return "map[string]interface {}"
    if kind is list:
        return "[]interface {}"
    if callable(value):
        return "func(...interface {}) (interface {}, error)"
    # Other Go types (the time values of flows/triggers/expr/times.py) carry their name.
    return getattr(kind, "GO_TYPE", kind.__name__)


def assertion_type(value: Any) -> str:
    """The type name in Go's `interface conversion` panics (`nil` rather than `<nil>`)."""
    return "nil" if value is None else go_type(value)


def _digits(value: float) -> tuple[str, int]:
    """Shortest round-trip digits and the decimal exponent: value = 0.d1d2... × 10^exp."""
    _, digits, exponent = Decimal(repr(abs(value))).as_tuple()
    assert isinstance(exponent, int), "only finite values have digits"
    text = "".join(str(d) for d in digits).rstrip("0") or "0"
    stripped = len("".join(str(d) for d in digits)) - len(text)
    # value = int(digits) × 10^exponent; with trailing zeros removed, point position:
    return text, exponent + stripped + len(text)


def _exponent_form(digits: str, point: int) -> tuple[str, int]:
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return mantissa, point - 1


def _fixed_form(digits: str, point: int) -> str:
    if point <= 0:
        return "0." + "0" * (-point) + digits
    if point >= len(digits):
        return digits + "0" * (point - len(digits))
    return digits[:point] + "." + digits[point:]


def _special(value: float) -> str | None:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return None


def go_float_v(value: float) -> str:
    """Go's `%v` of a float64 (`strconv.FormatFloat(x, 'g', -1, 64)`): `1.2e+06`, `100000`, `0.5`."""
    special = _special(value)
    if special:
        return special
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, point = _digits(value)
    sign = "-" if value < 0 else ""
    exponent = point - 1
    # Shortest 'g' decides with a precision of 6: exponent form when exp < -4 or exp >= 6.
    eprec = 6
    if exponent < -4 or exponent >= eprec:
        mantissa, exp = _exponent_form(digits, point)
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    return sign + _fixed_form(digits, point)


def go_json_float(value: float) -> str:
    """A float64 as Go's encoding/json writes it: `1200000`, `1.5`, `1e+21`, `1e-7`."""
    special = _special(value)
    if special:
        raise ValueError(f"json: unsupported value: {special}")
    if value == 0:
        return "-0" if math.copysign(1, value) < 0 else "0"
    digits, point = _digits(value)
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    if magnitude < 1e-6 or magnitude >= 1e21:
        mantissa, exp = _exponent_form(digits, point)
        return f"{sign}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}".replace("e-0", "e-")
    return sign + _fixed_form(digits, point)
