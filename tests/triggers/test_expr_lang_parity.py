"""Where expr-lang v1.17 answers differently from a naive reading of the language: each expected
value follows expr-lang's own sources (named per test)."""

from __future__ import annotations

import pytest

from flows.triggers.expr import ExprError, compile, evaluate, to_variable_string

EVENT = {"name": "Alice", "tags": ["a", "b"], "amount": 100.0, "metadata": {"psp": "stripe"}}
ENV = {"event": EVENT}


def same(a, b) -> bool:
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(
    "source",
    [
        'event.missing contains "a"',
        '"abc" contains event.missing',
        'event.missing startsWith "a"',
        '"abc" startsWith event.missing',
        'event.missing endsWith "a"',
        '"abc" endsWith event.missing',
        'event.missing matches "^a"',
        '"abc" matches event.missing',
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


# -- operators: the checker refuses at compile time what can never work --------------------------
# checker/checker.go, BinaryNode/UnaryNode with the natures of checker/types.go: literals and the
# results of typed operations have a type, anything read from the environment is unknown (and
# accepted); nil has no Go type and shows as `unknown`.


@pytest.mark.parametrize(
    "source, message, column",
    [
        ("1 + nil", "invalid operation: + (mismatched types int and unknown)", 3),
        ('1 + "a"', "invalid operation: + (mismatched types int and string)", 3),
        ('(1 + 2) * "a"', "invalid operation: * (mismatched types int and string)", 9),
        ('len("a") + "b"', "invalid operation: + (mismatched types int and string)", 10),
        ('"a" == 1', "invalid operation: == (mismatched types string and int)", 5),
        ("true == 1", "invalid operation: == (mismatched types bool and int)", 6),
        ("[1] == {}", "invalid operation: == (mismatched types []interface {} and map[string]interface {})", 5),
        ("1 && true", "invalid operation: && (mismatched types int and bool)", 3),
        ("event.ok || 1", "invalid operation: || (mismatched types unknown and int)", 10),
        ('"a" < 1', "invalid operation: < (mismatched types string and int)", 5),
        ("nil > 1", "invalid operation: > (mismatched types unknown and int)", 5),
        ("1.5 % 2", "invalid operation: % (mismatched types float64 and int)", 5),
        ("1.5..3", "invalid operation: .. (mismatched types float64 and int)", 4),
        ('2 ** "a"', "invalid operation: ** (mismatched types int and string)", 3),
        ('1 in "abc"', "invalid operation: in (mismatched types int and string)", 3),
        ('"a" in "abc"', "invalid operation: in (mismatched types string and string)", 5),
        ("1 in {a: 1}", "cannot use int as type string in map key", 3),
        ('nil contains "a"', "invalid operation: contains (mismatched types unknown and string)", 5),
        ('nil matches "x"', "invalid operation: matches (mismatched types unknown and string)", 5),
        ('1 startsWith "a"', "invalid operation: startsWith (mismatched types int and string)", 3),
        ('-"a"', "invalid operation: - (mismatched type string)", 1),
        ("!1", "invalid operation: ! (mismatched type int)", 1),
        ("not nil", "invalid operation: not (mismatched type unknown)", 1),
        ("1 % 0", "integer divide by zero", 3),
    ],
)
def test_an_operation_that_can_never_succeed_is_a_compile_error(source, message, column):
    with pytest.raises(ExprError) as caught:
        compile(source)
    assert caught.value.message == message
    assert str(caught.value).split("\n")[0].endswith(f"(1:{column})")


@pytest.mark.parametrize(
    "source, message",
    [
        ("event.missing + 1", "invalid operation: <nil> + int (1:15)"),
        ("-event.name", "invalid operation: - string (1:1)"),
        ("event.one % event.zero", "runtime error: integer divide by zero (1:11)"),
        ("event.amount % 2", "invalid operation: float64 % int (1:14)"),
        ("event.name ** 2", "invalid operation: float(string) (1:12)"),
        ("event.name < 1", "invalid operation: string < int (1:12)"),
        ("event.missing..3", "invalid operation: int(<nil>) (1:14)"),
        ("1 in event.name", 'operator "in" not defined on string (1:3)'),
        ("event.tags[5]", "index out of range: 5 (array length is 2) (1:11)"),
        ("event.tags[-7]", "index out of range: -5 (array length is 2) (1:11)"),
        ("event.name.first", "invalid operation: int(string) (1:12)"),
        ("event.one[1:2]", "cannot slice 1 (1:10)"),
        ("event.one[1:]", "invalid argument for len (type int) (1:10)"),
        ("event.missing && true", "interface conversion: interface {} is nil, not bool (1:15)"),
    ],
)
def test_run_time_errors_are_the_vms(source, message):
    # vm/runtime: the helpers' texts (`%T <op> %T`), Go's own panics, runtime.Fetch and Slice.
    env = {"event": {"name": "Alice", "tags": ["a", "b"], "amount": 100.0, "one": 1, "zero": 0}}
    with pytest.raises(ExprError) as caught:
        compile(source).run(env)
    assert str(caught.value).split("\n")[0] == message


@pytest.mark.parametrize(
    "source, expected",
    [
        ("9223372036854775807 + 1", -9223372036854775808),
        ("event.big * 2", -2),
        ("2 ** 8", 256.0),
        ("2 ^ 8", 256.0),
        ("7 / 2", 3.5),
        ("4 / 2", 2.0),
        ("-7 % 3", -1),
        ("7 % -3", 1),
        ("1 < 1.5", True),
        ("1 == 1.0", True),
        ('"abc" < "abd"', True),
        ('"B" < "a"', True),
        ("1 in [1.0]", True),
        (".5 in 0..1", False),
        ("1 in [1.5] || 1 not in [1]", False),
        ("-1 not in [1]", True),
        ("event.low..3", [1, 2, 3]),
        ("event.high..1", []),
        ("4..0", []),
        ("event.missing ?? 'd'", "d"),
        ("false ?? 1", False),
        ("event.missing?.x", None),
        ("event.missing?.x.y.z", None),
        ("[nil, 3, 4]?.[0]?.[1]", None),
        ("[[1, 2], 3, 4]?.[0]?.[1]", 2),
        ("[1, 2, 3][:99]", [1, 2, 3]),
        ("[1, 2, 3][99:]", []),
        ("[1, 2, 3][:-99]", []),
        ("[1, 2, 3][-99:]", [1, 2, 3]),
        ("[1, 2, 3][-1]", 3),
        ('"string"[3:9]', "ing"),
        ('"string"[7:9]', ""),
        ("(0..10)[5]", 5),
        ("nil == nil", True),
        ("0 == nil || 'str' == nil || true == nil", False),
        ("event.name contains 'lic'", True),
        ('"foo" + "bar" not matches "foobar"', False),
        ("{a: 1} == {a: 1}", True),
        ("-(2-5)**3-2/(+4-3)+-2", 23.0),
        ("(true ? 0+1 : 2+3) + (false ? -1 : -2)", -1),
        ("len(filter(1..99, # % 7 == 0))", 14),
        ("map(filter(1..9, # % 2 == 0), # * 2)[-1]", 16),
        ("all(1..3, { all(1..3, { # > 0 }) and # > 0 })", True),
    ],
)
def test_values_follow_go(source, expected):
    # expr_test.go (TestExpr, TestEval_slices_out_of_bound), vm/runtime; ints wrap as Go's int64,
    # `**` and `/` are floats, a range converts float bounds with ToInt.
    env = {"event": {"name": "Alice", "low": 1.9, "high": 2.5, "big": 2**63 - 1}}
    assert same(evaluate(source, env), expected)


@pytest.mark.parametrize(
    "source, message, column",
    [
        ('"abc"[0]', "type string[int] is undefined", 6),
        ('"abc".x', "type string has no field x", 7),
        ("(nil).x", "type nil has no field x", 7),
        ("(1).x", "type int has no field x", 5),
        ('[1, 2]["a"]', "array elements can only be selected using an integer (got string)", 8),
        ("{a: 1}[1]", "cannot use int to get an element from map[string]interface {}", 8),
        ("(1)[1:2]", "cannot slice int", 4),
        ('"abc"[1.5:]', "non-integer slice index float64", 7),
        ("all(1, # > 0)", "builtin all takes only array (got int)", 5),
    ],
)
def test_member_access_the_checker_refuses(source, message, column):
    # checker/checker.go, MemberNode, SliceNode and the predicates' collection check.
    with pytest.raises(ExprError) as caught:
        compile(source)
    assert caught.value.message == message
    assert str(caught.value).split("\n")[0].endswith(f"(1:{column})")


def test_a_member_access_error_points_at_the_member():
    with pytest.raises(ExprError) as caught:
        compile("event.missing.deep").run({"event": {}})
    assert str(caught.value) == "cannot fetch deep from <nil> (1:15)\n | event.missing.deep\n | ..............^"


def test_a_byte_slice_renders_as_go_writes_it():
    assert to_variable_string(evaluate('"héllo"[1:3]', {})) == "é"
    assert to_variable_string(evaluate('"héllo"[1:2]', {})) == "\ufffd"


# expr_test.go, TestExpr: the cases that need no Go struct, method, time value or typed pointer,
# over an environment of plain values (ints where expr-lang's mock.Env has ints).
MOCK = {
    "Int": 0, "Int32": 0, "Int64": 0, "Float64": 0.0, "Bool": True, "String": "string",
    "One": 1, "Two": 2, "ArrayOfInt": [1, 2, 3, 4, 5], "NilAny": None,
}  # fmt: skip


@pytest.mark.parametrize(
    "source, expected",
    [
        ("1", 1), ("-.5", -0.5), ("true && false || false", False),
        ('Int == 0 && Int32 == 0 && Int64 == 0 && Float64 == 0 && Bool && String == "string"', True),
        ("-Int64 == 0", True), ('"a" != "b"', True), ('"a" != "b" || 1 == 2', True),
        ("Int + 0", 0), ("Float64 + 0", 0.0), ("0 + Float64", 0.0), ("0 <= Float64", True), ("Float64 < 1", True),
        ("Int < 1", True), ("2 + 2 == 4", True), ("8 % 3", 2), ("2 ** 8", 256.0), ("2 ^ 8", 256.0),
        ('"hello" + " " + "world"', "hello world"), ("0 in -1..1 and 1 in 1..1", True), ("Int in 0..1", True),
        ('1 in [1, 2, 3] && "foo" in {foo: 0, bar: 1}', True), ("One in 0..1 && Two not in 0..1", True),
        ("Two not    in 0..1", True), ("Int32 in [10, 20]", False), ('String matches "s.+"', True),
        ('String matches ("^" + String + "$")', True), ('"foobar" contains "bar"', True),
        ('"foobar" startsWith "foo"', True), ('"foobar" endsWith "bar"', True),
        ("len([1, 2, 3])", 3), ("len([1, Two, 3])", 3), ('len(["hello", "world"])', 2), ('len("hello, world")', 12),
        ("len(ArrayOfInt)", 5), ("len({a: 1, b: 2, c: 2})", 3), ("max([1, 2, 3])", 3), ("min(1, 2, 3)", 1),
        ("{foo: 0, bar: 1}", {"foo": 0, "bar": 1}), ("filter(1..9, {# > 7})", [8, 9]), ("map(1..3, {# * #})", [1, 4, 9]),
        ("all(1..3, {# > 0})", True), ("none(1..3, {# == 0})", True), ("any([1,1,0,1], {# == 0})", True),
        ("one([1,1,0,1], {# == 0}) and not one([1,0,0,1], {# == 0})", True), ('"a" < "b"', True), ("1 + 1", 2),
        ("(One * Two) * 3 == One * (Two * 3)", True), ("ArrayOfInt[1]", 2), ("ArrayOfInt[0] < ArrayOfInt[1]", True),
        ("ArrayOfInt[-1]", 5), ("ArrayOfInt[1:2]", [2]), ("ArrayOfInt[1:4]", [2, 3, 4]), ("ArrayOfInt[-4:-1]", [2, 3, 4]),
        ("ArrayOfInt[:3]", [1, 2, 3]), ("ArrayOfInt[3:]", [4, 5]), ("ArrayOfInt[0:5] == ArrayOfInt", True),
        ("ArrayOfInt[:] == ArrayOfInt", True), ("4 in 5..1", False), ("4..0", []),
        ("NilAny == nil && nil == NilAny && nil == nil && NilAny == NilAny", True),
        ("String[:]", "string"), ("String[:3]", "str"), ("String[:9]", "string"), ("String[3:9]", "ing"),
        ("map(filter(ArrayOfInt, # >= 3), # + 1)", [4, 5, 6]), ("1 /* one */ + 2 // two", 3),
        ("let x = 1; x + 2", 3), ("map(1..3, let x = #; let y = x * x; y * y)", [1, 16, 81]),
        ("map(1..2, let x = #; map(2..3, let y = #; x + y))", [[3, 4], [4, 5]]),
        ("first(filter(ArrayOfInt, false))", None), ("filter(1..9, # % 2 == 0)[-1]", 8),
        ("last(filter(1..9, # % 2 == 0))", 8), ("map(map(filter(1..9, # % 2 == 0), # * 2), # * 2)", [8, 16, 24, 32]),
        ("first(map(filter(1..9, # % 2 == 0), # * 2))", 4), ("len(filter(map(1..9, # * 2), # % 2 == 0))", 9),
        ("2^3 == 8", True), ("4/2 == 2", True), (".5 in ArrayOfInt", False),
        ('"hello"[1:3]', "el"), ("[1, 2, 3]?.[0]", 1), ("1 > 2 < 3", False), ("1 < 2 < 3 > 4", False),
        ("1 < 2 < 3 > 2", True), ("if 1 > 2 { 333 * 2 + 1 } else { 444 }", 444),
        ('if "a" < "b" {let x = "a"; x} else {"abc"}', "a"),
        ('if 1 == 2 { "no" } else if 1 == 1 { "yes" } else { "maybe" }', "yes"), ("1; 2; 3", 3),
        ("(a - b + c) / d", 0.5),
    ],
)  # fmt: skip
def test_expr_langs_expression_table(source, expected):
    env = MOCK | {"a": 1, "b": 2, "c": 3, "d": 4}
    assert same(evaluate(source, env), expected)
