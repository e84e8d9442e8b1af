"""Go's `%v` of expression values and the variable strings a trigger passes to its workflow;
both render within the evaluation's budget (flows.triggers.expr.budget)."""

from __future__ import annotations

import math
import re
from typing import Any

from flows.gocompat.values import assertion_type, go_float_v, go_json_float
from flows.triggers.expr import budget
from flows.triggers.expr.errors import TOO_DEEP, ExprError, Fail

# Go strings are bytes: lengths, offsets and slices count UTF-8 bytes. A slice may cut a character
# in two; its stray bytes are kept as the surrogates of Python's "surrogateescape" error handler,
# so that slicing again or measuring stays byte-exact, and become U+FFFD when rendered (as Go's
# encoding/json does to the invalid bytes of a string it writes).
_STRAY = re.compile("[\ud800-\udfff]")
_ESCAPED = re.compile("[\udc80-\udcff]")  # the stray bytes, as "surrogateescape" holds them


def as_string(value: Any) -> str:
    """The value as the string Go's type assertion wants, or its panic."""
    if type(value) is str:
        return value
    raise Fail(f"interface conversion: interface {{}} is {assertion_type(value)}, not string")


def utf8(text: str) -> bytes:
    """The bytes of `text` (stray bytes from a byte slice as they were; lone surrogates from a
    decoded JSON payload as U+FFFD, as Go decodes them)."""
    try:
        return text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return _STRAY.sub("\ufffd", text).encode("utf-8", "surrogateescape")


def from_utf8(data: bytes) -> str:
    return data.decode("utf-8", "surrogateescape")


def byte_length(text: str) -> int:
    return len(text) if text.isascii() else len(utf8(text))


def byte_slice(text: str, start: int, end: int) -> str:
    return text[start:end] if text.isascii() else from_utf8(utf8(text)[start:end])


def byte_at(text: str, index: int) -> int:
    """`text[index]`: a byte (Go's uint8), the index already within bounds."""
    return ord(text[index]) if text.isascii() else utf8(text)[index]


def printable(text: str) -> str:
    """`text` with the stray bytes of byte slices as U+FFFD (other lone surrogates are left for
    the caller to refuse: no database stores them)."""
    if text.isascii() or not _ESCAPED.search(text):
        return text
    return _ESCAPED.sub("\ufffd", text)


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
    """A variable's value as the workflow receives it (docs/triggers.md).

    float64 values (every JSON number of a payload) are written as JSON numbers (`1200000`,
    `1.5`, `1e+21`); integers in decimal; strings unchanged; `true`/`false`; nil as `<nil>`;
    maps and arrays in Go's `fmt` rendering (`map[a:1 b:2]`, `[x y]`); time values as their Go
    String() (flows.triggers.expr.times).

    Rendering a large value takes time: with `limit` (the budget of the evaluation that computed
    the value), it counts against it. Raises `ExprError` when over it, or when the value is nested
    too deeply to be rendered.
    """
    if type(value) is float:
        # JSON has no NaN nor infinities: those print as `%v` does.
        return go_json_float(value) if math.isfinite(value) else go_float_v(value)
    previous = budget.install(limit)
    try:
        return printable(go_v(value))
    except Fail as failure:
        raise ExprError(failure.message) from None
    except RecursionError:  # an array built by `reduce` around itself, level after level
        raise ExprError(f"{TOO_DEEP}: its value is nested too deeply to be rendered") from None
    finally:
        budget.install(previous)
