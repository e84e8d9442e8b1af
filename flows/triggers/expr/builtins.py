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
from flows.triggers.expr import budget, times
from flows.triggers.expr import runtime as rt
from flows.triggers.expr.errors import Fail
from flows.triggers.expr.gostrings import from_utf8, go_v, printable, utf8


def _type(value: Any) -> str:
    if value is None:
        return "nil"
    kind = type(value)
    return _TYPE_NAMES.get(kind, "func" if callable(value) else "unknown")


# builtin Type: a named Go type shows with its package, other pointers (a location) as unknown.
_TYPE_NAMES = {
    bool: "bool",
    int: "int",
    float: "float",
    str: "string",
    list: "array",
    dict: "map",
    times.GoTime: "time.Time",
    times.GoDuration: "time.Duration",
}


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
    if kind is str:  # strconv.Atoi: an optional sign and decimal digits, within int64
        digits = value[1:] if value[:1] in "+-" else value
        if digits.isascii() and digits.isdigit():
            number = int(value, 10)
            if rt.INT64_MIN <= number <= rt.INT64_MAX:
                return number
        raise Fail(f"invalid operation: int({value})")
    raise Fail(f"invalid operation: int({go_type(value)})")


def _float(value: Any) -> float:
    kind = type(value)
    if kind is int or kind is float:
        return float(value)
    if kind is str:  # strconv.ParseFloat; Python's float() also takes `_` and spaces, Go does not
        try:
            if "_" in value or value != value.strip():
                raise ValueError
            return float(value)
        except ValueError:
            raise Fail(f"invalid operation: float({value})") from None
    raise Fail(f"invalid operation: float({go_type(value)})")


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
    """strings.Index: a byte offset."""
    text, part = rt.as_string(value), rt.as_string(sub)
    return text.find(part) if text.isascii() else utf8(text).find(utf8(part))


def _last_index_of(value: Any, sub: Any) -> int:
    text, part = rt.as_string(value), rt.as_string(sub)
    return text.rfind(part) if text.isascii() else utf8(text).rfind(utf8(part))


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
    """`max`/`min` (builtin minMax): over numbers and arrays of them, nested; nil for no number.
    A single argument that is neither is returned as it is."""

    def extreme(args: tuple[Any, ...]) -> Any:
        best = None
        for arg in _stepping(args):
            kind = type(arg)
            if kind is list:
                for item in arg:
                    value = extreme((item,))
                    if not rt.is_number(value):
                        raise Fail(f"invalid argument for {name} (type {go_type(value)})")
                    if best is None or better(value, best):
                        best = value
            elif kind is int or kind is float:
                if best is None or better(arg, best):
                    best = arg
            elif len(args) == 1:
                return arg
            else:
                raise Fail(f"invalid argument for {name} (type {go_type(arg)})")
        return best

    return lambda *args: extreme(args)


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
        return json.dumps(printable(value), ensure_ascii=False).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
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
    if kind is times.GoTime:
        return '"' + value.rfc3339() + '"'
    if kind is times.GoDuration:
        return str(value.nanoseconds)
    if kind is times.Location:
        return "{}"  # no exported fields
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
        return from_utf8(base64.b64decode(rt.as_string(value), validate=True))
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


def _kind(value: Any) -> str:
    """Go's reflect.Kind of a value, as the run-time errors of builtins name it."""
    if value is None:
        return "invalid"
    kind = type(value)
    return "slice" if kind is list else "map" if kind is dict else go_type(value)


def _take(value: Any, count: Any) -> list[Any]:
    if type(value) is not list:
        raise Fail(f"cannot take from {_kind(value)}")
    if type(count) is not int:
        raise Fail(f"cannot take {_kind(count)} elements")
    return value[: max(count, 0)]


def _keys(value: Any) -> list[Any]:
    if type(value) is not dict:
        raise Fail(f"cannot get keys from {_kind(value)}")
    return list(value.keys())


def _values(value: Any) -> list[Any]:
    if type(value) is not dict:
        raise Fail(f"cannot get values from {_kind(value)}")
    return list(value.values())


def _sort(value: Any, order: Any = "asc") -> list[Any]:
    if type(value) is not list:
        raise Fail(f"sort() expects array, got {go_type(value)}")
    if order not in ("asc", "desc"):
        raise Fail(f"invalid order {go_v(order)}, expected asc or desc")  # builtin/builtin.go, sort
    if all(rt.is_number(v) for v in value) or all(type(v) is str for v in value):
        return sorted(value, reverse=order == "desc")
    raise Fail("sort() expects array of numbers or strings")


