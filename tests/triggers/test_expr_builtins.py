"""The builtins of expr-lang v1.17, case by case as expr-lang's own tests expect them
(builtin/builtin_test.go: TestBuiltin, TestBuiltin_errors; expr_test.go: TestExpr), with the
environment's values as a trigger sees them (maps, arrays, numbers, strings, booleans, nil).

Time values (`now`, `date`, `duration`, `timezone`) are checked as a workflow variable shows
them (Go's String()), since their Go methods (`.Year()`, `.Format()`) are not supported. Cases left
out need other Go types: structs and their methods (`ArrayOfFoo`), pointers (`PtrArrayWithNil`)."""

from __future__ import annotations

import time
from typing import Any

import pytest

from flows.triggers.expr import ExprError, compile, evaluate, to_variable_string

ENV: dict[str, Any] = {
    "ArrayOfString": ["foo", "bar", "baz"],
    "ArrayOfInt": [1, 2, 3],
    "ArrayOfAny": [1, "2", True],
}


def same(a: Any, b: Any) -> bool:
    """Equal values of the same Go types (an int is not a float), all the way down."""
    if type(a) is not type(b):
        return False
    if type(a) is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if type(a) is dict:
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize(
    "source, expected",
    [
        ("len(1..10)", 10), ("len({foo: 1, bar: 2})", 2), ('len("hello")', 5),
        ("abs(-5)", 5), ("abs(.5)", 0.5), ("abs(-.5)", 0.5),
        ("ceil(5.5)", 6.0), ("ceil(5)", 5.0), ("floor(5.5)", 5.0), ("floor(5)", 5.0),
        ("round(5.5)", 6.0), ("round(5)", 5.0), ("round(5.49)", 5.0),
        ("int(5.5)", 5), ("int(5)", 5), ('int("5")', 5),
        ("float(5)", 5.0), ("float(5.5)", 5.5), ('float("5.5")', 5.5),
        ("string(5)", "5"), ("string(5.5)", "5.5"), ('string("5.5")', "5.5"),
        ('trim("  foo  ")', "foo"), ('trim("__foo___", "_")', "foo"),
        ('trimPrefix("prefix_foo", "prefix_")', "foo"), ('trimSuffix("foo_suffix", "_suffix")', "foo"),
        ('upper("foo")', "FOO"), ('lower("FOO")', "foo"),
        ('split("foo,bar,baz", ",")', ["foo", "bar", "baz"]), ('split("foo,bar,baz", ",", 2)', ["foo", "bar,baz"]),
        ('splitAfter("foo,bar,baz", ",")', ["foo,", "bar,", "baz"]),
        ('splitAfter("foo,bar,baz", ",", 2)', ["foo,", "bar,baz"]),
        ('replace("foo,bar,baz", ",", ";")', "foo;bar;baz"), ('replace("foo,bar,baz,goo", ",", ";", 2)', "foo;bar;baz,goo"),
        ('repeat("foo", 3)', "foofoofoo"),
        ('join(ArrayOfString, ",")', "foo,bar,baz"), ("join(ArrayOfString)", "foobarbaz"),
        ('join(["foo", "bar", "baz"], ",")', "foo,bar,baz"), ('join(["foo", "bar", "baz"])', "foobarbaz"),
        ('indexOf("foo,bar,baz", ",")', 3), ('lastIndexOf("foo,bar,baz", ",")', 7),
        ('hasPrefix("foo,bar,baz", "foo")', True), ('hasSuffix("foo,bar,baz", "baz")', True),
        ("max(1, 2, 3)", 3), ("max(1.5, 2.5, 3.5)", 3.5), ("max([1, 2, 3])", 3), ("max([1.5, 2.5, 3.5])", 3.5),
        ("max([1, 2, 4, 10], 20, [29, 23, -19])", 29), ("min([1, 2, 4, 10], 20, [29, 23, -19])", -19),
        ("min(1, 2, 3)", 1), ("min(1.5, 2.5, 3.5)", 1.5), ("min([1, 2, 3])", 1), ("min([1.5, 2.5, 3.5])", 1.5),
        ("min(-1, [1.5, 2.5, 3.5])", -1),
        ("sum(1..9)", 45), ("sum([.5, 1.5, 2.5])", 4.5), ("sum([])", 0), ("sum([1, 2, 3.0, 4])", 10.0),
        ("mean(1..9)", 5.0), ("mean([.5, 1.5, 2.5])", 1.5), ("mean([])", 0.0), ("mean([1, 2, 3.0, 4])", 2.5),
        ("mean(10, [1, 2, 3], 1..9)", 4.6923076923076925), ("mean(-10, [1, 2, 3, 4])", 0.0), ("mean(10.9, 1..9)", 5.59),
        ("median(1..9)", 5.0), ("median([.5, 1.5, 2.5])", 1.5), ("median([])", 0.0), ("median([1, 2, 3])", 2.0),
        ("median([1, 2, 3, 4])", 2.5), ("median(10, [1, 2, 3], 1..9)", 4.0), ("median(-10, [1, 2, 3, 4])", 2.0),
        ("median(1..5, 4.9)", 3.5),
        ("toJSON({foo: 1, bar: 2})", '{\n  "bar": 2,\n  "foo": 1\n}'), ('fromJSON("[1, 2, 3]")', [1.0, 2.0, 3.0]),
        ('toBase64("hello")', "aGVsbG8="), ('fromBase64("aGVsbG8=")', "hello"),
        ("first(ArrayOfString)", "foo"), ("first(ArrayOfInt)", 1), ("first(ArrayOfAny)", 1), ("first([])", None),
        ("last(ArrayOfString)", "baz"), ("last(ArrayOfInt)", 3), ("last(ArrayOfAny)", True), ("last([])", None),
        ("get(ArrayOfString, 1)", "bar"), ("get(ArrayOfString, 99)", None), ("get(ArrayOfInt, 1)", 2),
        ("get(ArrayOfInt, -1)", 3), ("get(ArrayOfAny, 1)", "2"),
        ('get({foo: 1, bar: 2}, "foo")', 1), ('get({foo: 1, bar: 2}, "unknown")', None),
        ("take(ArrayOfString, 2)", ["foo", "bar"]), ("take(ArrayOfString, 99)", ["foo", "bar", "baz"]),
        ('"foo" in keys({foo: 1, bar: 2})', True), ("1 in values({foo: 1, bar: 2})", True),
        ("len(toPairs({foo: 1, bar: 2}))", 2), ("len(toPairs({}))", 0),
        ('fromPairs([["foo", 1], ["bar", 2]])', {"foo": 1, "bar": 2}),
        ("fromPairs(toPairs({foo: 1, bar: 2}))", {"foo": 1, "bar": 2}),
        ("groupBy(1..9, # % 2)", {1: [1, 3, 5, 7, 9], 0: [2, 4, 6, 8]}), ("groupBy(1..9, # % 2)[0]", [2, 4, 6, 8]),
        ("groupBy(1..3, # > 1)[true]", [2, 3]), ('groupBy(1..3, # > 1 ? nil : "")[nil]', [2, 3]),
        ("reduce(1..9, # + #acc, 0)", 45), ("reduce(1..9, # + #acc)", 45), ("reduce([.5, 1.5, 2.5], # + #acc, 0)", 4.5),
        ("reduce([], 5, 0)", 0),
        ("concat(ArrayOfString, ArrayOfInt)", ["foo", "bar", "baz", 1, 2, 3]),
        ('flatten([["a", "b"], [1, 2]])', ["a", "b", 1, 2]), ('flatten([["a", "b"], [1, 2, [3, 4]]])', ["a", "b", 1, 2, 3, 4]),
        ('flatten([["a", "b"], [1, 2, [3, [[[["c", "d"], "e"]]], 4]]])', ["a", "b", 1, 2, 3, "c", "d", "e", 4]),
        ('uniq([1, 15, "a", 2, 3, 5, 2, "a", 2, "b"])', [1, 15, "a", 2, 3, 5, "b"]),
        ('uniq([[1, 2], "a", 2, 3, [1, 2], [1, 3]])', [[1, 2], "a", 2, 3, [1, 3]]),
        # expr_test.go, TestExpr
        ("count([true, true, false])", 2), ("count(1..30, {# % 3 == 0})", 10),
        ("findLast(1..9, # % 2 == 0)", 8), ("findLastIndex(1..9, # % 2 == 0)", 7), ("findIndex(1..9, # > 20)", -1),
        ("bitnot(10)", -11), ("bitxor(15, 32)", 47), ("bitand(90, 34)", 2), ("bitnand(35, 9)", 34),
        ("bitor(10, 5)", 15), ("bitshr(7, 2)", 1), ("bitshl(7, 2)", 28), ("bitushr(-100, 5)", 576460752303423484),
        ("max([])", None), ("max(ArrayOfAny[1])", "2"),
    ],
)  # fmt: skip
def test_builtin_values(source: str, expected: Any) -> None:
    assert same(evaluate(source, ENV), expected)


