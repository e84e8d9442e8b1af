"""Run-time operations with expr-lang's semantics (Go's int/float64 rules and error texts)."""

from __future__ import annotations

import math
from typing import Any, NoReturn

from flows.gocompat.values import assertion_type, go_type
from flows.triggers.expr import budget
from flows.triggers.expr.errors import Fail
from flows.triggers.expr.gostrings import go_v

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


def as_string(value: Any) -> str:
    if type(value) is str:
        return value
    raise Fail(f"interface conversion: interface {{}} is {assertion_type(value)}, not string")


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
    raise Fail(f"invalid operation: {go_type(a)} + {go_type(b)}")


def sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return wrap_int(a - b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return float(a) - float(b)
    raise Fail(f"invalid operation: {go_type(a)} - {go_type(b)}")


def mul(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is int and tb is int:
        return wrap_int(a * b)
    if (ta is int or ta is float) and (tb is int or tb is float):
        return float(a) * float(b)
    raise Fail(f"invalid operation: {go_type(a)} * {go_type(b)}")


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
    if is_number(a) and is_number(b):
        try:
            return math.pow(float(a), float(b))
        except OverflowError:
            return math.inf
        except ValueError:
            return math.nan
    raise Fail(f"invalid operation: {go_type(a)} ** {go_type(b)}")


def _comparable(a: Any, b: Any, op: str) -> NoReturn:
    raise Fail(f"invalid operation: {go_type(a)} {op} {go_type(b)}")


def lt(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ((ta is int or ta is float) and (tb is int or tb is float)) or (ta is str and tb is str):
        return a < b
    _comparable(a, b, "<")


def gt(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ((ta is int or ta is float) and (tb is int or tb is float)) or (ta is str and tb is str):
        return a > b
    _comparable(a, b, ">")


def le(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ((ta is int or ta is float) and (tb is int or tb is float)) or (ta is str and tb is str):
        return a <= b
    _comparable(a, b, "<=")


def ge(a: Any, b: Any) -> bool:
    ta, tb = type(a), type(b)
    if ((ta is int or ta is float) and (tb is int or tb is float)) or (ta is str and tb is str):
        return a >= b
    _comparable(a, b, ">=")


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
    if type(a) is int and type(b) is int:
        budget.current().allocate(max(b - a + 1, 0))
        return list(range(a, b + 1))
    raise Fail(f"invalid operation: {go_type(a)} .. {go_type(b)}")


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
    """`source[key]` / `source.key`: a missing map key is nil; fetching from nil fails."""
    kind = type(source)
    if kind is dict:
        try:
            return source.get(key)
        except TypeError:
            return None
    if kind is list or kind is str:
        index = to_int(key)
        length = len(source)
        if index < 0:
            index += length
        if index < 0 or index >= length:
            raise Fail(f"index out of range: {index} (array length is {length})")
        return source[index]
    raise Fail(f"cannot fetch {go_v(key)} from {go_type(source)}")


def slice_of(source: Any, start: Any, end: Any) -> Any:
    kind = type(source)
    if kind is list or kind is str:
        length = len(source)
        a = 0 if start is None else to_int(start)
        b = length if end is None else to_int(end)
        if a < 0:
            a = max(length + a, 0)
        if b < 0:
            b = max(length + b, 0)
        b = min(b, length)
        a = min(a, b)
        return source[a:b]
    raise Fail(f"cannot slice {go_type(source)}")


def iterable(value: Any) -> list[Any]:
    """The array a predicate builtin walks."""
    if type(value) is list:
        return value
    if value is None:
        raise Fail("reflect: call of reflect.Value.Len on zero Value")
    raise Fail(f"cannot iterate over {go_type(value)}")
