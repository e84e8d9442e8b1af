"""Parse (flows.triggers.expr.parser), then compile the tree into nested Python closures.

Every compiled node is a function `node(ctx) -> value`; `ctx` carries the environment, the
predicate element (`#`), its index and accumulator, `let` variables and the evaluation's budget
(flows.triggers.expr.budget). Nodes that can fail catch `Fail` from the run-time helpers and raise
`ExprError` at their own position, like expr-lang.

The source is checked before it is compiled (length, node count, nesting depth), so that neither
the parser nor the recursive compiler can run long or out of stack.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flows.gocompat.values import go_type
from flows.triggers.expr import budget as limits
from flows.triggers.expr import runtime as rt
from flows.triggers.expr.budget import Budget
from flows.triggers.expr.builtins import (
    ARRAYS,
    BUILTINS,
    DURATION,
    MAPS,
    NUMBERS,
    PREDICATES,
    RETURNS_EXISTING,
    TIME,
    check_arguments,
    result_nature,
)
from flows.triggers.expr.errors import MEMORY_EXCEEDED, TOO_DEEP, ExprError, Fail
from flows.triggers.expr.parser import Token, Tree, describe_token, parse
from flows.triggers.expr.regex import compile_regex
from flows.triggers.expr.times import method_message

Node = Callable[["Ctx"], Any]


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


def compile_source(source: str) -> Program:
    tree = parse(source)
    return Program(source, _Compiler(source).compile(tree, frozenset()))


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
        self.natures: dict[int, str] = {}  # the Go type the checker knows a node's value has
        self.elements: dict[int, str] = {}  # the type of an array's elements, when the checker knows it
        self.pointers: list[str | None] = []  # the element type `#` has in the predicates being compiled
        self.keep: list[Node] = []  # keeps constant and typed nodes alive so that their ids stay unique

    def error(self, message: str, position: int | None) -> ExprError:
        return ExprError(message, position, self.source)

    def const(self, value: Any) -> Node:
        node = lambda ctx: value
        self.constants[id(node)] = value
        self.keep.append(node)
        return node

    def is_const(self, node: Node) -> bool:
        return id(node) in self.constants

    def nature(self, node: Node) -> str | None:
        """The Go type expr-lang's checker gives `node` (None: unknown, as anything read from the
        environment): literals and the results of typed operations have one."""
        if id(node) in self.constants:
            value = self.constants[id(node)]
            return "nil" if value is None else go_type(value)
        return self.natures.get(id(node))

    def typed(self, node: Node, nature: str | None) -> Node:
        if nature is not None and id(node) not in self.constants:
            self.natures[id(node)] = nature
            self.keep.append(node)
        return node

    def element(self, node: Node) -> str | None:
        """The type of the elements of the array `node` computes, when the checker knows it."""
        return "string" if self.nature(node) == "[]string" else self.elements.get(id(node))

    def array_of(self, node: Node, element: str | None) -> Node:
        if element is not None:
            self.elements[id(node)] = element
            self.keep.append(node)
        return node

    def compile(self, tree: Any, lets: frozenset[str]) -> Node:
        if isinstance(tree, Token):
            raise self.error(f"unexpected token {describe_token(tree)}", tree.start_pos)
        method = getattr(self, "c_" + tree.data, None)
        if method is None:
            raise self.error(f"unsupported syntax {tree.data}", None)
        node = method(tree.children, lets)
        return self.typed(node, _LITERAL_NATURES.get(tree.data))

    # literals
    def c_int(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(children[1])

    def c_float(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(children[1])

    def c_string(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(str(children[0]))  # the lexer unescaped it

    def c_true(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(True)

    def c_false(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(False)

    def c_nil(self, children: list, lets: frozenset[str]) -> Node:
        return self.const(None)

    def c_array(self, children: list, lets: frozenset[str]) -> Node:
        items = self.args(children[1], lets)
        position = children[0].start_pos
        node = self._allocating(lambda ctx: [item(ctx) for item in items], len(items), position)
        # The checker's ArrayNode: elements all of one kind make an array of the last one's type.
        kinds = {_kind(self.nature(item)) for item in items}
        return self.array_of(node, self.nature(items[-1]) if len(kinds) == 1 else None)

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
                if pair.data == "expr_pair":
                    key = self.compile(pair.children[0], lets)
                else:  # a string, or a name or a number: the string of it as written
                    key = self.const(str(pair.children[0]))
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
            return self.typed(lambda ctx: ctx.ptr, self.pointers[-1] if self.pointers else None)
        if name == "#index":
            return lambda ctx: ctx.index
        if name == "#acc":
            return lambda ctx: ctx.acc
        raise self.error(f"unknown pointer {name}", children[0].start_pos)

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
        base_nature, element = self.nature(base), self.element(base)
        base = getattr(base, "chain_inner", base)  # continue the enclosing chain
        position = children[1].start_pos  # `[`, or the member's name: where expr-lang points
        if index:
            key = self.compile(children[-1], lets)
            name = self.constants.get(id(key)) if self.is_const(key) else None
            key_nature, key_position = self.nature(key), first_position(children[-1])
        else:
            name = str(children[2])
            key = self.const(name)
            key_nature, key_position = "string", position
        mistake = _member_mistake(base_nature, key_nature, name if type(name) is str else None)
        if mistake is not None:
            message, at_key = mistake
            raise self.error(message, key_position if at_key else position)
        node = self._fetch(base, key, position, optional)
        return self.typed(node, element)

    def c_member(self, children: list, lets: frozenset[str]) -> Node:
        return self._chain(self._member(children, lets, False, False))

    def c_opt_member(self, children: list, lets: frozenset[str]) -> Node:
        return self._chain(self._member(children, lets, True, False))

    def c_index(self, children: list, lets: frozenset[str]) -> Node:
        return self._chain(self._member(children, lets, False, True))

    def c_opt_index(self, children: list, lets: frozenset[str]) -> Node:
        return self._chain(self._member(children, lets, True, True))

    def _chain(self, node: Node) -> Node:
        return self.typed(self._chained(node), self.nature(node))

    def _chained(self, node: Node) -> Node:
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
        nature = self.nature(base)
        if nature is not None and nature != "string" and nature not in ARRAYS:
            raise self.error(f"cannot slice {_shown(nature)}", position)
        for tree, bound in ((children[2], start), (children[4], end)):
            bound_nature = self.nature(bound) if tree is not None else None
            if bound_nature not in (None, "int"):
                raise self.error(f"non-integer slice index {_shown(bound_nature)}", first_position(tree))

        def run(ctx: Ctx) -> Any:
            try:
                return rt.slice_of(base(ctx), start(ctx), end(ctx))
            except Fail as failure:
                raise ExprError(failure.message, position, source) from None

        return self.typed(run, nature)

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
        nature = self.nature(operand)
        result = _unary_nature(op, nature)
        if result is _MISMATCH:
            raise self.error(f"invalid operation: {op} (mismatched type {_shown(nature)})", position)
        if self.is_const(operand):
            try:
                return self.const(function(self.constants[id(operand)]))
            except Fail as failure:
                raise self.error(failure.message, position) from None

        def run(ctx: Ctx) -> Any:
            try:
                return function(operand(ctx))
            except Fail as failure:
                raise ExprError(failure.message, position, source) from None

        return self.typed(run, result)

    def c_paren(self, children: list, lets: frozenset[str]) -> Node:
        # Parentheses only group: the parser already applied what they change (`(a < b) < c` is
        # not chained, `(a ?? b) + 1` is allowed).
        return self.compile(children[0], lets)

    def c_binop(self, children: list, lets: frozenset[str]) -> Node:
        op_token = children[1]  # chained comparisons arrive desugared (flows/triggers/expr/parser.py)
        op = str(op_token)
        left = self.compile(children[0], lets)
        right = self.compile(children[2], lets)
        return self.binary(op, left, right, op_token.start_pos or 0)

    def c_notbinop(self, children: list, lets: frozenset[str]) -> Node:
        op_token = children[2].children[0]
        left = self.compile(children[0], lets)
        right = self.compile(children[3], lets)
        inner = self.binary(str(op_token), left, right, op_token.start_pos)
        return self._apply1(lambda value: not rt.as_bool(value), inner, op_token.start_pos, "not")

    def binary(self, op: str, left: Node, right: Node, position: int) -> Node:
        """`left op right`, refused at compile time where expr-lang's checker refuses it."""
        a, b = self.nature(left), self.nature(right)
        result = _binary_nature(op, a, b, self.element(right))
        if isinstance(result, _Refusal):
            mismatched = f"invalid operation: {op} (mismatched types {_shown(a)} and {_shown(b)})"
            raise self.error(result.message or mismatched, position)
        node = self.typed(self._operation(op, left, right, position), result)
        return self.array_of(node, "int") if op == ".." else node

    def _operation(self, op: str, left: Node, right: Node, position: int) -> Node:
        source = self.source
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
            # Folded as expr-lang's optimizer folds them; a range is built at each run, within
            # its budget, rather than kept in the program.
            if op != "..":
                try:
                    return self.const(function(a, b))
                except Fail as failure:
                    # The optimizer's own text: its division is not the vm's (`runtime error: ...`).
                    raise self.error(failure.message.removeprefix("runtime error: "), position) from None

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
        nature = self.nature(test)
        if nature not in (None, "bool", "nil"):
            raise self.error(f"non-bool expression (type {_shown(nature)}) used as condition", first_position(children[0]))
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

    def c_sequence(self, children: list, lets: frozenset[str]) -> Node:
        *firsts, last = [self.compile(child, lets) for child in children]

        def run(ctx: Ctx) -> Any:
            for node in firsts:
                node(ctx)
            return last(ctx)

        return self.typed(run, self.nature(last))

    # calls
    def c_call(self, children: list, lets: frozenset[str]) -> Node:
        name_token = children[0]
        return self.call(name_token, children[2], None, lets)

    def c_pipe(self, children: list, lets: frozenset[str]) -> Node:
        first = self.compile(children[0], lets)
        return self.call(children[2], children[3], first, lets, first_position(children[0]))

    def call(self, name_token: Token, arglist: Any, first: Node | None, lets: frozenset[str], first_at: int | None = None) -> Node:
        name = str(name_token)
        position = name_token.start_pos or 0
        raw = [child for child in arglist.children if child is not None] if arglist is not None else []
        source = self.source
        count = len(raw) + (first is not None)
        if name not in lets and (name in PREDICATES or (name == "sum" and count == 2)):
            return self.predicate_call(name, position, raw, first, lets)
        args = ([first] if first is not None else []) + [self.compile(child, lets) for child in raw]
        if name not in lets and name in BUILTINS:
            natures = [self.nature(arg) for arg in args]
            mistake = check_arguments(name, natures)
            if mistake is not None:
                message, argument = mistake
                starts = ([first_at] if first is not None else []) + [first_position(child) for child in raw]
                raise self.error(message, position if argument is None else starts[argument])
            function = BUILTINS[name][2]
            allocates = name not in RETURNS_EXISTING

            def run_builtin(ctx: Ctx) -> Any:
                try:
                    value = function(*[arg(ctx) for arg in args])
                    if allocates and type(value) in _SIZED:
                        ctx.budget.allocate(len(value))
                    return value
                except Fail as failure:
                    raise ExprError(failure.message, position, source) from None

            return self.typed(run_builtin, result_nature(name, natures))

        def run_env(ctx: Ctx) -> Any:
            function = ctx.lets[name] if name in lets else ctx.env.get(name)
            return _call_function(ctx, function, args, name, position, source)

        return run_env

    def c_method_call(self, children: list, lets: frozenset[str]) -> Node:
        # `a.f(x)`: the member, called (the environment's maps can hold functions).
        member = children[0]
        callee, args = self.compile(member, lets), self.args(children[1], lets)
        name, position, source = str(member.children[2]), member.pos, self.source

        def run(ctx: Ctx) -> Any:
            return _call_function(ctx, callee(ctx), args, name, position, source)

        return run

    def predicate_call(self, name: str, position: int, raw: list, first: Node | None, lets: frozenset[str]) -> Node:
        count = len(raw) + (first is not None)
        high = 3 if name in ("reduce", "sortBy") else 2
        low = 1 if name == "count" else 2  # `count(array)` counts its true elements
        if count < low:
            raise self.error(f"not enough arguments to call {name}", position)
        if count > high:
            raise self.error(f"too many arguments to call {name}", position)
        nodes = list(raw)
        array_at = first_position(nodes[0]) if first is None else position
        array = first if first is not None else self.compile(nodes.pop(0), lets)
        collection = self.nature(array)
        if collection is not None and collection not in ARRAYS:
            raise self.error(f"builtin {name} takes only array (got {_shown(collection)})", array_at)
        predicate: Node = lambda ctx: ctx.ptr
        element = self.element(array)
        if nodes:
            predicate_tree = nodes.pop(0)
            predicate_at = first_position(predicate_tree)
            if isinstance(predicate_tree, Tree) and predicate_tree.data == "closure":
                predicate_tree = predicate_tree.children[1]
            self.pointers.append(element)
            try:
                predicate = self.compile(predicate_tree, lets)
            finally:
                self.pointers.pop()
            mistake = _predicate_mistake(name, self.nature(predicate))
            if mistake is not None:
                raise self.error(mistake, predicate_at)
        extra = self.compile(nodes[0], lets) if nodes else None
        source = self.source

        def test(ctx: Ctx) -> bool:
            value = predicate(ctx)
            if value is True or value is False:
                return value
            raise ExprError(_bool_message(value), position, source)

        runner = _PREDICATE_RUNNERS[name]
        allocates = name in _BUILDERS
        nature, elements = _predicate_result(name, collection, element, self.nature(predicate))

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

        return self.array_of(self.typed(run, nature), elements)