@pytest.mark.parametrize(
    "source, message",
    [
        ("len()", "invalid number of arguments (expected 1, got 0)"),
        ("len(1)", "invalid argument for len (type int)"),
        ("abs()", "invalid number of arguments (expected 1, got 0)"),
        ("abs(1, 2)", "invalid number of arguments (expected 1, got 2)"),
        ('abs("foo")', "invalid argument for abs (type string)"),
        ("int()", "invalid number of arguments (expected 1, got 0)"),
        ("int(1, 2)", "invalid number of arguments (expected 1, got 2)"),
        ("float()", "invalid number of arguments (expected 1, got 0)"),
        ("float(1, 2)", "invalid number of arguments (expected 1, got 2)"),
        ("string(1, 2)", "too many arguments to call string"),
        ("trim()", "not enough arguments to call trim"),
        ("max()", "not enough arguments to call max"),
        ('max(1, "2")', "invalid argument for max (type string)"),
        ("min()", "not enough arguments to call min"),
        ('min(1, "2")', "invalid argument for min (type string)"),
        ('median(1..9, "t")', "invalid argument for median (type string)"),
        ('mean("s", 1..9)', "invalid argument for mean (type string)"),
        ("get()", "invalid number of arguments (expected 2, got 0)"),
        ("get(1, 2)", "type int does not support indexing"),
        ('bitnot("1")', "cannot use string as argument (type int) to call bitnot  (1:8)"),
        ('bitand("1", 1)', "cannot use string as argument (type int) to call bitand  (1:8)"),
        ('"10" | bitor(1)', "cannot use string as argument (type int) to call bitor  (1:1)"),
        ('bitshr("5", 1)', "cannot use string as argument (type int) to call bitshr  (1:8)"),
        ("flatten([1, 2], [3, 4])", "invalid number of arguments (expected 1, got 2)"),
        ("flatten(1)", "cannot flatten int"),
        # the cases
        ("last('abc')", "cannot get last element from string (1:1)"),
        ('repeat("a", 1.5)', "cannot use float64 as argument (type int) to call repeat  (1:13)"),
        ("upper(1)", "cannot use int as argument (type string) to call upper  (1:7)"),
        ("keys([1])", "cannot get keys from []interface {}"),
        ("take(1, 2)", "cannot take from int"),
        ("take([1], 1.5)", "cannot take float64 elements"),
        ('concat([1], "a")', "cannot concat string"),
    ],
)
def test_builtin_compile_errors(source: str, message: str) -> None:
    with pytest.raises(ExprError) as caught:
        compile(source)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "source, message",
    [
        ('max([1, "2"])', "invalid argument for max (type string)"),
        ('min([1, "2"])', "invalid argument for min (type string)"),
        ("bitshr(-5, -2)", "invalid operation: negative shift count -2 (type int) (1:1)"),
        ("bitshl(1, -1)", "invalid operation: negative shift count -1 (type int) (1:1)"),
        ("bitushr(-5, -2)", "invalid operation: negative shift count -2 (type int) (1:1)"),
        ('int("abc")', "invalid operation: int(abc) (1:1)"),
        ('float("1,5")', "invalid operation: float(1,5) (1:1)"),
        ("len(event.missing)", "invalid argument for len (type <nil>)"),
        ("keys(event.tags)", "cannot get keys from slice"),
        ("take(event.name, 1)", "cannot take from string"),
        ("reverse(event.missing)", "cannot reverse invalid"),
        ("fromPairs([[1]])", "invalid pair length [1]"),
        ('sort([2, 1], "up")', "invalid order up, expected asc or desc"),
        ("bitand(event.amount, 1)", "cannot use float64 as argument (type int) to call bitand"),
        ("reduce(10..1, # + #acc)", "reduce of empty array with no initial value (1:1)"),
        ("map(1..3, {1 % (# - 3)})", "runtime error: integer divide by zero (1:14)"),
    ],
)
def test_builtin_run_time_errors(source: str, message: str) -> None:
    program = compile(source)
    with pytest.raises(ExprError) as caught:
        program.run({"event": {"tags": ["a", "b"], "name": "Alice", "amount": 100.0}})
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "source, expected",
    [
        ('len("héllo")', 6),
        ('indexOf("héllo", "l")', 3),
        ('lastIndexOf("héllo", "l")', 4),
        ('"héllo"[1:3]', "é"),
        ('"hello"[1:3]', "el"),
        ("event.name[0]", 65),
        ("event.name[-1]", 101),
        ("last(event.name)", 101),
        ('fromBase64(toBase64("héllo"))', "héllo"),
    ],
)
def test_strings_are_bytes(source: str, expected: Any) -> None:
    # Go strings are byte sequences: len and offsets count bytes, an element is a byte (uint8).
    assert same(evaluate(source, {"event": {"name": "Alice"}}), expected)


