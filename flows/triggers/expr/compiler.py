"""Parse with the lark grammar, then compile the tree into nested Python closures.

Every compiled node is a function `node(ctx) -> value`; `ctx` carries the environment, the
predicate element (`#`), its index and accumulator, `let` variables and the evaluation's budget
(flows.triggers.expr.budget). Nodes that can fail catch `Fail` from the run-time helpers and raise
`ExprError` at their own position, like expr-lang.

The source is checked before it is compiled (length, node count, nesting depth), so that neither
the parser nor the recursive compiler can run long or out of stack.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import lark
from lark import Token, Tree

from flows.gocompat.values import go_type
from flows.triggers.expr import budget as limits
from flows.triggers.expr import runtime as rt
from flows.triggers.expr.budget import Budget
from flows.triggers.expr.builtins import BUILTINS, PREDICATES, RETURNS_EXISTING
from flows.triggers.expr.errors import MEMORY_EXCEEDED, TOO_DEEP, ExprError, Fail
from flows.triggers.expr.regex import compile_regex

Node = Callable[["Ctx"], Any]

_PARSER = lark.Lark((Path(__file__).with_name("expr.lark")).read_text(), parser="lalr", maybe_placeholders=True)


class Ctx:
    __slots__ = ("acc", "budget", "env", "index", "lets", "ptr")

    def __init__(self, env: dict[str, Any], budget: Budget):
        self.env = env
        self.budget = budget
        self.ptr: Any = None
        self.index: int = 0
        self.acc: Any = None
        self.lets: dict[str, Any] = {}


class Program:
    """A compiled expression; `run(env)` evaluates it (thread-safe, reusable)."""

    def __init__(self, source: str, node: Node):
        self.source = source
        self._node = node

    def run(self, env: dict[str, Any] | None = None, *, budget: Budget | None = None) -> Any:
        """The value against `env`, within `budget` (a fresh default one when not given)."""
        budget = budget if budget is not None else Budget()
        previous = limits.install(budget)
        try:
            return self._node(Ctx(env if env is not None else {}, budget))
        except Fail as failure:  # a budget running out outside of any node with a position
            raise ExprError(failure.message) from None
        except RecursionError:  # values nested deeper than the stack (a deep payload)
            raise ExprError(TOO_DEEP) from None
        except MemoryError:
            raise ExprError(MEMORY_EXCEEDED) from None
        finally:
            limits.install(previous)

    def __repr__(self) -> str:
        return f"Program({self.source!r})"


_TOKEN_KIND = {
    "NAME": "Identifier",
    "INT": "Number",
    "FLOAT": "Number",
    "STRING": "String",
    "RAWSTRING": "String",
    "$END": "EOF",
}
_BRACKETS = set("()[]{}")


def _describe(token: Token) -> str:
    if token.type == "$END":
        return "EOF"
    kind = _TOKEN_KIND.get(token.type)
    if kind is None:
        kind = "Bracket" if str(token) in _BRACKETS else "Operator"
    return f'{kind}("{token}")'


def parse(source: str) -> Tree:
    """The syntax tree of `source`, within the limits of flows.triggers.expr.budget."""
    if len(source) > limits.MAX_SOURCE_LENGTH:
        raise ExprError(f"expression longer than {limits.MAX_SOURCE_LENGTH} characters")
    tree = _parse(source)
    _check_size(tree, source)
    return tree


def _parse(source: str) -> Tree:
    try:
        return _PARSER.parse(source)
    except lark.exceptions.UnexpectedToken as error:
        token = error.token
        position = token.start_pos if token.start_pos is not None else len(source)
        if token.type == "$END":
            raise ExprError("unexpected token EOF", len(source), source) from None
        raise ExprError(f"unexpected token {_describe(token)}", position, source) from None
    except lark.exceptions.UnexpectedCharacters as error:
        at = error.pos_in_stream or 0
        char = source[at]
        if char in "\"'`":
            raise ExprError("literal not terminated", at, source) from None
        raise ExprError(f"unrecognized character: U+{ord(char):04X} '{char}'", at, source) from None
    except lark.exceptions.UnexpectedEOF:
        raise ExprError("unexpected token EOF", len(source), source) from None


def _check_size(tree: Tree, source: str) -> None:
    """At most MAX_NODES nodes (as expr-lang) and MAX_DEPTH levels, walked without recursion.

    Parentheses add no level: nested ones are merged into one, left for c_paren to tell
    `(a ?? b) + 1` from `a ?? b + 1`."""
    count = 0
    pending: list[tuple[Any, int]] = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        if not isinstance(node, Tree):
            continue
        node.children = [_merge_parens(child) for child in node.children]
        if node.data == "paren":
            pending.append((node.children[0], depth))
            continue
        count += 1
        if count > limits.MAX_NODES:
            raise ExprError("compilation failed: expression exceeds maximum allowed nodes", _start(node), source)
        if depth > limits.MAX_DEPTH:
            raise ExprError(
                f"compilation failed: expression nested deeper than {limits.MAX_DEPTH} levels",
                _start(node),
                source,
            )
        pending.extend((child, depth + 1) for child in node.children)


def _merge_parens(node: Any) -> Any:
    while isinstance(node, Tree) and node.data == "paren" and isinstance(node.children[0], Tree) and node.children[0].data == "paren":
        node = node.children[0]
    return node


def _start(tree: Tree) -> int | None:
    """The position of the first token under `tree`."""
    node: Any = tree
    while isinstance(node, Tree):
        children = [child for child in node.children if child is not None]
        if not children:
            return None
        node = children[0]
    return node.start_pos if isinstance(node, Token) else None


def compile_source(source: str) -> Program:
    tree = parse(source)
    return Program(source, _Compiler(source).compile(tree, frozenset()))


# -- literals --------------------------------------------------------------------------------

_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", "'": "'", '"': '"'}


def unescape(body: str, position: int, source: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        kind = body[i + 1]
        if kind in _ESCAPES:
            out.append(_ESCAPES[kind])
            i += 2
        elif kind in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[kind]
            digits = body[i + 2 : i + 2 + size]
            if len(digits) != size or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise ExprError("invalid char escape", position + i + 1, source)
            out.append(chr(int(digits, 16)))
            i += 2 + size
        elif kind in "01234567":
            digits = body[i + 1 : i + 4]
            if len(digits) != 3 or not all(c in "01234567" for c in digits) or int(digits, 8) > 255:
                raise ExprError("invalid char escape", position + i + 1, source)
            out.append(chr(int(digits, 8)))
            i += 4
        else:
            raise ExprError("invalid char escape", position + i + 1, source)
    return "".join(out)


def parse_int(token: Token, source: str) -> int:
    text = str(token).replace("_", "")
    lowered = text.lower()
    base = 16 if lowered.startswith("0x") else 8 if lowered.startswith("0o") else 2 if lowered.startswith("0b") else 10
    try:
        value = int(text[2:] if base != 10 else text, base)
    except ValueError:
        raise ExprError(f"invalid integer literal: {token}", token.start_pos, source) from None
    if value > rt.INT64_MAX:
        raise ExprError(f"integer literal is too large: {token}", token.start_pos, source)
    return value


def _literal_name(value: Any) -> str:
    return "nil" if value is None else go_type(value)


# -- the compiler ----------------------------------------------------------------------------

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": rt.add,
    "-": rt.sub,
    "*": rt.mul,
    "/": rt.div,
    "%": rt.mod,
    "**": rt.power,
    "^": rt.power,
    "==": rt.equal,
    "!=": rt.not_equal,
    "<": rt.lt,
    ">": rt.gt,
    "<=": rt.le,
    ">=": rt.ge,
    "in": rt.contained,
    "contains": rt.contains,
    "startsWith": rt.starts_with,
    "endsWith": rt.ends_with,
    "..": rt.make_range,
}


class _Constant:
    """Marks a node whose value is known at compile time."""


class _Compiler:
    def __init__(self, source: str):
        self.source = source
        self.constants: dict[int, Any] = {}
        self.keep: list[Node] = []  # keeps constant nodes alive so that their ids stay unique

    def error(self, message: str, position: int | None) -> ExprError:
        return ExprError(message, position, self.source)

    def const(self, value: Any) -> Node:
        node = lambda ctx: value
        self.constants[id(node)] = value
        self.keep.append(node)
        return node

    def is_const(self, node: Node) -> bool:
        return id(node) in self.constants

    def compile(self, tree: Any, lets: frozenset[str]) -> Node:
        if isinstance(tree, Token):
            raise self.error(f"unexpected token {_describe(tree)}", tree.start_pos)
        method = getattr(self, "c_" + tree.data, None)
        if method is None:
            raise self.error(f"unsupported syntax {tree.data}", None)
        return method(tree.children, lets)

    # literals
    def c_int(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(parse_int(children[0], self.source))

    def c_float(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(float(str(children[0]).replace("_", "")))

    def c_string(self, children: list, lets: frozenset[str]) -> Node:
        token = children[0]
        return self.const(unescape(str(token)[1:-1], token.start_pos + 1, self.source))

    def c_rawstring(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(str(children[0])[1:-1])

    def c_true(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(True)

    def c_false(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(False)

    def c_nil(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(None)

    def c_array(self, children: list, lets: frozenset[str]) -> Node:
        items = self.args(children[1], lets)
        position = children[0].start_pos
        return self._allocating(lambda ctx: [item(ctx) for item in items], len(items), position)

    def _allocating(self, build: Node, size: int, position: int) -> Node:
        """A literal of `size` elements, counted against the memory budget as expr-lang does."""
        source = self.source

        def run(ctx: Ctx) -> Any:
            try:
                ctx.budget.allocate(size)
            except Fail as failure:
                raise ExprError(failure.message, position, source) from None
            return build(ctx)

        return run

    def c_map(self, children: list, lets: frozenset[str]) -> Node:
        pairs: list[tuple[Node, Node]] = []
        if children[1] is not None:
            for pair in children[1].children:
                if pair is None:
                    continue
                if pair.data == "expr_pair":
                    key = self.compile(pair.children[0], lets)
                else:
                    token = pair.children[0]
                    if token.type == "STRING":
                        key = self.const(unescape(str(token)[1:-1], token.start_pos + 1, self.source))
                    elif token.type == "RAWSTRING":
                        key = self.const(str(token)[1:-1])
                    else:  # a name, or a number: the string of its digits as written (parser/parser.go)
                        key = self.const(str(token))
                pairs.append((key, self.compile(pair.children[-1], lets)))
        build: Node = lambda ctx: {key(ctx): value(ctx) for key, value in pairs}
        return self._allocating(build, len(pairs), children[0].start_pos)

    def c_closure(self, children: list, lets: frozenset[str]) -> Node:
        # `{ expr }` outside of a predicate position: the expression itself.
        return self.compile(children[1], lets)

    def args(self, arglist: Any, lets: frozenset[str]) -> list[Node]:
        if arglist is None:
            return []
        return [self.compile(child, lets) for child in arglist.children if child is not None]

    # names
    def c_ident(self, children: list, lets: frozenset[str]) -> Node:
        name = str(children[0])
        if name in lets:
            return lambda ctx: ctx.lets[name]
        if name == "$env":
            return lambda ctx: ctx.env
        return lambda ctx: ctx.env.get(name)

    def c_pointer(self, children: list, lets: frozenset[str]) -> Node:
        name = str(children[0])
        if name == "#":
            return lambda ctx: ctx.ptr
        if name == "#index":
            return lambda ctx: ctx.index
        if name == "#acc":
            return lambda ctx: ctx.acc
        raise self.error(f"unknown pointer {name}", children[0].start_pos)

    def c_pointer_member(self, children: list, lets: frozenset[str]) -> Node:
        dot, name = children[0], str(children[1])
        return self._fetch(lambda ctx: ctx.ptr, lambda ctx: name, dot.start_pos, optional=False)

    def c_let(self, children: list, lets: frozenset[str]) -> Node:
        name = str(children[1])
        value = self.compile(children[2], lets)
        body = self.compile(children[3], lets | {name})

        def run(ctx: Ctx) -> Any:
            saved = ctx.lets
            ctx.lets = {**saved, name: value(ctx)}
            try:
                return body(ctx)
            finally:
                ctx.lets = saved

        return run

    # member access
    def _fetch(self, base: Node, key: Node, position: int, optional: bool) -> Node:
        source = self.source
        fetch = rt.fetch

        def run(ctx: Ctx) -> Any:
            value = base(ctx)
            if type(value) is dict:
                k = key(ctx)
                if type(k) is str:
                    return value.get(k)
            elif (value is None and optional) or value is _SKIP:
                return _SKIP
            try:
                return fetch(value, key(ctx))
            except Fail as failure:
                raise ExprError(failure.message, position, source) from None

        return run

    def _member(self, children: list, lets: frozenset[str], optional: bool, index: bool) -> Node:
        base = self.compile(children[0], lets)
        base = getattr(base, "chain_inner", base)  # continue the enclosing chain
        op = children[1]
        if index:
            key = self.compile(children[-1], lets)
        else:
            name = str(children[2])
            key = lambda ctx: name
        node = self._fetch(base, key, op.start_pos, optional)
        return node

    def c_member(self, children: list, lets: frozenset[str]) -> Node:
        return self._chain(self._member(children, lets, False, False))

    def c_opt_member(self, children: list, lets: frozenset[str]) -> Node:
        return self._chain(self._member(children, lets, True, False))

    def c_index(self, children: list, lets: frozenset[str]) -> Node:
        return self._chain(self._member(children, lets, False, True))

    def c_opt_index(self, children: list, lets: frozenset[str]) -> Node:
        return self._chain(self._member(children, lets, True, True))

    def _chain(self, node: Node) -> Node:
        # `a?.b.c`: once an optional step meets nil, the whole chain is nil. Inner nodes return
        # the _SKIP marker and every enclosing step passes it through; the outermost step (the
        # one not itself inside a chain) turns it into nil.
        def run(ctx: Ctx) -> Any:
            value = node(ctx)
            return None if value is _SKIP else value

        run.chain_inner = node  # type: ignore[attr-defined]
        return run

    def c_slice(self, children: list, lets: frozenset[str]) -> Node:
        base = self.compile(children[0], lets)
        position = children[1].start_pos
        start = self.compile(children[2], lets) if children[2] is not None else self.const(None)
        end = self.compile(children[4], lets) if children[4] is not None else self.const(None)
        source = self.source

        def run(ctx: Ctx) -> Any:
            try:
                return rt.slice_of(base(ctx), start(ctx), end(ctx))
            except Fail as failure:
                raise ExprError(failure.message, position, source) from None

        return run

    # operators
    def c_unary(self, children: list, lets: frozenset[str]) -> Node:
        op = children[0]
        operand = self.compile(children[1], lets)
        position = op.start_pos
        if str(op) in ("not", "!"):
            function = lambda value: not rt.as_bool(value)
        elif str(op) == "-":
            function = rt.negate
        else:
            function = rt.plus
        return self._apply1(function, operand, position, str(op))

    def _apply1(self, function: Callable[[Any], Any], operand: Node, position: int, op: str) -> Node:
        source = self.source
        if self.is_const(operand):
            try:
                return self.const(function(self.constants[id(operand)]))
            except Fail:
                value = self.constants[id(operand)]
                raise self.error(f"invalid operation: {op} (mismatched type {_literal_name(value)})", position) from None

        def run(ctx: Ctx) -> Any:
            try:
                return function(operand(ctx))
            except Fail as failure:
                raise ExprError(failure.message, position, source) from None

        return run

    def c_paren(self, children: list, lets: frozenset[str]) -> Node:
        # Kept in the tree only so that `(a ?? b) + 1` and `(a < b) < c` are told apart from
        # `a ?? b + 1` and `a < b < c`.
        return self.compile(children[0], lets)

    def c_binop(self, children: list, lets: frozenset[str]) -> Node:
        op_token = _operator(children[1])
        op = str(op_token)
        self._refuse_mixed_coalesce(children[0], op_token)
        if op in _ORDERINGS and _operator_of(children[0]) in _ORDERINGS:
            return self._chained_comparison(children[0], op_token, children[2], lets)
        left = self.compile(children[0], lets)
        right = self.compile(children[2], lets)
        return self.binary(op, left, right, op_token.start_pos or 0)

    def _chained_comparison(self, first: Tree, op_token: Token, last: Any, lets: frozenset[str]) -> Node:
        """`a < b < c` is `a < b && b < c`, as expr-lang's parser (parser/parser.go,
        parseComparison) desugars it; `b` is evaluated on both sides, as there."""
        head = self.compile(first, lets)
        middle = self.compile(first.children[2], lets)
        position = op_token.start_pos or 0
        tail = self.binary(str(op_token), middle, self.compile(last, lets), position)
        return self.binary("&&", head, tail, position)

    def _refuse_mixed_coalesce(self, left: Any, op_token: Token) -> None:
        """`a ?? b + 1` is a syntax error in expr-lang (parser/parser.go): the operator after
        an unparenthesized `??` must be another `??`."""
        if str(op_token) != "??" and _operator_of(left) == "??":
            message = f"Operator ({op_token}) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses."
            raise self.error(message, op_token.start_pos)

    def c_notbinop(self, children: list, lets: frozenset[str]) -> Node:
        op_token = children[2].children[0]
        self._refuse_mixed_coalesce(children[0], op_token)
        left = self.compile(children[0], lets)
        right = self.compile(children[3], lets)
        inner = self.binary(str(op_token), left, right, op_token.start_pos)
        return self._apply1(lambda value: not rt.as_bool(value), inner, op_token.start_pos, "not")

    def binary(self, op: str, left: Node, right: Node, position: int) -> Node:
        source = self.source
        if op in ("&&", "and", "||", "or"):
            for side in (left, right):
                if self.is_const(side) and type(self.constants[id(side)]) is not bool:
                    names = [_literal_name(self.constants[id(node)]) if self.is_const(node) else "interface {}" for node in (left, right)]
                    raise self.error(f"invalid operation: {op} (mismatched types {names[0]} and {names[1]})", position)
        if op in ("&&", "and"):

            def run_and(ctx: Ctx) -> Any:
                value = left(ctx)
                if value is False:
                    return False
                if value is not True:
                    raise ExprError(_bool_message(value), position, source)
                return right(ctx)

            return run_and
        if op in ("||", "or"):

            def run_or(ctx: Ctx) -> Any:
                value = left(ctx)
                if value is True:
                    return True
                if value is not False:
                    raise ExprError(_bool_message(value), position, source)
                return right(ctx)

            return run_or
        if op == "??":

            def run_coalesce(ctx: Ctx) -> Any:
                value = left(ctx)
                return right(ctx) if value is None else value

            return run_coalesce
        if op == "matches":
            return self._matches(left, right, position)
        function = _BINARY[op]
        if self.is_const(left) and self.is_const(right):
            a, b = self.constants[id(left)], self.constants[id(right)]
            mismatched = f"invalid operation: {op} (mismatched types {_literal_name(a)} and {_literal_name(b)})"
            if op != "..":
                try:
                    return self.const(function(a, b))
                except Fail:
                    raise self.error(mismatched, position) from None
            # A range is built at each run, within its budget, rather than kept in the program.
            if type(a) is not int or type(b) is not int:
                raise self.error(mismatched, position)

        # Fast paths for the comparisons of filters (`event.amount > 50`).
        if op == ">" and self.is_const(right) and rt.is_number(self.constants[id(right)]):
            limit = self.constants[id(right)]

            def run_gt(ctx: Ctx) -> Any:
                value = left(ctx)
                kind = type(value)
                if kind is float or kind is int:
                    return value > limit
                try:
                    return rt.gt(value, limit)
                except Fail as failure:
                    raise ExprError(failure.message, position, source) from None

            return run_gt
        if op == "==" and self.is_const(right):
            constant = self.constants[id(right)]
            if type(constant) is str:

                def run_eq_str(ctx: Ctx) -> Any:
                    value = left(ctx)
                    return type(value) is str and value == constant

                return run_eq_str

        def run(ctx: Ctx) -> Any:
            try:
                return function(left(ctx), right(ctx))
            except Fail as failure:
                raise ExprError(failure.message, position, source) from None

        return run

    def _matches(self, left: Node, right: Node, position: int) -> Node:
        source = self.source
        # A nil on either side answers false (see flows/triggers/expr/runtime.py, `contains`).
        if self.is_const(right) and self.constants[id(right)] is not None:
            try:
                regex = compile_regex(rt.as_string(self.constants[id(right)]))
            except Fail as failure:
                raise self.error(failure.message, position) from None

            def run_const(ctx: Ctx) -> Any:
                value = left(ctx)
                if value is None:
                    return False
                try:
                    return regex.search(rt.as_string(value)) is not None
                except Fail as failure:
                    raise ExprError(failure.message, position, source) from None

            return run_const

        def run(ctx: Ctx) -> Any:
            try:
                value, pattern = left(ctx), right(ctx)
                if value is None or pattern is None:
                    return False
                return compile_regex(rt.as_string(pattern)).search(rt.as_string(value)) is not None
            except Fail as failure:
                raise ExprError(failure.message, position, source) from None

        return run

    def c_cond(self, children: list, lets: frozenset[str]) -> Node:
        test = self.compile(children[0], lets)
        position = children[1].start_pos
        yes = self.compile(children[2], lets)
        no = self.compile(children[3], lets)
        source = self.source

        def run(ctx: Ctx) -> Any:
            value = test(ctx)
            if value is True:
                return yes(ctx)
            if value is False:
                return no(ctx)
            raise ExprError(_bool_message(value), position, source)

        return run

    def c_elvis(self, children: list, lets: frozenset[str]) -> Node:
        test = self.compile(children[0], lets)
        other = self.compile(children[2], lets)

        def run(ctx: Ctx) -> Any:
            value = test(ctx)
            return other(ctx) if value is None or value is False else value

        return run

    # calls
    def c_call(self, children: list, lets: frozenset[str]) -> Node:
        name_token = children[0]
        return self.call(name_token, children[2], None, lets)

    def c_pipe(self, children: list, lets: frozenset[str]) -> Node:
        first = self.compile(children[0], lets)
        return self.call(children[2], children[3], first, lets)

    def call(self, name_token: Token, arglist: Any, first: Node | None, lets: frozenset[str]) -> Node:
        name = str(name_token)
        position = name_token.start_pos or 0
        raw = [child for child in arglist.children if child is not None] if arglist is not None else []
        source = self.source
        if name not in lets and (name in PREDICATES or (name == "sum" and len(raw) + (first is not None) == 2)):
            return self.predicate_call(name, position, raw, first, lets)
        args = ([first] if first is not None else []) + [self.compile(child, lets) for child in raw]
        if name not in lets and name in BUILTINS:
            low, high, function = BUILTINS[name]
            if len(args) < low:
                raise self.error(f"not enough arguments to call {name}", position)
            if high is not None and len(args) > high:
                raise self.error(f"too many arguments to call {name}", position)

            allocates = name not in RETURNS_EXISTING

            def run_builtin(ctx: Ctx) -> Any:
                try:
                    value = function(*[arg(ctx) for arg in args])
                    if allocates and type(value) in _SIZED:
                        ctx.budget.allocate(len(value))
                    return value
                except Fail as failure:
                    raise ExprError(failure.message, position, source) from None

            return run_builtin

        def run_env(ctx: Ctx) -> Any:
            function = ctx.lets[name] if name in lets else ctx.env.get(name)
            if not callable(function):
                raise ExprError(f"{name} is not a function (type {go_type(function)})", position, source)
            values = [arg(ctx) for arg in args]
            try:
                with ctx.budget.paused():  # waiting on the stack is not the expression's work
                    return function(*values)
            except ExprError:
                raise
            except Exception as error:  # a function's own error is passed through as is
                raise ExprError(str(error)) from error

        return run_env

    def predicate_call(self, name: str, position: int, raw: list, first: Node | None, lets: frozenset[str]) -> Node:
        count = len(raw) + (first is not None)
        high = 3 if name in ("reduce", "sortBy") else 2
        if count < 2:
            raise self.error(f"not enough arguments to call {name}", position)
        if count > high:
            raise self.error(f"too many arguments to call {name}", position)
        nodes = list(raw)
        array = first if first is not None else self.compile(nodes.pop(0), lets)
        predicate_tree = nodes.pop(0)
        if isinstance(predicate_tree, Tree) and predicate_tree.data == "closure":
            predicate_tree = predicate_tree.children[1]
        predicate = self.compile(predicate_tree, lets)
        extra = self.compile(nodes[0], lets) if nodes else None
        source = self.source

        def test(ctx: Ctx) -> bool:
            value = predicate(ctx)
            if value is True or value is False:
                return value
            raise ExprError(_bool_message(value), position, source)

        runner = _PREDICATE_RUNNERS[name]
        allocates = name in _BUILDERS

        def run(ctx: Ctx) -> Any:
            saved = (ctx.ptr, ctx.index, ctx.acc)
            try:
                value = runner(ctx, rt.iterable(array(ctx)), predicate, test, extra, position, source)
                if allocates:
                    ctx.budget.allocate(len(value))
                return value
            except Fail as failure:
                raise ExprError(failure.message, position, source) from None
            finally:
                ctx.ptr, ctx.index, ctx.acc = saved

        return run


_SKIP = object()
_ORDERINGS = {"<", ">", "<=", ">="}  # the operators expr-lang chains (operator.IsComparison)


def _operator(child: Any) -> Token:
    """The operator token of a binop (a cmpop or cmpword tree wraps it)."""
    while isinstance(child, Tree):
        child = child.children[0]
    return child


def _operator_of(tree: Any) -> str | None:
    """The operator of `tree` when it is an unparenthesized binary operation."""
    if isinstance(tree, Tree) and tree.data == "binop":
        return str(_operator(tree.children[1]))
    return None


_SIZED = (str, list, dict)
_BUILDERS = {"map", "filter", "groupBy", "sortBy"}  # the predicates that build a new value


def _bool_message(value: Any) -> str:
    try:
        rt.as_bool(value)
    except Fail as failure:
        return failure.message
    return ""


def _walk(ctx: Ctx, items: list[Any]):
    step = ctx.budget.step
    for index, item in enumerate(items):
        step()
        ctx.ptr, ctx.index = item, index
        yield index, item


def _all(ctx, items, predicate, test, extra, position, source):
    return all(test(ctx) for _ in _walk(ctx, items))


def _any(ctx, items, predicate, test, extra, position, source):
    return any(test(ctx) for _ in _walk(ctx, items))


def _none(ctx, items, predicate, test, extra, position, source):
    return not any(test(ctx) for _ in _walk(ctx, items))


def _one(ctx, items, predicate, test, extra, position, source):
    return sum(1 for _ in _walk(ctx, items) if test(ctx)) == 1


def _filter(ctx, items, predicate, test, extra, position, source):
    return [item for _, item in _walk(ctx, items) if test(ctx)]


def _map(ctx, items, predicate, test, extra, position, source):
    return [predicate(ctx) for _ in _walk(ctx, items)]


def _count(ctx, items, predicate, test, extra, position, source):
    return sum(1 for _ in _walk(ctx, items) if test(ctx))


def _sum(ctx, items, predicate, test, extra, position, source):
    total: Any = 0
    for _ in _walk(ctx, items):
        try:
            total = rt.add(total, predicate(ctx))
        except Fail as failure:
            raise ExprError(failure.message, position, source) from None
    return total


def _find(ctx, items, predicate, test, extra, position, source):
    for _, item in _walk(ctx, items):
        if test(ctx):
            return item
    return None


def _find_index(ctx, items, predicate, test, extra, position, source):
    for index, _ in _walk(ctx, items):
        if test(ctx):
            return index
    return -1


def _find_last(ctx, items, predicate, test, extra, position, source):
    found = None
    for _, item in _walk(ctx, items):
        if test(ctx):
            found = item
    return found


def _find_last_index(ctx, items, predicate, test, extra, position, source):
    found = -1
    for index, _ in _walk(ctx, items):
        if test(ctx):
            found = index
    return found


def _group_by(ctx, items, predicate, test, extra, position, source):
    groups: dict[Any, list[Any]] = {}
    for _, item in _walk(ctx, items):
        key = predicate(ctx)
        try:
            groups.setdefault(key, []).append(item)
        except TypeError:
            raise ExprError(f"cannot group by {go_type(key)}", position, source) from None
    return groups


def _sort_by(ctx, items, predicate, test, extra, position, source):
    order = extra(ctx) if extra is not None else "asc"
    if order not in ("asc", "desc"):
        raise ExprError(f"unknown order {order}, use asc or desc", position, source)
    keyed = [(predicate(ctx), item) for _, item in _walk(ctx, items)]
    keys = [key for key, _ in keyed]
    if not (all(rt.is_number(k) for k in keys) or all(type(k) is str for k in keys)):
        raise ExprError("sortBy() expects keys of numbers or strings", position, source)
    keyed.sort(key=lambda pair: pair[0], reverse=order == "desc")
    return [item for _, item in keyed]


def _reduce(ctx, items, predicate, test, extra, position, source):
    if extra is not None:
        accumulator = extra(ctx)
        rest = list(enumerate(items))
    else:
        if not items:
            raise ExprError("reduce of empty array with no initial value", position, source)
        accumulator = items[0]
        rest = list(enumerate(items))[1:]
    for index, item in rest:
        ctx.budget.step()
        ctx.ptr, ctx.index, ctx.acc = item, index, accumulator
        accumulator = predicate(ctx)
    return accumulator


_PREDICATE_RUNNERS = {
    "all": _all,
    "any": _any,
    "none": _none,
    "one": _one,
    "filter": _filter,
    "map": _map,
    "count": _count,
    "sum": _sum,
    "find": _find,
    "findIndex": _find_index,
    "findLast": _find_last,
    "findLastIndex": _find_last_index,
    "groupBy": _group_by,
    "sortBy": _sort_by,
    "reduce": _reduce,
}
