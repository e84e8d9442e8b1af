"""expr-lang's builtin functions (those that take plain values; predicates live in the compiler).

The compiler counts the string, array or map a builtin returns against the evaluation's memory
budget; builtins whose result can be far larger than their arguments (`repeat`, `replace`) check
that it fits before building it, and those that loop in Python over a value take a budget step
per element (flows.triggers.expr.budget).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from typing import Any

from flows.gocompat.values import go_json_float, go_type
from flows.triggers.expr import budget
from flows.triggers.expr import runtime as rt
from flows.triggers.expr.errors import Fail
from flows.triggers.expr.gostrings import go_v


def _len(value: Any) -> int:
    kind = type(value)
    if kind is str or kind is list or kind is dict:
        return len(value)
    raise Fail(f"invalid argument for len (type {go_type(value)})")


def _type(value: Any) -> str:
    if value is None:
        return "nil"
    kind = type(value)
    return {bool: "bool", int: "int", float: "float", str: "string", list: "array", dict: "map"}.get(
        kind, "func" if callable(value) else kind.__name__
    )


def _abs(value: Any) -> Any:
    if rt.is_number(value):
        return abs(value)
    raise Fail(f"invalid argument for abs (type {go_type(value)})")


def _rounding(name: str, operation: Callable[[float], float]) -> Callable[[Any], Any]:
    def apply(value: Any) -> Any:
        if type(value) is int:
            return float(value)
        if type(value) is float:
            if math.isnan(value) or math.isinf(value):
                return value
            return float(operation(value))
        raise Fail(f"invalid argument for {name} (type {go_type(value)})")

    return apply


def _round_half_away(value: float) -> float:
    return math.copysign(math.floor(abs(value) + 0.5), value)


def _int(value: Any) -> int:
    kind = type(value)
    if kind is int:
        return value
    if kind is float:
        return rt.to_int(value)
    if kind is str:
        text = value.strip() if False else value
        try:
            if not text or text != text.strip() or "_" in text:
                raise ValueError
            return rt.wrap_int(int(text, 10))
        except ValueError:
            raise Fail(f'strconv.Atoi: parsing "{value}": invalid syntax') from None
    raise Fail(f"invalid argument for int (type {go_type(value)})")


def _float(value: Any) -> float:
    kind = type(value)
    if kind is int or kind is float:
        return float(value)
    if kind is str:
        try:
            if "_" in value or value != value.strip():
                raise ValueError
            return float(value)
        except ValueError:
            raise Fail(f'strconv.ParseFloat: parsing "{value}": invalid syntax') from None
    raise Fail(f"invalid argument for float (type {go_type(value)})")


def _string(value: Any) -> str:
    return go_v(value)


def _trim(value: Any, chars: Any = None) -> str:
    if chars is None:
        return rt.as_string(value).strip(" \t\n\r\v\f\x85\xa0")
    return rt.as_string(value).strip(rt.as_string(chars))


def _trim_prefix(value: Any, prefix: Any = " ") -> str:
    return rt.as_string(value).removeprefix(rt.as_string(prefix))


def _trim_suffix(value: Any, suffix: Any = " ") -> str:
    return rt.as_string(value).removesuffix(rt.as_string(suffix))


def _split(value: Any, separator: Any, count: Any = None) -> list[str]:
    text, sep = rt.as_string(value), rt.as_string(separator)
    limit = -1 if count is None else rt.to_int(count)
    if limit == 0:
        return []
    if sep == "":
        parts = list(text)
        if limit > 0 and len(parts) > limit:
            parts = [*parts[: limit - 1], "".join(parts[limit - 1 :])]
        return parts
    return text.split(sep, limit - 1) if limit > 0 else text.split(sep)


def _split_after(value: Any, separator: Any, count: Any = None) -> list[str]:
    text, sep = rt.as_string(value), rt.as_string(separator)
    limit = -1 if count is None else rt.to_int(count)
    if limit == 0:
        return []
    parts = _split(text, sep, count)
    return [part + sep for part in parts[:-1]] + parts[-1:] if sep else parts


def _replace(value: Any, old: Any, new: Any, count: Any = None) -> str:
    limit = -1 if count is None else rt.to_int(count)
    text, old_text, new_text = rt.as_string(value), rt.as_string(old), rt.as_string(new)
    # An empty `old` matches between every two characters.
    matches = text.count(old_text) if old_text else len(text) + 1
    if limit >= 0:
        matches = min(matches, limit)
    budget.current().require(len(text) + matches * (len(new_text) - len(old_text)))
    return text.replace(old_text, new_text, limit)


def _repeat(value: Any, count: Any) -> str:
    text, n = rt.as_string(value), rt.to_int(count)
    if n < 0:
        raise Fail(f"invalid argument for repeat (expected positive integer, got {n})")
    budget.current().require(len(text) * n)
    return text * n


def _join(value: Any, glue: Any = "") -> str:
    if type(value) is not list:
        raise Fail(f"invalid argument for join (type {go_type(value)})")
    items = [rt.as_string(item) for item in _stepping(value)]
    separator = rt.as_string(glue)
    budget.current().require(sum(map(len, items)) + len(separator) * max(len(items) - 1, 0))
    return separator.join(items)


def _stepping(values: Any) -> Any:
    """`values`, one budget step per element."""
    step = budget.current().step
    for value in values:
        step()
        yield value


def _index_of(value: Any, sub: Any) -> int:
    return rt.as_string(value).find(rt.as_string(sub))


def _last_index_of(value: Any, sub: Any) -> int:
    return rt.as_string(value).rfind(rt.as_string(sub))


def _has_prefix(value: Any, prefix: Any) -> bool:
    return rt.as_string(value).startswith(rt.as_string(prefix))


def _has_suffix(value: Any, suffix: Any) -> bool:
    return rt.as_string(value).endswith(rt.as_string(suffix))


def _flatten_numbers(name: str, args: tuple[Any, ...]) -> list[Any]:
    values: list[Any] = []
    for arg in _stepping(args):
        if type(arg) is list:
            values.extend(_flatten_numbers(name, tuple(arg)))
        elif rt.is_number(arg):
            values.append(arg)
        else:
            raise Fail(f"invalid argument for {name} (type {go_type(arg)})")
    return values


def _min_max(name: str, better: Callable[[Any, Any], bool]) -> Callable[..., Any]:
    def apply(*args: Any) -> Any:
        values = _flatten_numbers(name, args)
        if not values:
            raise Fail(f"not enough arguments to call {name}")
        best = values[0]
        for value in values[1:]:
            if better(value, best):
                best = value
        return best

    return apply


def _sum(value: Any) -> Any:
    if type(value) is not list:
        raise Fail(f"invalid argument for sum (type {go_type(value)})")
    total: Any = 0
    for item in _stepping(value):
        total = rt.add(total, item) if rt.is_number(item) else _bad("sum", item)
    return total


def _bad(name: str, value: Any) -> Any:
    raise Fail(f"invalid argument for {name} (type {go_type(value)})")


def _mean(*args: Any) -> float:
    values = _flatten_numbers("mean", args)
    return sum(float(v) for v in values) / len(values) if values else 0.0


def _median(*args: Any) -> float:
    values = sorted(float(v) for v in _flatten_numbers("median", args))
    n = len(values)
    if n == 0:
        return 0.0
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def _json_value(value: Any) -> Any:
    return value


def _to_json(value: Any) -> str:
    return _encode(value, "")


def _encode(value: Any, indent: str) -> str:
    kind = type(value)
    if value is None:
        return "null"
    if kind is bool:
        return "true" if value else "false"
    if kind is int:
        return str(value)
    if kind is float:
        try:
            return go_json_float(value)
        except ValueError as error:
            raise Fail(str(error)) from None
    if kind is str:
        return json.dumps(value, ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    inner = indent + "  "
    if kind is list:
        if not value:
            return "[]"
        return "[\n" + ",\n".join(inner + _encode(item, inner) for item in _stepping(value)) + "\n" + indent + "]"
    if kind is dict:
        if not value:
            return "{}"
        items = sorted(value.items(), key=lambda item: str(item[0]))
        return (
            "{\n"
            + ",\n".join(inner + _encode(str(key), inner) + ": " + _encode(item, inner) for key, item in _stepping(items))
            + "\n"
            + indent
            + "}"
        )
    raise Fail(f"json: unsupported type: {go_type(value)}")


def _from_json(value: Any) -> Any:
    try:
        return json.loads(rt.as_string(value), parse_int=float, parse_constant=_reject)
    except json.JSONDecodeError as error:
        raise Fail(f"invalid character in JSON: {error.msg}") from None


def _reject(name: str) -> Any:
    raise json.JSONDecodeError(f"invalid character '{name[0]}' looking for beginning of value", name, 0)


def _to_base64(value: Any) -> str:
    return base64.b64encode(rt.as_string(value).encode()).decode()


def _from_base64(value: Any) -> str:
    try:
        return base64.b64decode(rt.as_string(value), validate=True).decode("utf-8", "replace")
    except ValueError as error:
        raise Fail(f"illegal base64 data: {error}") from None


def _first(value: Any) -> Any:
    try:
        return rt.fetch(value, 0)
    except Fail:
        return None


def _last(value: Any) -> Any:
    try:
        return rt.fetch(value, -1)
    except Fail:
        return None


def _get(value: Any, key: Any) -> Any:
    try:
        return rt.fetch(value, key)
    except Fail:
        return None


def _take(value: Any, count: Any) -> list[Any]:
    if type(value) is not list:
        raise Fail(f"cannot take from {_type(value)}")
    if type(count) is not int:
        raise Fail(f"cannot take {go_v(count)} elements")
    return value[: max(count, 0)]


def _keys(value: Any) -> list[Any]:
    if type(value) is not dict:
        raise Fail(f"cannot get keys from {go_type(value)}")
    return list(value.keys())


def _values(value: Any) -> list[Any]:
    if type(value) is not dict:
        raise Fail(f"cannot get values from {go_type(value)}")
    return list(value.values())


def _sort_key(item: Any) -> Any:
    return item


def _sort(value: Any, order: Any = "asc") -> list[Any]:
    if type(value) is not list:
        raise Fail(f"sort() expects array, got {go_type(value)}")
    if order not in ("asc", "desc"):
        raise Fail(f"unknown order {go_v(order)}, use asc or desc")
    if all(rt.is_number(v) for v in value) or all(type(v) is str for v in value):
        return sorted(value, reverse=order == "desc")
    raise Fail("sort() expects array of numbers or strings")


def _reverse(value: Any) -> list[Any]:
    if type(value) is not list:
        raise Fail(f"cannot reverse {go_type(value)}")
    return value[::-1]


def _uniq(value: Any) -> list[Any]:
    if type(value) is not list:
        raise Fail(f"cannot uniq {go_type(value)}")
    out: list[Any] = []
    for item in value:
        if not any(rt.equal(item, seen) and type(item) is type(seen) for seen in _stepping(out)):
            out.append(item)
    return out


def _concat(*arrays: Any) -> list[Any]:
    out: list[Any] = []
    for array in arrays:
        if type(array) is not list:
            raise Fail(f"cannot concat {go_type(array)}")
        out.extend(array)
    return out


def _flatten(value: Any) -> list[Any]:
    if type(value) is not list:
        raise Fail(f"cannot flatten {go_type(value)}")
    out: list[Any] = []
    for item in _stepping(value):
        out.extend(_flatten(item) if type(item) is list else [item])
    return out


def _upper(value: Any) -> str:
    return rt.as_string(value).upper()


def _lower(value: Any) -> str:
    return rt.as_string(value).lower()


# Builtins that return one of their arguments' elements rather than build a value.
RETURNS_EXISTING = {"first", "last", "get"}

# name → (minimum arguments, maximum arguments or None, function)
BUILTINS: dict[str, tuple[int, int | None, Callable[..., Any]]] = {
    "len": (1, 1, _len),
    "type": (1, 1, _type),
    "abs": (1, 1, _abs),
    "ceil": (1, 1, _rounding("ceil", math.ceil)),
    "floor": (1, 1, _rounding("floor", math.floor)),
    "round": (1, 1, _rounding("round", _round_half_away)),
    "int": (1, 1, _int),
    "float": (1, 1, _float),
    "string": (1, 1, _string),
    "trim": (1, 2, _trim),
    "trimPrefix": (1, 2, _trim_prefix),
    "trimSuffix": (1, 2, _trim_suffix),
    "upper": (1, 1, _upper),
    "lower": (1, 1, _lower),
    "split": (2, 3, _split),
    "splitAfter": (2, 3, _split_after),
    "replace": (3, 4, _replace),
    "repeat": (2, 2, _repeat),
    "join": (1, 2, _join),
    "indexOf": (2, 2, _index_of),
    "lastIndexOf": (2, 2, _last_index_of),
    "hasPrefix": (2, 2, _has_prefix),
    "hasSuffix": (2, 2, _has_suffix),
    "max": (1, None, _min_max("max", rt.gt)),
    "min": (1, None, _min_max("min", rt.lt)),
    "mean": (1, None, _mean),
    "median": (1, None, _median),
    "toJSON": (1, 1, _to_json),
    "fromJSON": (1, 1, _from_json),
    "toBase64": (1, 1, _to_base64),
    "fromBase64": (1, 1, _from_base64),
    "first": (1, 1, _first),
    "last": (1, 1, _last),
    "get": (2, 2, _get),
    "take": (2, 2, _take),
    "keys": (1, 1, _keys),
    "values": (1, 1, _values),
    "sort": (1, 2, _sort),
    "reverse": (1, 1, _reverse),
    "uniq": (1, 1, _uniq),
    "concat": (0, None, _concat),
    "flatten": (1, 1, _flatten),
    "sum": (1, 1, _sum),
}

# Builtins whose second argument is a predicate; sum's predicate is optional.
PREDICATES = {
    "all",
    "none",
    "any",
    "one",
    "filter",
    "map",
    "find",
    "findIndex",
    "findLast",
    "findLastIndex",
    "count",
    "groupBy",
    "sortBy",
    "reduce",
}