def test_a_slice_cutting_a_character_renders_its_stray_byte_as_a_replacement_character() -> None:
    # "héllo"[1:2] holds the first byte of "é" only; a variable reaches the workflow as JSON,
    # where Go writes an invalid byte as U+FFFD.
    value = evaluate('"héllo"[1:2]', {})
    assert evaluate('len("héllo"[1:2])', {}) == 1
    assert to_variable_string(value) == "\ufffd"
    assert evaluate('toJSON("héllo"[1:2])', {}) == '"\ufffd"'


# -- time values (builtin/builtin_test.go, docs/language-definition.md, vm/runtime/helpers) ----


@pytest.mark.parametrize(
    "source, shown",
    [
        ('duration("1h")', "1h0m0s"),
        ('duration("1.5h") + duration("90s")', "1h31m30s"),
        ('duration("-300ms")', "-300ms"),
        ('date("2006-01-02T15:04:05Z")', "2006-01-02 15:04:05 +0000 UTC"),
        ('date("2006.01.02", "2006.01.02")', "2006-01-02 00:00:00 +0000 UTC"),
        (
            'date("2023-04-23T00:30:00.000+0100", "2006-01-02T15:04:05-0700", "America/Chicago")',
            "2023-04-23 00:30:00 +0100 +0100",
        ),
        ('date("2023-04-23T00:30:00", "2006-01-02T15:04:05", "America/Chicago")', "2023-04-23 00:30:00 -0500 CDT"),
        ('date("2023-04-23", "2006-01-02", "America/Chicago")', "2023-04-23 00:00:00 -0500 CDT"),
        ('date("2023-08-14 00:00:00", "2006-01-02 15:04:05", "Europe/Zurich")', "2023-08-14 00:00:00 +0200 CEST"),
        ('date("2023-08-14")', "2023-08-14 00:00:00 +0000 UTC"),
        ('date("15:04:05")', "0000-01-01 15:04:05 +0000 UTC"),
        ('date("2023-08-14 10:11:12.125")', "2023-08-14 10:11:12.125 +0000 UTC"),
        ('date("2023-08-14T10:11:12.123456789+02:00")', "2023-08-14 10:11:12.123456789 +0200 +0200"),
        ('date("14 Aug 23 10:11 UTC")', "2023-08-14 10:11:00 +0000 UTC"),
        ('date("Monday, 14-Aug-23 10:11:12 CEST")', "2023-08-14 10:11:12 +0000 CEST"),
        ('date("Mon, 14 Aug 2023 10:11:12 UTC")', "2023-08-14 10:11:12 +0000 UTC"),
        ('date("Aug 3, 2023 at 4:05pm", "Jan _2, 2006 at 3:04pm")', "2023-08-03 16:05:00 +0000 UTC"),
        ('date(timezone("Europe/Zurich"), "2023-01-02 10:00:00")', "2023-01-02 10:00:00 +0100 CET"),
        ('timezone("UTC")', "UTC"),
        ('timezone("Europe/Moscow")', "Europe/Moscow"),
        # the operators (vm/runtime helpers: Add, Subtract, Multiply, Less, Equal, ...)
        ('date("2023-08-14") + duration("1h")', "2023-08-14 01:00:00 +0000 UTC"),
        ('duration("1h") + date("2023-08-14")', "2023-08-14 01:00:00 +0000 UTC"),
        ('date("2023-08-14") - duration("36h")', "2023-08-12 12:00:00 +0000 UTC"),
        ('date("2023-08-15") - date("2023-08-14T12:00:00Z")', "12h0m0s"),
        ('date("2023-08-14") - date("2023-08-15")', "-24h0m0s"),
        ('duration("1h") - duration("1m")', "59m0s"),
        ('2 * duration("1h")', "2h0m0s"),
        ('duration("1h") * 3', "3h0m0s"),
        ('duration("1h") * 1.5', "5400000000000"),  # a float64 of nanoseconds, as Go multiplies them
        ('date("2023-08-15") > date("2023-08-14")', "true"),
        ('date("2023-08-14T02:00:00+02:00") == date("2023-08-14")', "true"),  # the same instant
        ('date("2023-08-14") <= date("2023-08-14")', "true"),
        ('duration("90m") > duration("1h")', "true"),
        ('duration("60m") == duration("1h")', "true"),
        # rendered inside values and as JSON (RFC 3339 with nanoseconds, a Duration's nanoseconds)
        ('[date("2023-08-14"), duration("2h")]', "[2023-08-14 00:00:00 +0000 UTC 2h0m0s]"),
        ('string(duration("1m30s"))', "1m30s"),
        ('toJSON(date("2023-08-14T10:11:12.5+02:00"))', '"2023-08-14T10:11:12.5+02:00"'),
        ('toJSON({"at": date("2023-08-14"), "wait": duration("1s")})', '{\n  "at": "2023-08-14T00:00:00Z",\n  "wait": 1000000000\n}'),
        ('toJSON(timezone("UTC"))', "{}"),
        ('type(date("2023-08-14"))', "time.Time"),
        ('type(duration("1s"))', "time.Duration"),
        ('sortBy([date("2023-08-15"), date("2023-08-14")], #)', "[2023-08-14 00:00:00 +0000 UTC 2023-08-15 00:00:00 +0000 UTC]"),
    ],
)
def test_time_values(source: str, shown: str) -> None:
    assert to_variable_string(evaluate(source, {})) == shown


