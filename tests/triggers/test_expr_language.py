"""The expression language: expr-lang v1.17 semantics, values and error texts."""

from __future__ import annotations

import math

import pytest

from flows.triggers.expr import ExprError, compile, evaluate, to_variable_string

EVENT = {
    "amount": 100.0,
    "type": "x",
    "name": "Alice",
    "tags": ["a", "b"],
    "items": [{"amount": 5.0, "sku": "s1"}, {"amount": 20.0, "sku": "s2"}, {"amount": 30.0, "sku": "s3"}],
    "metadata": {"psp": "stripe"},
    "a": {"b": {"c": 3.0}},
    "flag": True,
    "nothing": None,
}
ENV = {"event": EVENT}


def run(source: str, env: dict | None = None):
    return evaluate(source, ENV if env is None else env)


def error_of(source: str, env: dict | None = None) -> str:
    with pytest.raises(ExprError) as caught:
        run(source, env)
    return str(caught.value)


def same(a, b) -> bool:
    return type(a) is type(b) and a == b


@pytest.mark.parametrize(
    "source, expected",
    [
        ("42", 42), ("0x2A", 42), ("0o52", 42), ("0b101010", 42), ("1_000_000", 1000000),
        ("0.5", 0.5), (".5", 0.5), ("1e3", 1000.0), ("1.5e-3", 0.0015),
        ('"a\\nb"', "a\nb"), ("'it\\'s'", "it's"), ('"\\u00e9\\x41\\t"', "éA\t"),
        ("`raw\\n`", "raw\\n"), ('"say \\"hi\\""', 'say "hi"'),
        ("true", True), ("false", False), ("nil", None),
        ("[1, 'a', nil,]", [1, "a", None]), ("{a: 1, 'b': 2, \"c\": [3]}", {"a": 1, "b": 2, "c": [3]}),
        ("{(1 + 1): 'two'}", {2: "two"}), ("[]", []), ("{}", {}),
        ("1 /* comment */ + 1 // trailing", 2),
    ],
)
def test_literals(source, expected):
    assert same(run(source), expected)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("1 + 2", 3), ("1 + 2.5", 3.5), ("event.amount + 1", 101.0), ("5 - 7", -2),
        ("3 * 4", 12), ("3 * 0.5", 1.5), ("7 / 2", 3.5), ("8 / 2", 4.0), ("7 % 3", 1),
        ("-7 % 3", -1), ("2 ** 10", 1024.0), ("2 ^ 3", 8.0), ("-2 ** 2", -4.0), ("2 ** 3 ** 2", 512.0),
        ("-event.amount", -100.0), ("+3", 3), ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9),
        ("10 - 2 - 3", 5), ("1 / 0", math.inf), ('"ab" + "cd"', "abcd"),
        ('event.name + "!"', "Alice!"),
    ],
)
def test_arithmetic(source, expected):
    assert same(run(source), expected)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("event.amount > 50", True), ("event.amount > 100", False), ("event.amount >= 100", True),
        ("1 < 2.5", True), ("2 <= 2", True), ('"a" < "b"', True), ("event.amount == 100", True),
        ("1 == 1.0", True), ("1 != 2", True), ('"a" == "a"', True), ("nil == nil", True),
        ("event.nothing == nil", True), ("event.missing == nil", True), ("event.missing == 1", False),
        ("[1, 2] == [1, 2]", True), ("{a: 1} == {a: 1}", True), ('event.type == "x"', True),
        ("true && false", False), ("true and true", True), ("false || true", True),
        ("false or false", False), ("!true", False), ("not false", True), ("not (1 > 2)", True),
        ("false && event.missing.deep", False), ("true || event.missing.deep", True),
        ("1 > 2 ? 'a' : 'b'", "b"), ("event.flag ? 1 : 2", 1), ("nil ?? 4", 4),
        ("event.missing ?? 'd'", "d"), ("event.name ?? 'd'", "Alice"), ("false ?? 1", False),
        ("event.missing?.deep", None), ("event.missing?.deep.deeper", None),
        ("event.missing?.[0]", None), ("event.a?.b.c", 3.0),
    ],
)
def test_comparisons_logic_and_nil(source, expected):
    assert same(run(source), expected)


