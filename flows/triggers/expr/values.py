"""JSON documents as trigger expressions see them.

Go decodes every JSON number into a float64, so expressions over an event's payload meet floats
(`event.amount / 2` is 1.5 for 3, `string(event.amount)` renders a float). A float64 holds every
integer up to 2^53 exactly; beyond it Go would round, and an amount passed on to a workflow
variable would silently change. Such integers (up to Go's int64 range) stay integers here, so they
reach the variable digit for digit; only beyond int64 do they become floats, as in Go.
"""

from __future__ import annotations

from typing import Any

EXACT_IN_FLOAT = 2**53
INT64_LIMIT = 2**63


def from_json(document: Any) -> Any:
    """`document` (decoded JSON, converted in place) with its numbers as expressions see them.

    Raises `ValueError` for an integer beyond a float64's range, which Go refuses to decode.
    Iterative, so that a deep document cannot exhaust the stack.
    """
    pending = [document]
    while pending:
        item = pending.pop()
        pairs = item.items() if isinstance(item, dict) else enumerate(item) if isinstance(item, list) else ()
        for key, child in pairs:
            if type(child) is int:
                item[key] = _number(child)
            elif isinstance(child, dict | list):
                pending.append(child)
    return _number(document) if type(document) is int else document


def _number(value: int) -> int | float:
    if EXACT_IN_FLOAT < abs(value) < INT64_LIMIT:
        return value
    try:
        return float(value)
    except OverflowError:
        raise ValueError("an integer is beyond the range of a float64") from None