_SKIP = object()

_TESTS = {"all", "any", "none", "one", "filter", "count", "find", "findLast", "findIndex", "findLastIndex"}


def _call_function(ctx: Ctx, function: Any, args: list[Node], name: str, position: int, source: str) -> Any:
    """Call a function of the environment (or a `let` holding one) with the arguments' values."""
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


def _predicate_mistake(name: str, nature: str | None) -> str | None:
    """The checker's complaint about a predicate whose value has type `nature` (BuiltinNode):
    a nil predicate is a function without a result."""
    if nature == "nil":
        inputs = "two" if name == "reduce" else "one"
        return f"predicate should has {inputs} input and one output param"
    if name in _TESTS and nature not in (None, "bool"):
        return f"predicate should return boolean (got {nature})"
    return None


def _predicate_result(name: str, collection: str | None, element: str | None, predicate: str | None) -> tuple[str | None, str | None]:
    """The type of a predicate builtin's result and, for an array, of its elements."""
    if name in ("all", "any", "none", "one"):
        return "bool", None
    if name in ("count", "findIndex", "findLastIndex"):
        return "int", None
    if name in ("find", "findLast"):
        return element, None
    if name == "filter":
        return "[]interface {}", element
    if name == "map":
        return "[]interface {}", predicate
    if name == "sortBy":
        return collection or "[]interface {}", element
    if name == "groupBy":
        return "map[interface {}][]interface {}", None
    return predicate, None  # sum, reduce