@pytest.mark.parametrize(
    "source, expected",
    [
        ('"a" in event.tags', True), ('"z" in event.tags', False), ('"z" not in event.tags', True),
        ('"psp" in event.metadata', True), ('"x" in event.metadata', False), ("1 in [1.0, 2]", True),
        ("2 in 1..3", True), ('"x" in event.missing', False), ('"foo" in $env', False), ('"event" in $env', True),
        ('event.name contains "lic"', True), ('event.name not contains "z"', True),
        ('event.name startsWith "Al"', True), ('event.name endsWith "ce"', True),
        ('event.name matches "^A.+e$"', True), ('event.name matches "[0-9]"', False),
        ('event.name not matches "[0-9]"', True), ("1..3", [1, 2, 3]), ("3..1", []),
    ],
)
def test_membership_strings_and_ranges(source, expected):
    assert same(run(source), expected)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("event.items[0].sku", "s1"), ("event.items[-1].sku", "s3"), ('event["metadata"]["psp"]', "stripe"),
        ("event.tags[1.0]", "b"), ("event.items[1:].sku", None) if False else ("len(event.items[1:])", 2),
        ("[1, 2, 3, 4, 5][1:4]", [2, 3, 4]), ("[1, 2, 3, 4, 5][1:-1]", [2, 3, 4]),
        ("[1, 2, 3][:2]", [1, 2]), ("[1, 2, 3][2:]", [3]), ("[1, 2, 3][:]", [1, 2, 3]),
        ('"hello"[1:3]', "el"), ('"hello"[0:1]', "h"), ("[1, 2][5:9]", []), ("event.missing_key", None),
        ("unknown", None), ("let x = 2; x * 3", 6), ("let x = 1; let y = x + 1; [x, y]", [1, 2]),
        ('event.name | lower() | split("l")', ["a", "ice"]), ("event.items | map(.amount) | sum()", 55.0),
    ],
)
def test_access_slices_let_and_pipes(source, expected):
    assert same(run(source), expected)


@pytest.mark.parametrize(
    "source, expected",
    [
        ('len("héllo")', 6), ("len(event.items)", 3), ("len(event.metadata)", 1),
        ('upper("ab")', "AB"), ('lower("AB")', "ab"), ('trim("  x  ")', "x"), ('trim("__x__", "_")', "x"),
        ('trimPrefix("HelloWorld", "Hello")', "World"), ('trimSuffix("HelloWorld", "World")', "Hello"),
        ('split("a,b,c", ",")', ["a", "b", "c"]), ('split("a,b,c", ",", 2)', ["a", "b,c"]),
        ('splitAfter("a,b,c", ",")', ["a,", "b,", "c"]), ('join(["a", "b"], "-")', "a-b"),
        ('join(["a", "b"])', "ab"), ('replace("aXbX", "X", "-")', "a-b-"), ('repeat("ab", 3)', "ababab"),
        ('indexOf("apple pie", "pie")', 6), ('lastIndexOf("apple pie apple", "apple")', 10),
        ('indexOf("abc", "z")', -1), ('hasPrefix("HelloWorld", "Hello")', True),
        ('hasSuffix("HelloWorld", "World")', True), ("abs(-5)", 5), ("abs(-1.5)", 1.5),
        ("ceil(1.2)", 2.0), ("floor(1.8)", 1.0), ("round(1.5)", 2.0), ("round(-1.5)", -2.0),
        ("round(2.4)", 2.0), ("ceil(3)", 3.0), ("int(3.9)", 3), ("int(-3.9)", -3), ('int("42")', 42),
        ("float(2)", 2.0), ('float("1.5")', 1.5), ("string(42)", "42"), ("string(1.5)", "1.5"),
        ("string(event.amount)", "100"), ("string(1200000.0)", "1.2e+06"), ("string(nil)", "<nil>"),
        ("string([1, 'a'])", "[1 a]"), ("string({b: 2, a: 1})", "map[a:1 b:2]"), ("string(true)", "true"),
        ('toJSON({b: [1, 1.5], a: "x"})', '{\n  "a": "x",\n  "b": [\n    1,\n    1.5\n  ]\n}'),
        ("toJSON(nil)", "null"), ("toJSON(1200000.0)", "1200000"),
        ('fromJSON("{\\"a\\": [1, true, null]}")', {"a": [1.0, True, None]}),
        ('toBase64("hi")', "aGk="), ('fromBase64("aGk=")', "hi"),
        ('keys({a: 1, b: 2})', ["a", "b"]), ('values({a: 1, b: 2})', [1, 2]),
        ("first([1, 2, 3])", 1), ("last([1, 2, 3])", 3), ("first([])", None), ("last(event.missing)", None),
        ("get([1, 2], 5)", None), ("get({a: 1}, 'a')", 1), ("take([1, 2, 3], 2)", [1, 2]),
        ("min(5, 7)", 5), ("max(5, 7.5)", 7.5), ("max([1, 9, 3])", 9), ("min([2, 1.5])", 1.5),
        ("sum([1, 2, 3])", 6), ("sum([1, 2.5])", 3.5), ("sum([])", 0), ("mean([1, 2, 3])", 2.0),
        ("median([1, 3, 2, 4])", 2.5), ("sort([3, 1, 2])", [1, 2, 3]), ('sort([3, 1, 2], "desc")', [3, 2, 1]),
        ('sort(["b", "a"])', ["a", "b"]), ("reverse([1, 2, 3])", [3, 2, 1]), ("uniq([1, 2, 1, 3])", [1, 2, 3]),
        ("concat([1], [2, 3], [])", [1, 2, 3]), ("flatten([1, [2, [3]]])", [1, 2, 3]),
        ("type(1)", "int"), ("type(1.5)", "float"), ("type('a')", "string"), ("type(nil)", "nil"),
        ("type([])", "array"), ("type({})", "map"), ("type(true)", "bool"),
    ],
)
def test_builtins(source, expected):
    assert same(run(source), expected)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("all(event.items, .amount > 1)", True), ("all([], false)", True), ("any(event.items, .amount > 25)", True),
        ("any([], true)", False), ("none(event.items, .amount > 100)", True), ("one(event.items, .amount > 25)", True),
        ("one([1, 2, 3], # > 1)", False), ("filter(event.items, .amount > 10) | map(.sku)", ["s2", "s3"]),
        ("filter(0..9, {# % 2 == 0})", [0, 2, 4, 6, 8]), ("map(1..3, # * 2)", [2, 4, 6]),
        ("map(event.items, #index)", [0, 1, 2]), ("count(event.items, .amount >= 20)", 2),
        ("sum(event.items, .amount)", 55.0), ("find([1, 2, 3, 4], # > 2)", 3), ("find([1], # > 2)", None),
        ("findIndex([1, 2, 3, 4], # > 2)", 2), ("findLast([1, 2, 3, 4], # > 2)", 4),
        ("findLastIndex([1, 2, 3, 4], # > 2)", 3), ("findIndex([], true)", -1),
        ("groupBy(1..5, # % 2)", {1: [1, 3, 5], 0: [2, 4]}), ("reduce(1..4, #acc + #)", 10),
        ("reduce(1..4, #acc + #, 10)", 20), ("sortBy(event.items, .amount, 'desc') | map(.sku)", ["s3", "s2", "s1"]),
        ("map(event.items, filter(event.tags, # == 'a'))", [["a"], ["a"], ["a"]]),
        ("all(event.items, any(event.tags, # == 'b'))", True),
    ],
)
def test_predicates(source, expected):
    assert same(run(source), expected)


