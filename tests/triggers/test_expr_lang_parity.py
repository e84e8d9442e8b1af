"""Where expr-lang v1.17 answers differently from a naive reading of the language: each expected
value follows expr-lang's own sources (named per test)."""

from __future__ import annotations

import pytest

from flows.triggers.expr import ExprError, compile, evaluate

EVENT = {"name": "Alice", "tags": ["a", "b"], "amount": 100.0, "metadata": {"psp": "stripe"}}
ENV = {"event": EVENT}


def same(a, b) -> bool:
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(
    "source",
    [
        'event.missing contains "a"',
        '"abc" contains event.missing',
        'nil contains "a"',
        'event.missing startsWith "a"',
        '"abc" startsWith event.missing',
        'event.missing endsWith "a"',
        '"abc" endsWith event.missing',
        'event.missing matches "^a"',
        '"abc" matches event.missing',
        'nil matches "x"',
        'event.metadata.missing contains "x"',
    ],
)
def test_a_nil_operand_of_a_string_operator_is_false(source):
    # vm/vm.go: OpContains, OpStartsWith, OpEndsWith, OpMatches and OpMatchesConst push false
    # when either operand is nil.
    assert evaluate(source, ENV) is False


@pytest.mark.parametrize(
    "source, expected",
    [
        ('not (event.missing contains "a")', True),
        ('event.missing not contains "a"', True),
        ('event.name contains "lic"', True),
        ('event.name matches "^A"', True),
        ("nil in [1, nil]", True),
        ("nil in [1, 2]", False),
        ("nil in {'a': 1}", False),
    ],
)
def test_nil_operands_beside_the_string_operators(source, expected):
    # runtime.In (vm/runtime/runtime.go) compares array items with runtime.Equal, where two nils
    # are equal.
    assert evaluate(source, ENV) is expected


@pytest.mark.parametrize(
    "source, expected",
    [
        ("1 < 2 < 3", True),
        ("1 < 3 < 2", False),
        ("3 > 2 > 1", True),
        ("1 <= 1 < 2", True),
        ("1 < 2 < 3 == true", True),
        ("1 < 2 < 3 < 4 < 5", True),
        ("1 < 2 < 3 < 4 < 4", False),
        ("event.amount > 50 > 10", True),
        ("0 < event.amount <= 100", True),
        ("1 < 2 < 3 && 2 > 1", True),
    ],
)
def test_chained_comparisons_are_conjunctions(source, expected):
    # parser/parser.go, parseComparison: `a < b < c` is `a < b && b < c`.
    assert evaluate(source, ENV) is expected


@pytest.mark.parametrize("source", ["(1 < 2) < 3", "1 == 2 < 3"])
def test_a_parenthesized_or_equality_comparison_is_not_chained(source):
    with pytest.raises(ExprError) as caught:
        compile(source)
    assert caught.value.message == "invalid operation: < (mismatched types bool and int)"


@pytest.mark.parametrize(
    "source, expected",
    [
        ("[1, 2] == [1, 2]", True),
        ("[1, 2] == [2, 1]", False),
        ("[1, 2] == [1, 2, 3]", False),
        ("[1] == [1.0]", True),
        ("[[1, 'a']] == [[1.0, 'a']]", True),
        ("[1, 2] != [1, 2]", False),
        ('{"a": 1} == {"a": 1}', True),
        ('{"a": 1} == {"a": 2}', False),
        ('{"a": 1} == {"b": 1}', False),
        ('{"a": [1]} == {"a": [1]}', True),
        ('{"a": 1} == {"a": 1.0}', False),
        ('event.tags == ["a", "b"]', True),
        ('event.tags == ["b", "a"]', False),
        ("event.metadata == {psp: 'stripe'}", True),
        ("1 == 1.0", True),
        ("[] == nil", False),
    ],
)
def test_equality_of_arrays_and_maps(source, expected):
    # vm/runtime/helpers/main.go, Equal: numbers by value, `[]any` element by element with Equal,
    # anything else with reflect.DeepEqual (kinds must match inside a map).
    assert evaluate(source, ENV) is expected


@pytest.mark.parametrize(
    "source, expected",
    [
        ("{1: 'one'}", {"1": "one"}),
        ("{1: 'one'}['1']", "one"),
        ("{1.5: 'x', 2: 'y'}", {"1.5": "x", "2": "y"}),
        ("{a: 1, 2: 2}", {"a": 1, "2": 2}),
    ],
)
def test_a_number_map_key_is_the_string_of_its_digits(source, expected):
    # parser/parser.go, parseMapExpression: a Number key becomes a StringNode of its text.
    assert same(evaluate(source, ENV), expected)


@pytest.mark.parametrize(
    "source, operator, column",
    [
        ("nil ?? 1 || true", "||", 10),
        ("event.missing ?? 1 + 1", "+", 20),
        ("a ?? b == 1", "==", 8),
        ("a ?? b ** 2", "**", 8),
        ('a ?? b contains "x"', "contains", 8),
        ("a ?? b not in [1]", "in", 12),
    ],
)
def test_an_operator_after_a_coalesce_needs_parentheses(source, operator, column):
    # parser/parser.go, parseExpression: after `??`, any binary operator but `??` is an error.
    with pytest.raises(ExprError) as caught:
        compile(source)
    expected = f"Operator ({operator}) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses."
    assert caught.value.message == expected
    assert str(caught.value).split("\n")[0].endswith(f"(1:{column})")


@pytest.mark.parametrize(
    "source, expected",
    [
        ("(nil ?? 1) + 1", 2),
        ("1 + (nil ?? 2)", 3),
        ("1 + nil ?? 2", 3),
        ("true || nil ?? false", True),
        ("nil ?? nil ?? 3", 3),
        ("(nil ?? 1) < 2", True),
        ("-(nil ?? 1)", -1),
        ("1 < nil ?? 2 < 3", True),
        ("nil ?? 'x' | upper()", "X"),
    ],
)
def test_a_coalesce_inside_a_tighter_operand_or_parentheses_is_valid(source, expected):
    # parser/parser.go: `1 + a ?? b` parses its right operand at a higher precedence, so the `??`
    # is inner, and `(`, `?`, `|` are not binary operators checked after `??`.
    assert same(evaluate(source, ENV), expected)