def first_position(tree: Any) -> int:
    """Where expr-lang places a subtree (an argument, an index) in its messages."""
    return tree.pos if isinstance(tree, Tree) else tree.start_pos


# -- the checker's rules for operators (checker/checker.go, checker/types.go) -----------------

_LITERAL_NATURES = {"array": "[]interface {}", "map": "map[string]interface {}"}
_MISMATCH = "mismatch"  # a _unary_nature answer


class _Refusal:
    """A `_binary_nature` answer: the operation is refused (with the default text when empty)."""

    def __init__(self, message: str = ""):
        self.message = message


def _shown(nature: str | None) -> str:
    """A type as the checker names it: nil's nature has no Go type and shows as `unknown`."""
    return "unknown" if nature is None or nature == "nil" else nature


def _either(a: str | None, b: str | None, kinds: set[str]) -> bool:
    """The checker's `or`: one side unknown and the other unknown or of `kinds`."""
    return (a is None and (b is None or b in kinds)) or (b is None and a in kinds)


def _combined(a: str | None, b: str | None) -> str | None:
    if a is None or b is None:
        return None
    return "float64" if "float64" in (a, b) else "int"


def _comparable(a: str | None, b: str | None) -> bool:
    if a is None or b is None or "nil" in (a, b):
        return True
    return (a in NUMBERS and b in NUMBERS) or (a in ARRAYS and b in ARRAYS) or a == b