@pytest.mark.parametrize(
    "source, message",
    [
        ("a + b", "invalid operation: <nil> + <nil> (1:3)\n | a + b\n | ..^"),
        ("event.missing.deep", "cannot fetch deep from <nil> (1:15)\n | event.missing.deep\n | ..............^"),
        ("event.missing > 50", "invalid operation: <nil> > int (1:15)\n | event.missing > 50\n | ..............^"),
        ('event.amount + "x"', "invalid operation: float64 + string (1:14)\n | event.amount + \"x\"\n | .............^"),
        ("event.metadata + 1", "invalid operation: map[string]interface {} + int (1:16)\n | event.metadata + 1\n | ...............^"),
        ("event.tags - 1", "invalid operation: []interface {} - int (1:12)\n | event.tags - 1\n | ...........^"),
        ("event.amount % 2", "invalid operation: float64 % int (1:14)\n | event.amount % 2\n | .............^"),
        ("event.items[7]", "index out of range: 7 (array length is 3) (1:12)\n | event.items[7]\n | ...........^"),
        ("event.name > 1", "invalid operation: string > int (1:12)\n | event.name > 1\n | ...........^"),
        (
            "event.missing && true",
            "interface conversion: interface {} is nil, not bool (1:15)\n | event.missing && true\n | ..............^",
        ),
        ("!event.amount", "interface conversion: interface {} is float64, not bool (1:1)\n | !event.amount\n | ^"),
        ('"x" in event.name', 'operator "in" not defined on string (1:5)\n | "x" in event.name\n | ....^'),
        ("len(event.amount)", "invalid argument for len (type float64) (1:1)\n | len(event.amount)\n | ^"),
        ("upper(event.missing)", "interface conversion: interface {} is nil, not string (1:1)\n | upper(event.missing)\n | ^"),
        ("filter(event.missing, # > 1)", "reflect: call of reflect.Value.Len on zero Value (1:1)\n | filter(event.missing, # > 1)\n | ^"),
        (
            "(event.items | map(.amount) | sum()) + \n  event.x",
            "invalid operation: float64 + <nil> (1:38)\n | (event.items | map(.amount) | sum()) + \n"
            " | .....................................^",
        ),
        ("1 +\n event.missing.x", "cannot fetch x from <nil> (2:16)\n |  event.missing.x\n | ...............^"),
        ("event.n % 0", "invalid operation: <nil> % int (1:9)\n | event.n % 0\n | ........^"),
        ("let z = 0; 1 % z", "runtime error: integer divide by zero (1:14)\n | let z = 0; 1 % z\n | .............^"),
    ],
)
def test_runtime_errors(source, message):
    assert error_of(source) == message