def test_now_is_the_wall_clock_at_evaluation() -> None:
    since_epoch = compile('now() - date("1970-01-01")')
    before = time.time_ns()
    elapsed = since_epoch.run({})
    after = time.time_ns()
    assert before <= elapsed.nanoseconds <= after
    assert evaluate('now(timezone("Asia/Tokyo")) >= now() - duration("1s")', {}) is True
    assert to_variable_string(evaluate('now(timezone("Asia/Tokyo"))', {})).endswith(" +0900 JST")


def test_a_filter_can_compare_an_event_date_with_the_clock() -> None:
    program = compile('date(event.createdAt) > now() - duration("24h")')
    assert program.run({"event": {"createdAt": "2000-01-01T00:00:00Z"}}) is False
    assert program.run({"event": {"createdAt": "2999-01-01T00:00:00Z"}}) is True


@pytest.mark.parametrize(
    "source, message",
    [
        ("now(nil)", "invalid number of arguments (expected 0, got 1)"),
        ("now(1)", "invalid number of arguments (expected 0, got 1)"),
        ("date()", "invalid number of arguments (expected at least 1, got 0) (1:1)"),
        ('date("a", "b", "c", "d")', "invalid number of arguments (expected at most 3, got 4)"),
        ("timezone(nil)", "cannot use nil as argument (type string) to call timezone (1:10)"),
        ("duration(1)", "cannot use int as argument (type string) to call duration  (1:10)"),
        ('date("2023-08-14") + 1', "invalid operation: + (mismatched types time.Time and int) (1:20)"),
        ('duration("1h") + 1', "invalid operation: + (mismatched types time.Duration and int)"),
        ('duration("1h") / 2', "invalid operation: / (mismatched types time.Duration and int)"),
        ('date("2023-08-14") < 1', "invalid operation: < (mismatched types time.Time and int)"),
        ('date("2023-08-14") == duration("1h")', "invalid operation: == (mismatched types time.Time and time.Duration)"),
        ('-duration("1h")', "invalid operation: - (mismatched type time.Duration) (1:1)"),
        ('duration("1h") == 3600', "invalid operation: == (mismatched types time.Duration and int)"),
        # Go methods are not part of the language here
        ('date("2023-08-14").Year()', "time.Time.Year is a Go method, which trigger expressions do not support (1:20)"),
        ('duration("1h").Seconds()', "time.Duration.Seconds is a Go method, which trigger expressions do not support"),
        ('date("2023-08-14").year', "type time.Time has no field year"),
    ],
)
def test_time_compile_errors(source: str, message: str) -> None:
    with pytest.raises(ExprError) as caught:
        compile(source)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "source, message",
    [
        ('duration("error")', 'time: invalid duration "error" (1:1)'),
        ('duration("1")', 'time: missing unit in duration "1"'),
        ('duration("3d")', 'time: unknown unit "d" in duration "3d"'),
        ('date("error")', "invalid date error (1:1)"),
        ("date(nil)", "interface conversion: interface {} is nil, not string (1:1)"),
        ("date(event.amount)", "interface conversion: interface {} is float64, not string"),
        ('timezone("Mars/Olympus")', "unknown time zone Mars/Olympus"),
        ('date("2023-08-14", "2006-01-02", "Nowhere")', "unknown time zone Nowhere"),
        ('date("2023/08/14", "2006-01-02")', 'parsing time "2023/08/14" as "2006-01-02": cannot parse "/08/14" as "-"'),
        ('date("2023-13-14", "2006-01-02")', 'parsing time "2023-13-14": month out of range'),
        ('date("2023-02-30", "2006-01-02")', 'parsing time "2023-02-30": day out of range'),
        ('date("2023-08-14 10", "2006-01-02")', 'parsing time "2023-08-14 10": extra text: " 10"'),
        ('date("2023-8-14", "2006-01-02")', 'parsing time "2023-8-14" as "2006-01-02": cannot parse "8-14" as "01"'),
        ('date("2023 225", "2006 002")', "date layouts with the day of year (002) are not supported"),
        ("let d = duration(event.wait); d + 1", "invalid operation: time.Duration + int"),
        ("let d = date(event.at); d.Year()", "time.Time.Year is a Go method, which trigger expressions do not support"),
        ("let d = date(event.at); d > 1", "invalid operation: time.Time > int"),
    ],
)
def test_time_run_time_errors(source: str, message: str) -> None:
    program = compile(source)
    with pytest.raises(ExprError) as caught:
        program.run({"event": {"amount": 100.0, "wait": "1h", "at": "2023-08-14"}})
    assert message in str(caught.value)


