"""Go's renderings of values: type names (`%T`), `%v`, JSON numbers, and variable strings."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from flows.triggers.expr import budget
from flows.triggers.expr.errors import TOO_DEEP, ExprError, Fail


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
    return kind.__name__


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


def go_v(value: Any) -> str:
    """Go's `%v` of a value."""
    if value is None:
        return "<nil>"
    kind = type(value)
    if kind is str:
        return value
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        return go_float_v(value)
    step = budget.current().step  # a large value renders in a loop of its own
    if kind is list:
        return "[" + " ".join(step() or go_v(item) for item in value) + "]"
    if kind is dict:
        items = sorted(value.items(), key=lambda item: _sort_key(item[0]))
        return "map[" + " ".join(step() or f"{go_v(k)}:{go_v(v)}" for k, v in items) + "]"
    return str(value)


def _sort_key(key: Any) -> tuple[int, Any]:
    if isinstance(key, (int, float)) and not isinstance(key, bool):
        return (0, key)
    return (1, str(key))


def to_variable_string(value: Any, limit: budget.Budget | None = None) -> str:
    """A variable's value as the workflow receives it (reference §9.6).

    float64 values (every JSON number of a payload) are written as JSON numbers (`1200000`,
    `1.5`, `1e+21`); integers in decimal; strings unchanged; `true`/`false`; nil as `<nil>`;
    maps and arrays in Go's `fmt` rendering (`map[a:1 b:2]`, `[x y]`).

    Rendering a large value takes time: with `limit` (the budget of the evaluation that computed
    the value), it counts against it. Raises `ExprError` when over it, or when the value is nested
    too deeply to be rendered.
    """
    if type(value) is float:
        special = _special(value)
        return special if special else go_json_float(value)
    previous = budget.install(limit)
    try:
        return go_v(value)
    except Fail as failure:
        raise ExprError(failure.message) from None
    except RecursionError:  # an array built by `reduce` around itself, level after level
        raise ExprError(f"{TOO_DEEP}: its value is nested too deeply to be rendered") from None
    finally:
        budget.install(previous)
