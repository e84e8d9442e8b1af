"""The syntax tree of an expression: a precedence-climbing parser over flows.triggers.expr.lexer
that accepts what expr-lang v1.17 accepts and fails where it fails, with its message and position.

The tree is made of `Tree(data, children, pos)` nodes (`pos`: the source index expr-lang gives the
node) whose children are trees, tokens, literal values or None:

    int/float [token, value]   string/true/false/nil/ident [token]   pointer [token "#", "#index"…]
    array [token "[", arglist?]   map [token "{", pairs?]   pairs [pair…]
    pair [token key, value]   expr_pair [key, value]
    member/opt_member [base, token at the member's name, name]   index/opt_index [base, token "[", key]
    slice [base, token "[", from?, token ":", to?]   method_call [member, arglist?]
    call [name, token "(", arglist?]   pipe [left, token "|", name, arglist?]   arglist [argument…]
    closure [token, body]: the predicate argument of all, map, filter…
    unary [operator, operand]   binop [left, operator, right]
    notbinop [left, token "not", cmpword [operator], right]   (`a not in b`)
    cond [condition, token, then, else] (`?:`, `c ? a : b`, `if c { a } else { b }`)
    let [token "let", name, value, body]   sequence [expression…]   paren [expression]

Chained comparisons arrive desugared (`a < b < c` is `a < b && b < c`, as expr-lang's parser
builds it); parentheses are kept (merged when directly nested) so that `(a < b) < c` is not
chained again.

Parsing is bounded: the source length, expr-lang's node count, and a nesting depth, checked both
while parsing (the parser recurses once per level) and on the finished tree (left-associative
chains such as `1 + 1 + …` are built by a loop, but compiled by recursion). Nested parentheses are
read by a loop and add no level.
"""

from __future__ import annotations

import math
import re
from typing import Any

from flows.triggers.expr import budget as limits
from flows.triggers.expr.builtins import BUILTINS
from flows.triggers.expr.errors import TOO_DEEP, ExprError
from flows.triggers.expr.lexer import Lexer, Token, describe, is_identifier

__all__ = ["Token", "Tree", "describe_token", "parse"]

describe_token = describe


class Tree:
    __slots__ = ("children", "data", "pos")

    def __init__(self, data: str, children: list[Any], pos: int):
        self.data = data
        self.children = children
        self.pos = pos

    def __repr__(self) -> str:
        return f"Tree({self.data!r}, {self.children!r})"


# expr-lang's operator table (parser/operator): precedence, and whether it groups to the right.
_BINARY = {
    "|": 0, "or": 10, "||": 10, "and": 15, "&&": 15,
    "==": 20, "!=": 20, "<": 20, ">": 20, ">=": 20, "<=": 20,
    "in": 20, "matches": 20, "contains": 20, "startsWith": 20, "endsWith": 20,
    "..": 25, "+": 30, "-": 30, "*": 60, "/": 60, "%": 60, "**": 100, "^": 100, "??": 500,
}  # fmt: skip
_RIGHT = {"**", "^"}
_UNARY = {"not": 50, "!": 50, "-": 90, "+": 90}
_ORDERINGS = {"<", ">", "<=", ">="}  # the comparisons that chain
_NEGATABLE = {"in", "matches", "contains", "startsWith", "endsWith"}  # `not in`, `not matches`…
# The builtins whose arguments include a predicate (parser/parser.go): "e" an expression, "p" a
# predicate, "?" optional.
_PREDICATE_ARGS = {
    **dict.fromkeys(("all", "none", "any", "one", "filter", "map", "find", "findIndex"), ("e", "p")),
    **dict.fromkeys(("findLast", "findLastIndex", "groupBy"), ("e", "p")),
    "count": ("e", "p?"),
    "sum": ("e", "p?"),
    "sortBy": ("e", "p", "e?"),
    "reduce": ("e", "p", "e?"),
}


def parse(source: str) -> Tree:
    """The syntax tree of `source`, within the limits of flows.triggers.expr.budget."""
    if len(source) > limits.MAX_SOURCE_LENGTH:
        raise ExprError(f"expression longer than {limits.MAX_SOURCE_LENGTH} characters")
    try:
        tree = _Parser(source).parse()
    except RecursionError:  # a caller already deep in its stack; the depth limit makes it rare
        raise ExprError(TOO_DEEP) from None
    _check_depth(tree, source)
    return tree