def _reverse(value: Any) -> list[Any]:
    if type(value) is not list:
        raise Fail(f"cannot reverse {_kind(value)}")
    return value[::-1]


def _uniq(value: Any) -> list[Any]:
    if type(value) is not list:
        raise Fail(f"cannot uniq {_kind(value)}")
    out: list[Any] = []
    for item in value:
        if not any(rt.equal(item, seen) and type(item) is type(seen) for seen in _stepping(out)):
            out.append(item)
    return out


def _concat(*arrays: Any) -> list[Any]:
    out: list[Any] = []
    for array in arrays:
        if type(array) is not list:
            raise Fail(f"cannot concat {_kind(array)}")
        out.extend(array)
    return out


def _flatten(value: Any) -> list[Any]:
    if type(value) is not list:
        raise Fail(f"cannot flatten {_kind(value)}")
    out: list[Any] = []
    for item in _stepping(value):
        out.extend(_flatten(item) if type(item) is list else [item])
    return out


def _to_pairs(value: Any) -> list[list[Any]]:
    if type(value) is not dict:
        raise Fail(f"cannot transform {_kind(value)} to pairs")
    return [[key, item] for key, item in _stepping(value.items())]


def _from_pairs(value: Any) -> dict[Any, Any]:
    if type(value) is not list:
        raise Fail(f"cannot transform {go_v(value)} from pairs")
    out: dict[Any, Any] = {}
    for pair in _stepping(value):
        if type(pair) is not list:
            raise Fail(f"invalid pair {go_v(pair)}")
        if len(pair) != 2:
            raise Fail(f"invalid pair length {go_v(pair)}")
        try:
            out[pair[0]] = pair[1]
        except TypeError:  # an array or a map as a key: Go panics on an unhashable key too
            raise Fail(f"runtime error: hash of unhashable type {go_type(pair[0])}") from None
    return out


def _as_int(name: str, value: Any) -> int:
    if type(value) is not int:
        raise Fail(f"cannot use {go_type(value)} as argument (type int) to call {name}")
    return value


def _bitwise(name: str, operation: Callable[[int, int], int], shift: bool = False) -> Callable[[Any, Any], int]:
    def apply(x: Any, y: Any) -> int:
        a, b = _as_int(name, x), _as_int(name, y)
        if shift and b < 0:
            raise Fail(f"invalid operation: negative shift count {b} (type int)")
        return rt.wrap_int(operation(a, b))

    return apply


def _bitnot(value: Any) -> int:
    return ~_as_int("bitnot", value)


def _shift_left(x: int, y: int) -> int:
    return 0 if y >= 64 else x << y


def _shift_right_unsigned(x: int, y: int) -> int:
    return (x % 2**64) >> y


def _upper(value: Any) -> str:
    return rt.as_string(value).upper()


def _lower(value: Any) -> str:
    return rt.as_string(value).lower()


# Builtins that return one of their arguments' elements rather than build a value.
RETURNS_EXISTING = {"first", "last", "get"}