@pytest.mark.parametrize(
    "source, message",
    [
        ("a +", "unexpected token EOF (1:3)\n | a +\n | ..^"),
        ("(1", "unexpected token EOF (1:2)\n | (1\n | .^"),
        ("1 + \"a\"", "invalid operation: + (mismatched types int and string) (1:3)\n | 1 + \"a\"\n | ..^"),
        ("true && 5", "invalid operation: && (mismatched types bool and int) (1:6)\n | true && 5\n | .....^"),
        ("len()", "invalid number of arguments (expected 1, got 0) (1:1)\n | len()\n | ^"),
        ("len(1, 2)", "invalid number of arguments (expected 1, got 2) (1:1)\n | len(1, 2)\n | ^"),
        ("'abc", "literal not terminated (1:5)\n | 'abc\n | ....^"),
    ],
)
def test_compile_errors(source, message):
    with pytest.raises(ExprError) as caught:
        compile(source)
    assert str(caught.value) == message


def test_compilation_accepts_unknown_names_and_functions():
    compile("a + b")
    compile('link(event, "source_account").role')
    compile("event.missing.deep")


def test_environment_functions_are_called_and_their_errors_pass_through_bare():
    env = {"event": EVENT, "double": lambda x: x * 2}
    assert run("double(21)", env) == 42

    def link(obj, name):
        raise RuntimeError(f"link '{name}' not defined for object")

    with pytest.raises(ExprError) as caught:
        run('link(event, "x").role', {"event": EVENT, "link": link})
    assert str(caught.value) == "link 'x' not defined for object"
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_a_program_is_compiled_once_and_reused():
    program = compile("event.amount > 50")
    assert program.run({"event": {"amount": 100.0}}) is True
    assert program.run({"event": {"amount": 10.0}}) is False
    assert program.run({"event": {"amount": 50}}) is False


# -- reference trigger_test.go and listener_test.go ---------------------------------------------


@pytest.mark.parametrize(
    "source, value, expected",
    [("event.a.b.c == 3", 3.0, True), ("event.a.b.c > 3", math.pi, True), ("event.a.b.c < 3.14", 3.14, False)],
)
def test_reference_filters(source, value, expected):
    assert run(source, {"event": {"a": {"b": {"c": value}}}}) is expected


@pytest.mark.parametrize(
    "source, payload, expected",
    [
        ("event.metadata.psp", {"metadata": {"psp": "stripe"}}, "stripe"),
        ("event.amount", {"amount": 1200000.0}, "1200000"),
        ("event.ok", {"ok": True}, "true"),
        ("event.amount", {"amount": 1200000}, "1200000"),
        ('event.foo + "-YYY"', {"foo": "XXX"}, "XXX-YYY"),
    ],
)
def test_reference_variables(source, payload, expected):
    assert to_variable_string(evaluate(source, {"event": payload})) == expected


@pytest.mark.parametrize(
    "value, text",
    [
        (1200000.0, "1200000"), (100.0, "100"), (1.5, "1.5"), (0.000001, "0.000001"), (1e21, "1e+21"),
        (1e-7, "1e-7"), (-2.5, "-2.5"), (123456789.0, "123456789"), (3, "3"), (True, "true"),
        (False, "false"), (None, "<nil>"), ("s", "s"), ([1, "x"], "[1 x]"), ({"b": 2.0, "a": 1.0}, "map[a:1 b:2]"),
    ],
)
def test_variable_strings(value, text):
    assert to_variable_string(value) == text


def test_listener_filters():
    program = compile("event.amount > 50")
    assert program.run({"event": {"amount": 100.0}}) is True
    assert program.run({"event": {"amount": 10.0}}) is False
    with pytest.raises(ExprError):
        compile("event.missing.deep").run({"event": {}})