_STRINGS = {"string"}
_TIMES = {TIME, DURATION}
_REFUSED = _Refusal()

# What `-`, `*` and `+` give on times and durations (checker.go, BinaryNode).
_TIME_RESULTS: dict[tuple[str, str | None, str | None], str] = {
    ("-", TIME, TIME): DURATION,
    ("-", TIME, DURATION): TIME,
    ("-", DURATION, DURATION): DURATION,
    ("*", "int", DURATION): DURATION,
    ("*", "float64", DURATION): DURATION,  # the checker's word; the value is a float64
    ("*", DURATION, "int"): DURATION,
    ("*", DURATION, "float64"): DURATION,
    ("*", DURATION, DURATION): DURATION,
    ("+", TIME, DURATION): TIME,
    ("+", DURATION, TIME): TIME,
    ("+", DURATION, DURATION): DURATION,
}


def _binary_nature(op: str, a: str | None, b: str | None, element: str | None = None) -> str | _Refusal | None:
    """The result type of `a op b` (`element`: the type of `b`'s elements when it is an array
    whose elements the checker knows), or a refusal, as the checker decides it."""
    both_numbers = a in NUMBERS and b in NUMBERS
    if op in ("==", "!="):
        return "bool" if _comparable(a, b) else _REFUSED
    if op in ("&&", "and", "||", "or"):
        return "bool" if (a == "bool" and b == "bool") or _either(a, b, {"bool"}) else _REFUSED
    if op in _ORDERINGS:
        same = a == b and a in _STRINGS | _TIMES
        return "bool" if both_numbers or same or _either(a, b, NUMBERS | _STRINGS | _TIMES) else _REFUSED
    if (op, a, b) in _TIME_RESULTS:
        return _TIME_RESULTS[op, a, b]
    if op in ("-", "*"):
        kinds = NUMBERS | (_TIMES if op == "-" else {DURATION})
        return _combined(a, b) if both_numbers else None if _either(a, b, kinds) else _REFUSED
    if op in ("/", "**", "^"):
        return "float64" if both_numbers or _either(a, b, NUMBERS) else _REFUSED
    if op == "%":
        return "int" if (a == "int" and b == "int") or _either(a, b, {"int"}) else _REFUSED
    if op == "+":
        if both_numbers:
            return _combined(a, b)
        if a == "string" and b == "string":
            return "string"
        return None if _either(a, b, NUMBERS | _STRINGS | _TIMES) else _REFUSED
    if op == "in":
        return _in_nature(a, b, element)
    if op in ("matches", "contains", "startsWith", "endsWith"):
        return "bool" if (a == "string" and b == "string") or _either(a, b, _STRINGS) else _REFUSED
    if op == "..":
        return "[]interface {}" if (a == "int" and b == "int") or _either(a, b, {"int"}) else _REFUSED
    # `??`
    if a == "nil":
        return b
    return a if b == "nil" or a == b else None