# name → (minimum arguments, maximum arguments or None, function)
BUILTINS: dict[str, tuple[int, int | None, Callable[..., Any]]] = {
    "len": (1, 1, rt.length),
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
    "toPairs": (1, 1, _to_pairs),
    "fromPairs": (1, 1, _from_pairs),
    "bitand": (2, 2, _bitwise("bitand", lambda x, y: x & y)),
    "bitor": (2, 2, _bitwise("bitor", lambda x, y: x | y)),
    "bitxor": (2, 2, _bitwise("bitxor", lambda x, y: x ^ y)),
    "bitnand": (2, 2, _bitwise("bitnand", lambda x, y: x & ~y)),
    "bitshl": (2, 2, _bitwise("bitshl", _shift_left, shift=True)),
    "bitshr": (2, 2, _bitwise("bitshr", lambda x, y: x >> y, shift=True)),
    "bitushr": (2, 2, _bitwise("bitushr", _shift_right_unsigned, shift=True)),
    "bitnot": (1, 1, _bitnot),
    "sum": (1, 1, _sum),
    "now": (0, 1, times.now),
    "date": (1, 4, times.date),
    "duration": (1, 1, times.duration),
    "timezone": (1, 1, times.timezone),
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


# -- compile-time checks ---------------------------------------------------------------------
# expr-lang's checker validates a builtin's arguments whose types it knows (literals and the
# results of typed operations; anything read from the environment is unknown: `None` here), with
# the texts of builtin/builtin.go: a builtin declared with Go signatures reports a wrong count or
# an unassignable argument like a Go call (the trailing space is expr-lang's); one with its own
# validation reports in its words. A `Mistake` is the text and the argument it points at (None:
# the call itself).

Mistake = tuple[str, int | None]
_ANY, _S, _I = "interface {}", "string", "int"
NUMBERS = {"int", "float64"}
ARRAYS = {"[]interface {}", "[]string"}
TIME, DURATION, LOCATION = times.GoTime.GO_TYPE, times.GoDuration.GO_TYPE, times.Location.GO_TYPE
MAPS = {"map[string]interface {}", "map[interface {}]interface {}", "map[interface {}][]interface {}"}

_SIGNATURES: dict[str, list[list[str]]] = {
    "type": [[_ANY]],
    "string": [[_ANY]],
    "toJSON": [[_ANY]],
    "trim": [[_S], [_S, _S]],
    "trimPrefix": [[_S, _S], [_S]],
    "trimSuffix": [[_S, _S], [_S]],
    "upper": [[_S]],
    "lower": [[_S]],
    "split": [[_S, _S], [_S, _S, _I]],
    "splitAfter": [[_S, _S], [_S, _S, _I]],
    "replace": [[_S, _S, _S, _I], [_S, _S, _S]],
    "repeat": [[_S, _I]],
    "join": [["[]string", _S], ["[]interface {}", _S], ["[]interface {}"], ["[]string", _S], ["[]string"]],
    "indexOf": [[_S, _S]],
    "lastIndexOf": [[_S, _S]],
    "hasPrefix": [[_S, _S]],
    "hasSuffix": [[_S, _S]],
    "fromJSON": [[_S]],
    "toBase64": [[_S]],
    "fromBase64": [[_S]],
    "sort": [
        ["[]interface {}", _S],
        ["[]int", _S],
        ["[]float64", _S],
        ["[]string", _S],
        ["[]interface {}"],
        ["[]float64"],
        ["[]string"],
        ["[]int"],
    ],
    "bitnot": [[_I]],
    "duration": [[_S]],
    "timezone": [[_S]],
    **{name: [[_I, _I]] for name in ("bitand", "bitor", "bitxor", "bitnand", "bitshl", "bitshr", "bitushr")},
}


def _against(name: str, params: list[str], natures: list[str | None]) -> Mistake | None:
    if len(natures) > len(params):
        return f"too many arguments to call {name}", None
    if len(natures) < len(params):
        return f"not enough arguments to call {name}", None
    for index, (param, nature) in enumerate(zip(params, natures, strict=True)):
        if nature is None or param in (_ANY, nature):
            continue
        if nature == "nil":
            return f"cannot use nil as argument (type {param}) to call {name}", index
        return f"cannot use {nature} as argument (type {param}) to call {name} ", index
    return None


def _typed(value: str | None) -> str:
    return "%!s(<nil>)" if value == "nil" else str(value)  # Go's %s of a nil reflect.Type


def _count(natures: list[str | None], expected: int) -> Mistake | None:
    if len(natures) != expected:
        return f"invalid number of arguments (expected {expected}, got {len(natures)})", None
    return None


def _one_of(natures: list[str | None], kinds: set[str], text: str) -> Mistake | None:
    """A mistake when the single argument is known and not of `kinds` (`{}` in `text`: its type)."""
    nature = natures[0]
    if nature is not None and nature not in kinds:
        return text.format(_typed(nature)), None
    return None


_SINGLE: dict[str, tuple[set[str], str]] = {
    "len": (ARRAYS | MAPS | {_S}, "invalid argument for len (type {})"),
    "abs": (NUMBERS, "invalid argument for abs (type {})"),
    "ceil": (NUMBERS, "invalid argument for ceil (type {})"),
    "floor": (NUMBERS, "invalid argument for floor (type {})"),
    "round": (NUMBERS, "invalid argument for round (type {})"),
    "int": (NUMBERS | {_S}, "invalid argument for int (type {})"),
    "float": (NUMBERS | {_S}, "invalid argument for float (type {})"),
    "first": (ARRAYS, "cannot get first element from {}"),
    "last": (ARRAYS, "cannot get last element from {}"),
    "keys": (MAPS, "cannot get keys from {}"),
    "values": (MAPS, "cannot get values from {}"),
    "toPairs": (MAPS, "cannot transform {} to pairs"),
    "fromPairs": (ARRAYS, "cannot transform {} from pairs"),
    "reverse": (ARRAYS, "cannot reverse {}"),
    "uniq": (ARRAYS, "cannot uniq {}"),
    "flatten": (ARRAYS, "cannot flatten {}"),
}


def _check_get(natures: list[str | None]) -> Mistake | None:
    base, key = natures
    if base is None:
        return None
    if base in ARRAYS:
        return (f"non-integer slice index {key}", 1) if key not in (None, _I) else None
    if base in MAPS:
        typed_keys = base == "map[string]interface {}"
        return (f"cannot use {key} to get an element from {base}", 1) if typed_keys and key not in (None, _S) else None
    return f"type {'unknown' if base == 'nil' else base} does not support indexing", 0


def _check_take(natures: list[str | None]) -> Mistake | None:
    array, count = natures
    if array is not None and array not in ARRAYS:
        return f"cannot take from {_typed(array)}", None
    if count is not None and count != _I:
        return f"cannot take {_typed(count)} elements", None
    return None


def _check_aggregate(name: str, natures: list[str | None]) -> Mistake | None:
    if not natures:
        return f"not enough arguments to call {name}", None
    for nature in natures:
        if nature is not None and nature not in NUMBERS | ARRAYS:
            return f"invalid argument for {name} (type {_typed(nature)})", None
    return None


def _check_concat(natures: list[str | None]) -> Mistake | None:
    if not natures:
        return "invalid number of arguments (expected at least 1, got 0)", None
    for nature in natures:
        if nature is not None and nature not in ARRAYS:
            return f"cannot concat {_typed(nature)}", None
    return None


def _check_now(natures: list[str | None]) -> Mistake | None:
    if natures == [] or natures == [LOCATION]:
        return None
    return f"invalid number of arguments (expected 0, got {len(natures)})", None


def _check_date(natures: list[str | None]) -> Mistake | None:
    if not natures:
        return "invalid number of arguments (expected at least 1, got 0)", None
    count = len(natures) - (natures[0] == LOCATION)
    if count > 3:
        return f"invalid number of arguments (expected at most 3, got {count})", None
    return None


def check_arguments(name: str, natures: list[str | None]) -> Mistake | None:
    """The checker's complaint about calling builtin `name` with arguments of `natures`, if any."""
    if name in _SIGNATURES:
        mistake = None
        for params in _SIGNATURES[name]:
            mistake = _against(name, params, natures)
            if mistake is None:
                return None
        return mistake
    if name in _SINGLE:
        kinds, text = _SINGLE[name]
        return _count(natures, 1) or _one_of(natures, kinds, text)
    if name == "get":
        return _count(natures, 2) or _check_get(natures)
    if name == "take":
        return _count(natures, 2) or _check_take(natures)
    if name in ("max", "min", "mean", "median"):
        return _check_aggregate(name, natures)
    if name == "concat":
        return _check_concat(natures)
    if name == "now":
        return _check_now(natures)
    if name == "date":
        return _check_date(natures)
    return None


_RESULTS = {
    **dict.fromkeys(("len", "int", "indexOf", "lastIndexOf", "bitnot", "bitand", "bitor", "bitxor"), _I),
    **dict.fromkeys(("bitnand", "bitshl", "bitshr", "bitushr"), _I),
    **dict.fromkeys(("float", "ceil", "floor", "round", "mean", "median"), "float64"),
    **dict.fromkeys(("type", "string", "trim", "trimPrefix", "trimSuffix", "upper", "lower"), _S),
    **dict.fromkeys(("replace", "repeat", "join", "toJSON", "toBase64", "fromBase64"), _S),
    **dict.fromkeys(("hasPrefix", "hasSuffix"), "bool"),
    **dict.fromkeys(("split", "splitAfter"), "[]string"),
    **dict.fromkeys(("keys", "values", "toPairs", "concat", "flatten", "uniq", "sort", "reverse"), "[]interface {}"),
    "fromPairs": "map[interface {}]interface {}",
    "now": TIME,
    "date": TIME,
    "duration": DURATION,
    "timezone": LOCATION,
}


def result_nature(name: str, natures: list[str | None]) -> str | None:
    """The type the checker gives a builtin's result (None: unknown)."""
    if name == "abs" and natures and natures[0] in NUMBERS:
        return natures[0]
    return _RESULTS.get(name)
