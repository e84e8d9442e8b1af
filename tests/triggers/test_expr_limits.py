"""Limits of the expression language (issue 8): no expression can run long, exhaust memory or the
stack, at compile time or at run time; `matches` has Go's RE2 semantics, in linear time."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from flows.triggers.expr import Budget, ExprError, compile, evaluate, to_variable_string
from flows.triggers.expr.budget import MAX_SOURCE_LENGTH

REDOS_VICTIM = {"event": {"s": "a" * 28 + "!"}}


def error_of(source: str, env: dict | None = None) -> ExprError:
    with pytest.raises(ExprError) as caught:
        evaluate(source, env if env is not None else {})
    return caught.value


# -- matches: RE2 ---------------------------------------------------------------------------------


def answered_within(seconds: float, source: str, env: dict) -> Any:
    """The value of `source`, evaluated by another Python process that must be done within
    `seconds` (generous: a backtracking match holds the GIL, so a thread could not be waited for)."""
    code = (
        "import json, sys; from flows.triggers.expr import evaluate; "
        "print(json.dumps(evaluate(sys.argv[1], json.loads(sys.argv[2]))))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, source, json.dumps(env)],
        capture_output=True, text=True, timeout=seconds, check=True,
    )  # fmt: skip
    return json.loads(done.stdout)


def test_a_catastrophic_pattern_matches_in_linear_time() -> None:
    # Python's backtracking `re` takes 10-20 s with 28 `a`s, and doubles with each one more.
    victim = {"event": {"s": "a" * 40 + "!", "pattern": "^(a|aa)+$"}}
    assert answered_within(10, 'event.s matches "^(a+)+$"', REDOS_VICTIM) is False
    assert answered_within(10, 'event.s matches "^(a+)+$"', victim) is False
    assert answered_within(10, 'event.s matches "^(a+)+!$"', victim) is True
    assert answered_within(10, "event.s matches event.pattern", victim) is False


@pytest.mark.parametrize(
    "source, expected",
    [
        ('"٣" matches "\\\\d"', False),  # \d is ASCII only in Go
        ('"é" matches "^\\\\w$"', False),
        ('"a\\n" matches "a$"', False),  # $ is the end of the text, not before a final newline
        ('"ab" matches "(?i)^AB$"', True),
        ('"a.b" matches "\\\\Qa.b\\\\E"', True),
    ],
)
def test_patterns_follow_go_regexp(source: str, expected: bool) -> None:
    assert evaluate(source, {}) is expected


@pytest.mark.parametrize(
    "pattern, message",
    [
        ("a**", "error parsing regexp: invalid nested repetition operator: `**`"),
        ("(a", "error parsing regexp: missing closing ): `(a`"),
        ("(?=a)", "error parsing regexp: invalid or unsupported Perl syntax: `(?=`"),
        ("\\\\1", "error parsing regexp: invalid escape sequence: `\\1`"),
    ],
)
def test_an_invalid_literal_pattern_is_a_compile_error(pattern: str, message: str) -> None:
    with pytest.raises(ExprError) as caught:
        compile(f'event.s matches "{pattern}"')
    assert caught.value.message == message


def test_an_invalid_pattern_from_the_payload_is_a_run_time_error() -> None:
    program = compile("event.s matches event.pattern")
    with pytest.raises(ExprError) as caught:
        program.run({"event": {"s": "x", "pattern": "a**"}})
    assert caught.value.message == "error parsing regexp: invalid nested repetition operator: `**`"


# -- compile time -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "!" * 10_000 + "true",
        "[" * 5_000 + "]" * 5_000,
        "[" * 5_000,
        "-" * 5_000 + "1",
        "event" + ".a" * 5_000,
        " + ".join(["1"] * 3_000),
        "map([1], {" * 1_000 + "#" + "})" * 1_000,
    ],
)
def test_deep_nesting_is_a_compile_error(source: str) -> None:
    with pytest.raises(ExprError):
        compile(source)


def test_a_deep_but_allowed_expression_compiles_and_runs() -> None:
    assert evaluate("!" * 98 + "true", {}) is True
    assert evaluate("(" * 5_000 + "1" + ")" * 5_000, {}) == 1  # parentheses add no level
    assert evaluate(" || ".join(["false"] * 90 + ["true"]), {}) is True


def test_too_many_nodes_is_expr_langs_compile_error() -> None:
    source = "1+" * 5_001 + "1"  # 10,003 nodes as expr-lang counts them (5,002 numbers, 5,001 sums)
    with pytest.raises(ExprError) as caught:
        compile(source)
    assert caught.value.message == "compilation failed: expression exceeds maximum allowed nodes"


def test_a_source_longer_than_the_limit_is_refused_before_parsing() -> None:
    with pytest.raises(ExprError) as caught:
        compile("a+" * (1 << 19) + "a")  # 1 MiB: parsing it would take seconds
    assert caught.value.message == f"expression longer than {MAX_SOURCE_LENGTH} characters"


# -- run time: memory ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        'repeat(repeat("a", 1000000), 1000)',
        'repeat("a", 1000000)',  # expr-lang counts the bytes repeat builds
        "len(1..1000000000)",
        "len(map(1..10000, {len(map(1..10000, #))})) > 0",
        'let a = repeat("a", 400000); let b = a + a; len(b + b)',
        'len(replace(repeat("a", 1000), "a", repeat("b", 1000)))',
        'len(join(map(1..2000, repeat("x", 1000))))',
        "len(map(1..600000, [#, #]))",
    ],
)
def test_memory_bombs_exceed_the_budget(source: str) -> None:
    error = error_of(source)
    assert error.over_budget
    assert "budget exceeded" in error.message


def test_a_range_of_non_integers_stays_a_compile_error() -> None:
    with pytest.raises(ExprError) as caught:
        compile("1..1e9")
    assert caught.value.message == "invalid operation: .. (mismatched types int and float64)"


def test_within_the_memory_budget_values_are_built() -> None:
    assert evaluate("len(1..100000)", {}) == 100_000
    assert evaluate('len(repeat("ab", 1000))', {}) == 2_000
    assert evaluate("len(map(1..100, {len(map(1..100, #))}))", {}) == 100


# -- run time: time ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source, env",
    [
        ("all(1..999, {all(1..999, {all(1..999, {true})})})", {}),
        ("any(event.items, {any(event.items, {# < 0})})", {"event": {"items": list(range(100_000))}}),
        ("event.items == event.copy", {"event": {"items": [[1.0]] * 300_000, "copy": [[1.0]] * 300_000}}),
        ("len(uniq(event.items))", {"event": {"items": list(range(100_000))}}),
        ("len(toJSON(event.items))", {"event": {"items": [{"a": [1.0, 2.0]}] * 300_000}}),
    ],
)
def test_slow_expressions_exceed_the_time_budget(source: str, env: dict) -> None:
    error = error_of(source, env)
    assert error.over_budget
    assert error.message.startswith("time budget exceeded")


def test_the_budget_is_per_evaluation() -> None:
    program = compile("len(1..600000)")
    assert program.run({}) == 600_000
    assert program.run({}) == 600_000  # the first run's memory is not counted again
    with pytest.raises(ExprError):
        program.run({}, budget=Budget(memory=1000))


def test_recursion_on_deep_values_is_an_expr_error() -> None:
    deep: list = []
    for _ in range(5_000):
        deep = [deep]
    assert error_of("event == event", {"event": deep}).over_budget
    # Building it is not what is tested: a generous time budget, so a loaded machine builds it too.
    value = compile("reduce(1..3000, [#acc], 0)").run({}, budget=Budget(seconds=30))
    with pytest.raises(ExprError):
        to_variable_string(value)


def test_rendering_a_large_variable_counts_against_its_budget() -> None:
    value = evaluate("1..300000", {})
    with pytest.raises(ExprError) as caught:
        to_variable_string(value, Budget(seconds=0.001))
    assert caught.value.over_budget