def _in_nature(a: str | None, b: str | None, element: str | None) -> str | _Refusal | None:
    if b == "map[string]interface {}" and a not in (None, "nil", "string"):
        return _Refusal(f"cannot use {a} as type string in map key")
    if b in ARRAYS and element is not None and not _comparable(a, element):
        return _Refusal(f"cannot use {a} as type {_shown(element)} in array")
    if b in MAPS or b in ARRAYS or b is None or (a is None and b == "string"):
        return "bool"
    return _REFUSED


def _member_mistake(base: str | None, key: str | None, name: str | None) -> tuple[str, bool] | None:
    """The checker's complaint about `base[key]` (`base.name`), if any, and whether it points at
    the key rather than at the member access."""
    if base is None:
        return None
    if base in MAPS:
        if base == "map[string]interface {}" and key not in (None, "nil", "string"):
            return f"cannot use {key} to get an element from {base}", True
        return None
    if base in ARRAYS:
        if key not in (None, "int"):
            return f"array elements can only be selected using an integer (got {_shown(key)})", True
        return None
    if base in _TIMES and name is not None and name[:1].isupper():  # Go's exported methods
        return method_message(base, name), False
    if name is not None:
        return f"type {base} has no field {name}", False
    return f"type {_shown(base)}[{_shown(key)}] is undefined", False


def _kind(nature: str | None) -> str:
    """The reflect.Kind of a type the checker compares the elements of an array literal by."""
    if nature is None or nature == "nil":
        return "invalid"
    return "slice" if nature in ARRAYS else "map" if nature in MAPS else nature


def _unary_nature(op: str, nature: str | None) -> str | None:
    if op in ("!", "not"):
        return "bool" if nature in (None, "bool") else _MISMATCH
    return nature if nature is None or nature in NUMBERS else _MISMATCH


_ORDERINGS = {"<", ">", "<=", ">="}  # the operators expr-lang chains (operator.IsComparison)


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
    # The vm reads the order (a string) before it walks the array, then sorts with runtime.Less:
    # keys that `<` cannot compare fail with its message.
    order = rt.as_string(extra(ctx)) if extra is not None else "asc"
    if order not in ("asc", "desc"):
        raise ExprError("unknown order, use asc or desc", position, source)
    descending = order == "desc"
    step = ctx.budget.step

    class Key:
        __slots__ = ("value",)

        def __init__(self, value: Any):
            self.value = value

        def __lt__(self, other: Key) -> bool:
            step()
            return rt.lt(other.value, self.value) if descending else rt.lt(self.value, other.value)

    keyed = [(Key(predicate(ctx)), item) for _, item in _walk(ctx, items)]
    keyed.sort(key=lambda pair: pair[0])
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