def test_a_long_value_that_is_no_date_fails_quickly() -> None:
    # every default layout fails at its first element; none quotes the value unless it is shown
    program = compile("date(event.text)")
    with pytest.raises(ExprError, match="invalid date"):
        program.run({"event": {"text": "2023-08-14 " + "é" * 1_000_000}})


# -- the checker's rules on array literals and predicates (checker/checker.go) ----------------


@pytest.mark.parametrize(
    "source, message",
    [
        ('"a" in [1, 2]', "cannot use string as type int in array (1:5)"),
        ('"a" in 1..3', "cannot use string as type int in array"),
        ('1 in ["a", "b"]', "cannot use int as type string in array"),
        ("filter([1, 2], # + 1)", "predicate should return boolean (got int) (1:16)"),
        ("all([1, 2], {#})", "predicate should return boolean (got int) (1:13)"),
        ('any(["a"], # > 1)', "invalid operation: > (mismatched types string and int)"),
        ('find(["a"], {# + "b"})', "predicate should return boolean (got string)"),
        ("count([1, 2], nil)", "predicate should has one input and one output param"),
        ("map([1, 2], nil)", "predicate should has one input and one output param"),
        ("reduce([1, 2], nil)", "predicate should has two input and one output param"),
        ('map([1, 2], # * 2)[0] + "a"', "invalid operation: + (mismatched types int and string)"),
        ('[1, 2][0] + "a"', "invalid operation: + (mismatched types int and string)"),
        ("all([1], # > 0) + 1", "invalid operation: + (mismatched types bool and int)"),
    ],
)
def test_checker_knows_array_elements_and_predicate_results(source: str, message: str) -> None:
    with pytest.raises(ExprError) as caught:
        compile(source)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "source, expected",
    [
        ('"a" in [1, "a"]', True),  # elements of different kinds: nothing is known of them
        ("1.5 in [1, 2]", False),  # numbers compare with numbers
        ("nil in [1, 2]", False),
        ('[1] in [[1], ["a"]]', True),
        ("filter(event.tags, # > 1)", [2.0, 3.0]),  # elements read from the event are unknown
        ('sortBy([3, 1, 2], #, "desc")', [3, 2, 1]),
        ("groupBy(1..3, # % 2)[1]", [1, 3]),
    ],
)
def test_checker_accepts(source: str, expected: Any) -> None:
    assert same(evaluate(source, {"event": {"tags": [1.0, 2.0, 3.0]}}), expected)


@pytest.mark.parametrize(
    "source, message",
    [
        ('sortBy([3, 1], #, "up")', "unknown order, use asc or desc (1:1)"),
        ("sortBy([3, 1], #, 1)", "interface conversion: interface {} is int, not string"),
        ('sortBy([1, "a"], #)', "invalid operation: string < int"),
    ],
)
def test_sort_by_errors(source: str, message: str) -> None:
    with pytest.raises(ExprError) as caught:
        evaluate(source, {})
    assert message in str(caught.value)