def _check_depth(tree: Tree, source: str) -> None:
    """At most MAX_DEPTH levels, walked without recursion; parentheses add no level."""
    pending: list[tuple[Any, int]] = [(tree, 1)]
    while pending:
        node, depth = pending.pop()
        if not isinstance(node, Tree):
            continue
        if node.data == "paren":
            depth -= 1
        elif depth > limits.MAX_DEPTH:
            raise ExprError(_TOO_DEEP, node.pos, source)
        pending.extend((child, depth + 1) for child in node.children)


_TOO_DEEP = f"compilation failed: expression nested deeper than {limits.MAX_DEPTH} levels"


class _Parser:
    """expr-lang's parser (parser/parser.go): one token of lookahead, `current`; the first error
    is raised where expr-lang records it."""

    def __init__(self, source: str):
        self.source = source
        self.lexer = Lexer(source)
        self.current = self.lexer.next_token()
        self.stashed: Token | None = None  # a token read ahead after `not`, given back
        self.predicates = 0  # how many predicates enclose the current token (`#` is valid in one)
        self.nodes = 0
        self.depth = 0

    def parse(self) -> Tree:
        node = self.sequence()
        if not self.current.is_("EOF"):
            raise self.unexpected()
        return node

    # -- tokens

    def error(self, message: str, token: Token | None = None) -> ExprError:
        return ExprError(message, (token or self.current).start_pos, self.source)

    def unexpected(self) -> ExprError:
        return self.error(f"unexpected token {describe(self.current)}")

    def advance(self) -> None:
        if self.stashed is not None:
            self.current, self.stashed = self.stashed, None
        elif self.current.is_("EOF"):
            raise self.error("unexpected end of expression")
        else:
            self.current = self.lexer.next_token()

    def expect(self, kind: str, value: str | None = None) -> Token:
        token = self.current
        if not token.is_(kind, value):
            raise self.unexpected()
        self.advance()
        return token

    def node(self, data: str, children: list[Any], pos: int) -> Tree:
        """A node, counted as expr-lang counts them (conf.DefaultMaxNodes)."""
        self.count()
        return Tree(data, children, pos)

    def count(self) -> None:
        self.nodes += 1
        if self.nodes > limits.MAX_NODES:
            raise self.error("compilation failed: expression exceeds maximum allowed nodes")

    # -- expressions

    def sequence(self, first: Tree | None = None) -> Tree:
        nodes = [self.expression(0, first)]
        while self.current.is_("Operator", ";"):
            self.advance()
            if self.current.is_("EOF"):  # a trailing `;`
                break
            nodes.append(self.expression(0))
        if len(nodes) == 1:
            return nodes[0]
        return self.node("sequence", nodes, nodes[0].pos)

    def expression(self, precedence: int, left: Tree | None = None) -> Tree:
        self.depth += 1
        try:
            if self.depth > limits.MAX_DEPTH:
                raise self.error(_TOO_DEEP)
            if left is None and precedence == 0 and self.current.is_("Operator", "let"):
                return self.let()
            if left is None and precedence == 0 and self.current.is_("Operator", "if"):
                return self.if_else()
            node = self.operations(precedence, left if left is not None else self.primary())
            return self.conditional(node) if precedence == 0 else node
        finally:
            self.depth -= 1

    def operations(self, precedence: int, left: Tree) -> Tree:
        """The binary operators after `left` that bind at least as tightly as `precedence`."""
        previous = ""
        while self.current.type == "Operator":
            op = self.current
            negated: Token | None = None
            if op == "not":
                self.advance()
                if self.current not in _NEGATABLE:
                    raise self.unexpected()
                if _BINARY[self.current] < precedence:
                    self.stashed, self.current = self.current, op
                    break
                negated, op = op, self.current
            if op not in _BINARY or _BINARY[op] < precedence:
                break
            self.advance()
            if op == "|":
                name = self.expect("Identifier")
                left = self.call(name, left, op)
            elif previous == "??" and op != "??":
                message = f"Operator ({op}) and coalesce expressions (??) cannot be mixed. Wrap either by parentheses."
                raise self.error(message, op)
            elif op in _ORDERINGS:
                left = self.comparison(left, op)
            else:
                right = self.expression(_BINARY[op] if op in _RIGHT else _BINARY[op] + 1)
                if negated is None:
                    left = self.node("binop", [left, op, right], op.start_pos)
                else:
                    self.count()  # the `not` around it
                    left = self.node("notbinop", [left, negated, Tree("cmpword", [op], op.start_pos), right], op.start_pos)
            previous = op
        return left

    def comparison(self, left: Tree, op: Token) -> Tree:
        """`a < b < c` is `a < b && b < c`."""
        root: Tree | None = None
        while True:
            right = self.expression(_BINARY[op] + 1)
            compared = self.node("binop", [left, op, right], op.start_pos)
            both = Token("Operator", "&&", op.start_pos)
            root = compared if root is None else self.node("binop", [root, both, compared], op.start_pos)
            left, op = right, self.current
            if not (op.type == "Operator" and op in _ORDERINGS):
                return root
            self.advance()

    def conditional(self, node: Tree) -> Tree:
        while self.current.is_("Operator", "?"):
            self.advance()
            if self.current.is_("Operator", ":"):  # `a ?: b` is `a ? a : b`
                self.advance()
                yes, no = node, self.expression(0)
            else:
                yes = self.expression(0)
                self.expect("Operator", ":")
                no = self.expression(0)
            where = Token("Operator", "?", self.current.start_pos)
            node = self.node("cond", [node, where, yes, no], where.start_pos)
        return node

    def let(self) -> Tree:
        keyword = self.expect("Operator", "let")
        name = self.expect("Identifier")
        self.expect("Operator", "=")
        value = self.expression(0)
        self.expect("Operator", ";")
        body = self.sequence()
        return self.node("let", [keyword, name, value, body], name.start_pos)

    def if_else(self) -> Tree:
        keyword = self.current
        self.advance()
        condition = self.expression(0)
        self.expect("Bracket", "{")
        yes = self.sequence()
        self.expect("Bracket", "}")
        self.expect("Operator", "else")
        if self.current.is_("Operator", "if"):
            no = self.expression(0)  # `else if`, one level deeper
        else:
            self.expect("Bracket", "{")
            no = self.sequence()
            self.expect("Bracket", "}")
        # expr-lang gives this node no position of its own: its errors point at the start.
        return Tree("cond", [condition, Token("Operator", "if", 0), yes, no], keyword.start_pos)

    # -- operands

    def primary(self) -> Tree:
        token = self.current
        if token.type == "Operator" and token in _UNARY:
            self.advance()
            operand = self.expression(_UNARY[token])
            return self.postfix(self.node("unary", [token, operand], token.start_pos))
        if token.is_("Bracket", "("):
            return self.postfix(self.parenthesized())
        if self.predicates and token.type == "Operator" and token in ("#", "."):
            name = ""
            if token == "#":
                self.advance()
                if self.current.type == "Identifier":
                    name = self.current
                    self.advance()
            pointer = Token("Operator", "#" + name, token.start_pos)
            return self.postfix(self.node("pointer", [pointer], token.start_pos))
        if token.is_("Operator", "::"):
            self.advance()
            name = self.expect("Identifier")
            return self.postfix(self.call(name))
        return self.secondary()

    def parenthesized(self) -> Tree:
        """`((…))`: the opening parentheses read by a loop, each level then finished in turn."""
        opened = 0
        while self.current.is_("Bracket", "("):
            self.advance()
            opened += 1
        node = self.sequence()
        for _ in range(opened - 1):
            self.expect("Bracket", ")")
            node = self.sequence(self.postfix(_paren(node)))
        self.expect("Bracket", ")")
        return _paren(node)

    def secondary(self) -> Tree:
        token = self.current
        if token.type == "Identifier":
            self.advance()
            if token in ("true", "false", "nil"):
                return self.node(str(token), [token], token.start_pos)
            if self.current.is_("Bracket", "("):
                return self.postfix(self.call(token))
            return self.postfix(self.node("ident", [token], token.start_pos))
        if token.type == "Number":
            self.advance()
            return self.number(token)
        if token.type == "String":
            self.advance()
            return self.postfix(self.node("string", [token], token.start_pos))
        if token.is_("Bracket", "["):
            return self.postfix(self.array())
        if token.is_("Bracket", "{"):
            return self.postfix(self.map())
        raise self.unexpected()

    def number(self, token: Token) -> Tree:
        """A number literal; its errors are reported at the token after it, as expr-lang does."""
        text = token.replace("_", "")
        lowered = text.lower()
        if lowered.startswith("0x"):
            value: int | float = self.integer(text, 16, "hex")
        elif "." in lowered or "e" in lowered:
            value = self.float(text)
        elif lowered.startswith("0b"):
            value = self.integer(text, 2, "binary")
        elif lowered.startswith("0o"):
            value = self.integer(text, 8, "octal")
        else:
            value = self.integer(text, 10, "integer")
        kind = "float" if type(value) is float else "int"
        return self.node(kind, [token, value], token.start_pos)

    def integer(self, text: str, base: int, name: str) -> int:
        digits = text[2:] if base != 10 else text
        try:
            value = int(digits, base)
        except ValueError:
            raise self.error(f"invalid {name} literal: strconv.ParseInt: parsing {_quote(text)}: invalid syntax") from None
        if value > 2**63 - 1:
            raise self.error(f"invalid {name} literal: strconv.ParseInt: parsing {_quote(text)}: value out of range")
        return value

    def float(self, text: str) -> float:
        problem = "invalid syntax"
        try:
            value = float(text) if _looks_decimal(text) else float("!")
        except ValueError:
            value = math.nan
        else:
            if not math.isinf(value):
                return value
            problem = "value out of range"
        raise self.error(f"invalid float literal: strconv.ParseFloat: parsing {_quote(text)}: {problem}")

    def array(self) -> Tree:
        bracket = self.expect("Bracket", "[")
        items: list[Any] = []
        while not self.current.is_("Bracket", "]"):
            if items:
                self.expect("Operator", ",")
                if self.current.is_("Bracket", "]"):
                    break
            items.append(self.expression(0))
        self.expect("Bracket", "]")
        arglist = Tree("arglist", items, bracket.start_pos) if items else None
        return self.node("array", [bracket, arglist], bracket.start_pos)

    def map(self) -> Tree:
        brace = self.expect("Bracket", "{")
        pairs: list[Tree] = []
        while not self.current.is_("Bracket", "}"):
            if pairs:
                self.expect("Operator", ",")
                if self.current.is_("Bracket", "}"):
                    break
                if self.current.is_("Operator", ","):
                    raise self.unexpected()
            key = self.current
            first: Token | Tree
            if key.type in ("Number", "String", "Identifier"):
                self.count()
                self.advance()
                data, first = "pair", key
            elif key.is_("Bracket", "("):
                data, first = "expr_pair", self.expression(0)
            else:
                raise self.error(
                    "a map key must be a quoted string, a number, a identifier, or an expression enclosed in "
                    f"parentheses (unexpected token {describe(key)})"
                )
            self.expect("Operator", ":")
            pairs.append(self.node(data, [first, self.expression(0)], brace.start_pos))
        self.expect("Bracket", "}")
        listed = Tree("pairs", pairs, brace.start_pos) if pairs else None
        return self.node("map", [brace, listed], brace.start_pos)

    # -- calls

    def call(self, name: Token, first: Tree | None = None, pipe: Token | None = None) -> Tree:
        """`name(…)`, or `first | name(…)` when `first` is given."""
        parenthesis = self.current
        if name in _PREDICATE_ARGS:
            arguments = self.predicate_arguments(_PREDICATE_ARGS[name][1 if first is not None else 0 :])
        else:
            if name not in BUILTINS:
                self.count()  # the callee of a call that is not a builtin
            arguments = self.arguments()
        arglist = Tree("arglist", arguments, parenthesis.start_pos) if arguments else None
        if first is None:
            return self.node("call", [name, parenthesis, arglist], name.start_pos)
        return self.node("pipe", [first, pipe, name, arglist], name.start_pos)

    def arguments(self) -> list[Any]:
        self.expect("Bracket", "(")
        arguments: list[Any] = []
        while not self.current.is_("Bracket", ")"):
            if arguments:
                self.expect("Operator", ",")
            if self.current.is_("Bracket", ")"):
                break
            arguments.append(self.expression(0))
        self.expect("Bracket", ")")
        return arguments

    def predicate_arguments(self, kinds: tuple[str, ...]) -> list[Any]:
        self.expect("Bracket", "(")
        arguments: list[Any] = []
        for index, kind in enumerate(kinds):
            if self.current.is_("Bracket", ")"):
                if kind.endswith("?"):
                    break
                raise self.error(f"expected at least {len(kinds)} arguments")
            if index > 0:
                self.expect("Operator", ",")
            arguments.append(self.predicate() if kind.startswith("p") else self.expression(0))
        if self.current.is_("Operator", ","):
            self.advance()
        self.expect("Bracket", ")")
        return arguments

    def predicate(self) -> Tree:
        start = self.current
        braced = start.is_("Bracket", "{")
        if braced:
            self.advance()
        self.predicates += 1
        body = self.sequence() if braced else self.expression(0)
        if not braced and self.current.is_("Operator", ";"):
            raise self.error("wrap predicate with brackets { and }")
        self.predicates -= 1
        if braced:
            self.expect("Bracket", "}")
        return self.node("closure", [start, body], start.start_pos)

    # -- member access

    def postfix(self, node: Tree) -> Tree:
        chained = False  # whether expr-lang wraps `node` in a chain (counted as a node)
        while self.current.type in ("Operator", "Bracket"):
            access = self.current
            optional = access == "?."
            if access in (".", "?."):
                self.advance()
                if optional and self.current.is_("Bracket", "["):
                    access = self.current
                else:
                    chained = chained or optional
                    node = self.member(node, optional, chained)
                    continue
            if access != "[":
                break
            node = self.index(node, access, optional)
            chained = node.data == "opt_index"
        return node

    def member(self, base: Tree, optional: bool, chained: bool) -> Tree:
        name = self.current
        self.advance()
        if name.type != "Identifier" and not (name.type == "Operator" and is_identifier(name)):
            raise self.error("expected name")
        self.count()  # the member's name
        where = Token("Operator", "?." if optional else ".", name.start_pos)
        node = self.node("opt_member" if optional else "member", [base, where, name], name.start_pos)
        if self.current.is_("Bracket", "("):
            node = self.node("method_call", [node, _arglist(self.arguments(), name.start_pos)], name.start_pos)
        if chained:
            self.count()  # the chain that ends at nil
        return node

    def index(self, base: Tree, bracket: Token, optional: bool) -> Tree:
        self.advance()
        colon = self.current
        if colon.is_("Operator", ":"):
            self.advance()
            end = None if self.current.is_("Bracket", "]") else self.expression(0)
            node = self.node("slice", [base, bracket, None, colon, end], bracket.start_pos)
        else:
            start = self.expression(0)
            colon = self.current
            if colon.is_("Operator", ":"):
                self.advance()
                end = None if self.current.is_("Bracket", "]") else self.expression(0)
                node = self.node("slice", [base, bracket, start, colon, end], bracket.start_pos)
            else:
                node = self.node("opt_index" if optional else "index", [base, bracket, start], bracket.start_pos)
                if optional:
                    self.count()
        self.expect("Bracket", "]")
        return node


def _paren(node: Tree) -> Tree:
    return node if node.data == "paren" else Tree("paren", [node], node.pos)


def _arglist(arguments: list[Any], pos: int) -> Tree | None:
    return Tree("arglist", arguments, pos) if arguments else None


def _quote(text: str) -> str:
    return '"' + text + '"'  # number literals are ASCII: nothing to escape


def _looks_decimal(text: str) -> bool:
    """Whether Go's ParseFloat reads `text` as a decimal number (Python's float reads more)."""
    return _DECIMAL.fullmatch(text) is not None


_DECIMAL = re.compile(r"(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
