"""Run-time operations with expr-lang's semantics (Go's int/float64 rules and error texts)."""

from __future__ import annotations

import math
from typing import Any

from flows.gocompat.values import assertion_type, go_type
from flows.triggers.expr import budget, times
from flows.triggers.expr.errors import Fail
from flows.triggers.expr.gostrings import as_string, byte_at, byte_length, byte_slice, go_v

NUMBER = (int, float)
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def is_number(value: Any) -> bool:
    kind = type(value)
    return kind is int or kind is float


def wrap_int(value: int) -> int:
    """Go's int64 wrap-around."""
    if INT64_MIN <= value <= INT64_MAX:
        return value
    return (value - INT64_MIN) % 2**64 + INT64_MIN


def as_bool(value: Any) -> bool:
    if type(value) is bool:
        return value
    raise Fail(f"interface conversion: interface {{}} is {assertion_type(value)}, not bool")


def to_int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return value
    if kind is float:
        if math.isnan(value) or math.isinf(value):
            return INT64_MIN
        return wrap_int(int(value))
    raise Fail(f"invalid operation: int({go_type(value)})")


def add(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return wrap_int(a + b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return float(a) + float(b)
    if ta is str and tb is str:
        budget.current().allocate(len(a) + len(b))
        return a + b
    return _timed(times.add, a, b, "+")


def _timed(operation: Any, a: Any, b: Any, op: str) -> Any:
    """`a op b` when expr-lang defines it on time values (flows/triggers/expr/times.py)."""
    result = operation(a, b)
    if result is NotImplemented:
        raise Fail(f"invalid operation: {go_type(a)} {op} {go_type(b)}")
    return result


def sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return wrap_int(a - b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return float(a) - float(b)
    return _timed(times.sub, a, b, "-")


def mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return wrap_int(a * b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return float(a) * float(b)
    return _timed(times.mul, a, b, "*")


def div(a: Any, b: Any) -> Any:
    if is_number(a) and is_number(b):
        x, y = float(a), float(b)
        if y == 0:
            if x == 0 or math.isnan(x):
                return math.nan
            return math.copysign(math.inf, x) * math.copysign(1, y)
        return x / y
    raise Fail(f"invalid operation: {go_type(a)} / {go_type(b)}")


def mod(a: Any, b: Any) -> Any:
    if type(a) is int and type(b) is int:
        if b == 0:
            raise Fail("runtime error: integer divide by zero")
        remainder = abs(a) % abs(b)
        return -remainder if a < 0 else remainder
    raise Fail(f"invalid operation: {go_type(a)} % {go_type(b)}")


def power(a: Any, b: Any) -> Any:
    """`**` converts both sides to float64 first (runtime.Exponent): a non-number fails there."""
    x, y = to_float(a), to_float(b)
    try:
        return math.pow(x, y)
    except OverflowError:
        return math.inf
    except ValueError:
        return math.nan


def to_float(value: Any) -> float:
    if is_number(value):
        return float(value)
    raise Fail(f"invalid operation: float({go_type(value)})")


def _ordered(a: Any, b: Any, op: str) -> tuple[int, int]:
    """The instants (or nanoseconds) to compare when `a` and `b` are both times (durations)."""
    keys = times.ordering_key(a, b)
    if keys is None:
        raise Fail(f"invalid operation: {go_type(a)} {op} {go_type(b)}")
    return keys


def lt(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ((ta is int or ta is float) and (tb is int or tb is float)) or (ta is str and tb is str):
        return a < b
    x, y = _ordered(a, b, "<")
    return x < y


def gt(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ((ta is int or ta is float) and (tb is int or tb is float)) or (ta is str and tb is str):
        return a > b
    x, y = _ordered(a, b, ">")
    return x > y


def le(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ((ta is int or ta is float) and (tb is int or tb is float)) or (ta is str and tb is str):
        return a <= b
    x, y = _ordered(a, b, "<=")
    return x <= y


def ge(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ((ta is int or ta is float) and (tb is int or tb is float)) or (ta is str and tb is str):
        return a >= b
    x, y = _ordered(a, b, ">=")
    return x >= y


def deep_equal(a: Any, b: Any) -> bool:
    """Go's reflect.DeepEqual on decoded values: the types must match exactly."""
    ta, tb = type(a), type(b)
    if ta is not tb:
        return False
    if ta is list:
        return len(a) == len(b) and all(_equal_step(x, y) for x, y in zip(a, b, strict=True))
    if ta is dict:
        return a.keys() == b.keys() and all(_equal_step(a[k], b[k]) for k in a)
    return a == b


def _equal_step(a: Any, b: Any) -> bool:
    budget.current().step()  # comparing two large values is a loop of its own
    return deep_equal(a, b)


def equal(a: Any, b: Any) -> bool:
    """expr-lang's `==` (runtime.Equal, vm/runtime/helpers/main.go): numbers compare by value
    whatever their kind, arrays element by element with `==` itself (`[1] == [1.0]`), anything
    else (maps) with reflect.DeepEqual, where the kinds must match (`{"a": 1} != {"a": 1.0}`)."""
    ta, tb = type(a), type(b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return a == b
    if ta is not tb:
        return False
    if ta is str or ta is bool or a is None:
        return a == b
    if ta is list:
        step = budget.current().step
        return len(a) == len(b) and all(step() or equal(x, y) for x, y in zip(a, b, strict=True))
    if ta is times.GoTime:  # Time.Equal: the same instant, whatever the location
        return a.instant == b.instant
    return deep_equal(a, b)


def not_equal(a: Any, b: Any) -> bool:
    return not equal(a, b)


def contained(needle: Any, haystack: Any) -> bool:
    """`needle in haystack`."""
    kind = type(haystack)
    if haystack is None:
        return False
    if kind is list:
        step = budget.current().step
        return any(step() or equal(item, needle) for item in haystack)
    if kind is dict:
        try:
            return needle in haystack
        except TypeError:
            return False
    raise Fail(f'operator "in" not defined on {go_type(haystack)}')


# `contains`, `startsWith`, `endsWith` and `matches` answer false when either side is nil (a
# missing field), as expr-lang's vm (OpContains, OpStartsWith, OpEndsWith, OpMatches) does.


def contains(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    return as_string(b) in as_string(a)


def starts_with(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    return as_string(a).startswith(as_string(b))


def ends_with(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    return as_string(a).endswith(as_string(b))


def make_range(a: Any, b: Any) -> list[int]:
    """`a..b`; the vm converts both ends with ToInt, so float bounds are truncated (`1.9..3`)."""
    low, high = to_int(a), to_int(b)
    budget.current().allocate(max(high - low + 1, 0))
    return list(range(low, high + 1))


def negate(value: Any) -> Any:
    kind = type(value)
    if kind is int:
        return wrap_int(-value)
    if kind is float:
        return -value
    raise Fail(f"invalid operation: - {go_type(value)}")


def plus(value: Any) -> Any:
    if is_number(value):
        return value
    raise Fail(f"invalid operation: + {go_type(value)}")


def fetch(source: Any, key: Any) -> Any:
    """`source[key]` / `source.key` (runtime.Fetch): a missing map key is nil, an index counts
    from the end when negative, a string's element is a byte (Go's uint8); fetching from nil fails."""
    kind = type(source)
    if kind is dict:
        try:
            return source.get(key)
        except TypeError:
            return None
    if kind is list or kind is str:
        index = to_int(key)
        length = len(source) if kind is list else byte_length(source)
        if index < 0:
            index += length
        if index < 0 or index >= length:
            raise Fail(f"index out of range: {index} (array length is {length})")
        return source[index] if kind is list else byte_at(source, index)
    if isinstance(source, times.TIME_VALUES):
        raise Fail(times.method_message(go_type(source), go_v(key)))
    raise Fail(f"cannot fetch {go_v(key)} from {go_type(source)}")


def length(value: Any) -> int:
    """`len(value)` (runtime.Len): a string's length is its number of bytes."""
    kind = type(value)
    if kind is str:
        return byte_length(value)
    if kind is list or kind is dict:
        return len(value)
    raise Fail(f"invalid argument for len (type {go_type(value)})")


def slice_of(source: Any, start: Any, end: Any) -> Any:
    """`source[start:end]` (runtime.Slice), bounds clamped; strings are cut by bytes. A missing
    end is `len(source)`, a missing start 0, as the compiler emits them."""
    high = length(source) if end is None else end
    low = 0 if start is None else start
    kind = type(source)
    if kind is not list and kind is not str:
        raise Fail(f"cannot slice {go_v(low)}")  # Go names the start here, not the value
    size = len(source) if kind is list else byte_length(source)
    a, b = to_int(low), to_int(high)
    if a < 0:
        a = max(size + a, 0)
    if b < 0:
        b = max(size + b, 0)
    b = min(b, size)
    a = min(a, b)
    return source[a:b] if kind is list else byte_slice(source, a, b)


def iterable(value: Any) -> list[Any]:
    """The array a predicate builtin walks."""
    if type(value) is list:
        return value
    if value is None:
        raise Fail("reflect: call of reflect.Value.Len on zero Value")
    raise Fail(f"cannot iterate over {go_type(value)}")
