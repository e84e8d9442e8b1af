"""The Numscript subset the sandbox ledger runs (docs/sandbox.md), compiled and executed in memory.

Supported, following the machine runtime's grammar: a `vars` block (account, asset, number,
string, monetary, portion) filled from `script.vars`; `send` with `[ASSET N]`, `[ASSET *]` or a
monetary variable; sources `@acc`, `@acc allowing unbounded overdraft`, `@acc allowing overdraft
up to [ASSET N]`, in-order blocks, `max [ASSET N] from …` and portion allotments; destinations
`@acc`, in-order blocks (`max … to|kept`, `remaining to|kept`) and allotments; `set_tx_meta` and
`set_account_meta`. Newlines are significant where the grammar wants them (after `(`, between
the source and destination lines, before `)`, inside blocks); blank lines are tolerated.

Anything else (`print`, `save`, `fail`, `meta()`/`balance()` variable origins, …) fails with
COMPILATION_FAILED and says the sandbox does not support it.

This module compiles; the program model is in numscript_model and execution (pure, on balances
the caller has locked) in numscript_run. `compile_script` and `execute` are the entry points.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

from flows.ledger_syntax import WORLD
from flows.sandbox.errors import StackError, compilation_failed
from flows.sandbox.names import is_address, is_asset
from flows.sandbox.numscript_model import (
    AccountDestination,
    AccountSource,
    AllotmentDestination,
    AllotmentSource,
    CappedSource,
    Destination,
    InOrderDestination,
    InOrderSource,
    Kept,
    Monetary,
    Posting,
    Program,
    Send,
    SetAccountMeta,
    SetTxMeta,
    Source,
    Statement,
    Target,
    postings_program,
)
from flows.sandbox.numscript_run import Outcome, execute
from flows.sandbox.rendering import storable_text

__all__ = ["Outcome", "Posting", "Program", "compile_script", "execute", "postings_program"]

# -- lexer ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<nl>[\r\n][\s]*)
  | (?P<ws>[ \t]+)
  | (?P<comment>//[^\r\n]*|/\*.*?\*/)
  | (?P<account>@[A-Za-z0-9_:-]+)
  | (?P<variable>\$[A-Za-z_][A-Za-z0-9_]*)
  | (?P<string>"(?:[^"\\\r\n]|\\.)*")
  | (?P<portion>\d+(?:\.\d+)?%|\d+/\d+)
  | (?P<number>\d+)
  | (?P<asset>[A-Z][A-Z0-9]*(?:/\d+)?)
  | (?P<word>[a-z_]+)
  | (?P<punct>[{}()\[\],=*])
    """,
    # ASCII: `\d` must not take other scripts' digits (`٣`), which Numscript does not have.
    re.VERBOSE | re.DOTALL | re.ASCII,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    line: int


def _tokens(plain: str) -> list[_Token]:
    tokens: list[_Token] = []
    position, line = 0, 1
    while position < len(plain):
        match = _TOKEN.match(plain, position)
        if match is None:
            raise compilation_failed(f"compilation failed: line {line}: unexpected character {plain[position]!r}")
        kind = match.lastgroup or ""
        text = match.group()
        if kind == "nl":
            # A run of line breaks (and the blanks between them) is one NEWLINE.
            if not tokens or tokens[-1].kind != "nl":
                tokens.append(_Token("nl", "\n", line))
        elif kind == "comment" and "\n" in text:
            if not tokens or tokens[-1].kind != "nl":
                tokens.append(_Token("nl", "\n", line))
        elif kind not in ("ws", "comment"):
            tokens.append(_Token(kind, text, line))
        line += text.count("\n")
        position = match.end()
    tokens.append(_Token("eof", "", line))
    return tokens


# -- values of variables --------------------------------------------------------------------

_TYPES: tuple[str, ...] = ("account", "asset", "number", "string", "monetary", "portion")


@dataclass(frozen=True)
class _Value:
    type: str
    account: str = ""
    asset: str = ""
    number: int = 0
    text: str = ""
    monetary: Monetary | None = None
    portion: Fraction | None = None

    def metadata(self) -> str:
        """How a value is written into metadata (always a string)."""
        if self.type == "account":
            return self.account
        if self.type == "asset":
            return self.asset
        if self.type == "number":
            return str(self.number)
        if self.type == "monetary":
            assert self.monetary is not None
            return f"{self.monetary.asset} {self.monetary.amount}"
        if self.type == "portion":
            assert self.portion is not None
            return f"{self.portion.numerator}/{self.portion.denominator}"
        return self.text


# Longer numbers exceed any amount the ledger keeps (flows.sandbox.names.MAX_AMOUNT); they are
# refused before Python converts them (which it refuses beyond 4300 digits anyway).
_MAX_DIGITS = 80
_INTEGER = re.compile(r"-?[0-9]+")
_PORTION = re.compile(r"(?P<percent>[0-9]+(?:\.[0-9]+)?)%|(?P<numerator>[0-9]+)/(?P<denominator>[0-9]+)")


def _decimal(text: str) -> int | None:
    """A decimal integer in ASCII digits (`int()` also takes ` 1`, `1_000`, `٣`); None if not."""
    if not _INTEGER.fullmatch(text) or len(text) > _MAX_DIGITS:
        return None
    return int(text)


def _integer(text: str) -> int:
    value = _decimal(text)
    if value is None:
        raise compilation_failed(f"invalid number {text[:100]!r}")
    return value


def _parse_portion(text: str) -> Fraction:
    match = _PORTION.fullmatch(text)
    if match is None or len(text) > _MAX_DIGITS:
        raise compilation_failed(f"invalid portion {text[:100]!r}")
    if match["percent"] is not None:
        value = Fraction(match["percent"]) / 100
    else:
        if int(match["denominator"]) == 0:
            raise compilation_failed(f"invalid portion {text!r}")
        value = Fraction(int(match["numerator"]), int(match["denominator"]))
    if not 0 <= value <= 1:
        raise compilation_failed(f"invalid portion {text!r}: must be between 0% and 100%")
    return value


def _variable_value(name: str, kind: str, raw: str) -> _Value:
    def bad(why: str) -> StackError:
        return compilation_failed(f"invalid value for variable ${name} ({kind}): {why}")

    if kind == "account":
        if not is_address(raw):
            raise bad(f"invalid account address {raw!r}")
        return _Value("account", account=raw)
    if kind == "asset":
        if not is_asset(raw):
            raise bad(f"invalid asset {raw!r}")
        return _Value("asset", asset=raw)
    if kind == "number":
        number = _decimal(raw)
        if number is None:
            raise bad(f"not an integer: {raw[:100]!r}")
        return _Value("number", number=number)
    if kind == "monetary":
        asset, _, text = raw.partition(" ")
        if not is_asset(asset):
            raise bad(f"invalid asset {asset[:100]!r}")
        amount = _decimal(text)
        if amount is None or amount < 0:
            raise bad(f"invalid amount {text[:100]!r}")
        return _Value("monetary", monetary=Monetary(asset, amount))
    if kind == "portion":
        try:
            return _Value("portion", portion=_parse_portion(raw))
        except StackError as exc:
            raise bad(f"invalid portion {raw[:100]!r}") from exc
    return _Value("string", text=raw)


# -- parser ---------------------------------------------------------------------------------

_Item = TypeVar("_Item")


class _Parser:
    def __init__(self, plain: str, variables: Mapping[str, str]) -> None:
        self.tokens = _tokens(plain)
        self.position = 0
        self.given = variables
        self.values: dict[str, _Value] = {}

    # token helpers

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.position + offset, len(self.tokens) - 1)]

    def next(self) -> _Token:
        token = self.peek()
        self.position += 1
        return token

    def at(self, kind: str, text: str | None = None, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == kind and (text is None or token.text == text)

    def fail(self, expected: str) -> StackError:
        token = self.peek()
        found = "end of script" if token.kind == "eof" else repr(token.text)
        return compilation_failed(f"compilation failed: line {token.line}: expected {expected}, found {found}")

    def expect(self, kind: str, text: str | None = None) -> _Token:
        if not self.at(kind, text):
            raise self.fail(repr(text) if text else kind)
        return self.next()

    def newline(self) -> None:
        if not self.at("nl"):
            raise self.fail("a new line")
        self.next()

    def skip_newlines(self) -> None:
        while self.at("nl"):
            self.next()

    # script

    def script(self) -> Program:
        self.skip_newlines()
        if self.at("word", "vars"):
            self.variables()
            self.skip_newlines()
        statements: list[Statement] = []
        while not self.at("eof"):
            statements.append(self.statement())
            if not self.at("eof"):
                self.newline()
        if not statements:
            raise compilation_failed("compilation failed: the script has no statement")
        return Program(tuple(statements))

    def variables(self) -> None:
        self.expect("word", "vars")
        self.expect("punct", "{")
        self.skip_newlines()
        declared: list[tuple[str, str]] = []
        while not self.at("punct", "}"):
            kind = self.expect("word").text
            if kind not in _TYPES:
                raise compilation_failed(f"compilation failed: unknown variable type {kind!r}")
            name = self.expect("variable").text[1:]
            if self.at("punct", "="):
                raise compilation_failed("compilation failed: variable origins (meta(), balance()) are not supported by the sandbox")
            declared.append((name, kind))
            self.skip_newlines()
        self.next()
        missing = [name for name, _ in declared if name not in self.given]
        if missing:
            raise compilation_failed(f"missing variables: {', '.join('$' + m for m in missing)}")
        for name, kind in declared:
            self.values[name] = _variable_value(name, kind, self.given[name])

    def variable(self, *kinds: str) -> _Value:
        token = self.expect("variable")
        name = token.text[1:]
        value = self.values.get(name)
        if value is None:
            raise compilation_failed(f"compilation failed: line {token.line}: undeclared variable ${name}")
        if kinds and value.type not in kinds:
            raise compilation_failed(f"compilation failed: line {token.line}: ${name} is a {value.type}, expected {' or '.join(kinds)}")
        return value

    # statements

    def statement(self) -> Statement:
        token = self.peek()
        if token.kind == "word" and token.text == "send":
            return self.send()
        if token.kind == "word" and token.text == "set_tx_meta":
            self.next()
            self.expect("punct", "(")
            key = self.string()
            self.expect("punct", ",")
            value = self.expression()
            self.expect("punct", ")")
            return SetTxMeta(key, value.metadata())
        if token.kind == "word" and token.text == "set_account_meta":
            self.next()
            self.expect("punct", "(")
            address = self.account()
            self.expect("punct", ",")
            key = self.string()
            self.expect("punct", ",")
            value = self.expression()
            self.expect("punct", ")")
            return SetAccountMeta(address, key, value.metadata())
        if token.kind == "word" and token.text in ("print", "save", "fail"):
            raise compilation_failed(f"compilation failed: '{token.text}' is not supported by the sandbox")
        raise self.fail("a statement (send, set_tx_meta, set_account_meta)")

    def send(self) -> Send:
        self.expect("word", "send")
        monetary = self.monetary(allow_all=True)
        self.expect("punct", "(")
        self.newline()
        self.skip_newlines()
        source: Source | None = None
        destination: Destination | None = None
        for index in range(2):
            if index == 1:
                self.newline()
                self.skip_newlines()
            if self.at("word", "source") and source is None:
                self.next()
                self.expect("punct", "=")
                source = self.value_aware_source()
            elif self.at("word", "destination") and destination is None:
                self.next()
                self.expect("punct", "=")
                destination = self.destination()
            else:
                raise self.fail("'source' or 'destination'")
        self.newline()
        self.skip_newlines()
        self.expect("punct", ")")
        assert source is not None and destination is not None
        send = Send(monetary, source, destination)
        _check_assets(send)
        return send

    # sources and destinations

    def value_aware_source(self) -> Source:
        if self.at("punct", "{") and self._block_starts_with_portion():
            portions, sources = self.allotment(lambda: self._from_source())
            return AllotmentSource(tuple(portions), tuple(sources))
        return self.source()

    def _from_source(self) -> Source:
        self.expect("word", "from")
        return self.source()

    def source(self) -> Source:
        if self.at("punct", "{"):
            self.next()
            self.newline()
            self.skip_newlines()
            sources: list[Source] = []
            while not self.at("punct", "}"):
                sources.append(self.source())
                self.newline()
                self.skip_newlines()
            self.next()
            if not sources:
                raise compilation_failed("compilation failed: empty source block")
            return InOrderSource(tuple(sources))
        if self.at("word", "max"):
            self.next()
            cap = self.monetary(allow_all=False)
            self.expect("word", "from")
            return CappedSource(cap, self.source())
        line = self.peek().line
        address = self.account()
        if not self.at("word", "allowing"):
            return AccountSource(address)
        self.next()
        if address == WORLD:
            raise compilation_failed(f"compilation failed: line {line}: @world is already set to an unbounded overdraft")
        if self.at("word", "unbounded"):
            self.next()
            self.expect("word", "overdraft")
            return AccountSource(address, "unbounded")
        self.expect("word", "overdraft")
        self.expect("word", "up")
        self.expect("word", "to")
        return AccountSource(address, "bounded", self.monetary(allow_all=False))

    def destination(self) -> Destination:
        if not self.at("punct", "{"):
            return AccountDestination(self.account())
        if self._block_starts_with_portion():
            portions, allotted = self.allotment(self.target)
            return AllotmentDestination(tuple(portions), tuple(allotted))
        self.next()
        self.newline()
        self.skip_newlines()
        caps: list[Monetary] = []
        targets: list[Target] = []
        while self.at("word", "max"):
            self.next()
            caps.append(self.monetary(allow_all=False))
            targets.append(self.target())
            self.newline()
            self.skip_newlines()
        self.expect("word", "remaining")
        remaining = self.target()
        self.newline()
        self.skip_newlines()
        self.expect("punct", "}")
        return InOrderDestination(tuple(caps), tuple(targets), remaining)

    def target(self) -> Target:
        if self.at("word", "kept"):
            self.next()
            return Kept()
        self.expect("word", "to")
        return self.destination()

    def _block_starts_with_portion(self) -> bool:
        offset = 1
        while self.at("nl", offset=offset):
            offset += 1
        token = self.peek(offset)
        if token.kind == "portion":
            return True
        if token.kind == "word" and token.text == "remaining":
            # `remaining from` is an allotment; `remaining to|kept` ends an in-order destination.
            return self.at("word", "from", offset=offset + 1)
        if token.kind == "variable":
            value = self.values.get(token.text[1:])
            return value is not None and value.type == "portion"
        return False

    def allotment(self, item: Callable[[], _Item]) -> tuple[list[Fraction | None], list[_Item]]:
        """`{ <portion> <item> … }` where each item is `from <source>` or `to|kept …`."""
        self.expect("punct", "{")
        self.newline()
        self.skip_newlines()
        portions: list[Fraction | None] = []
        items: list[_Item] = []
        while not self.at("punct", "}"):
            if self.at("word", "remaining"):
                self.next()
                portions.append(None)
            elif self.at("variable"):
                value = self.variable("portion")
                portions.append(value.portion)
            else:
                portions.append(_parse_portion(self.expect("portion").text))
            items.append(item())
            self.newline()
            self.skip_newlines()
        self.next()
        _check_allotment(portions)
        return portions, items

    # expressions

    def account(self) -> str:
        if self.at("variable"):
            return self.variable("account").account
        token = self.expect("account")
        address = token.text[1:]
        if not is_address(address):
            raise compilation_failed(f"compilation failed: line {token.line}: invalid account address {token.text!r}")
        return address

    def string(self) -> str:
        if self.at("variable"):
            return self.variable("string").text
        token = self.expect("string")
        try:
            value = str(json.loads(token.text))
        except ValueError:
            value = token.text[1:-1]
        # Escapes can spell what no database stores (`"\ud800"`, `"\u0000"`).
        return storable_text(value, "string in the script")

    def monetary(self, allow_all: bool) -> Monetary:
        if self.at("variable"):
            value = self.variable("monetary")
            assert value.monetary is not None
            return value.monetary
        self.expect("punct", "[")
        if self.at("variable"):
            asset = self.variable("asset").asset
        else:
            asset = self.expect("asset").text
        if self.at("punct", "*"):
            if not allow_all:
                raise self.fail("an amount")
            self.next()
            amount: int | None = None
        elif self.at("variable"):
            amount = self.variable("number").number
            if amount < 0:
                raise compilation_failed("compilation failed: negative amount")
        else:
            amount = _integer(self.expect("number").text)
        self.expect("punct", "]")
        return Monetary(asset, amount)

    def expression(self) -> _Value:
        token = self.peek()
        if token.kind == "variable":
            return self.variable()
        if token.kind == "account":
            return _Value("account", account=self.account())
        if token.kind == "string":
            return _Value("string", text=self.string())
        if token.kind == "number":
            return _Value("number", number=_integer(self.next().text))
        if token.kind == "portion":
            return _Value("portion", portion=_parse_portion(self.next().text))
        if token.kind == "punct" and token.text == "[":
            return _Value("monetary", monetary=self.monetary(allow_all=False))
        if token.kind == "asset":
            return _Value("asset", asset=self.next().text)
        raise self.fail("a value")


def compile_script(plain: str, variables: Mapping[str, str] | None = None) -> Program:
    """Parse a script; COMPILATION_FAILED on anything the machine runtime would refuse."""
    return _Parser(plain, variables or {}).script()


def _check_assets(send: Send) -> None:
    asset = send.monetary.asset

    def caps_of_source(source: Source) -> list[Monetary]:
        if isinstance(source, AccountSource):
            return [source.bound] if source.bound is not None else []
        if isinstance(source, CappedSource):
            return [source.cap, *caps_of_source(source.source)]
        return [cap for child in source.sources for cap in caps_of_source(child)]

    def caps_of_destination(destination: Destination | Kept) -> list[Monetary]:
        if isinstance(destination, InOrderDestination):
            found = list(destination.caps)
            for target in (*destination.targets, destination.remaining):
                found.extend(caps_of_destination(target))
            return found
        if isinstance(destination, AllotmentDestination):
            return [cap for target in destination.targets for cap in caps_of_destination(target)]
        return []

    for cap in caps_of_source(send.source) + caps_of_destination(send.destination):
        if cap.asset != asset:
            raise compilation_failed(f"compilation failed: mismatching assets {cap.asset} and {asset}")


def _check_allotment(portions: list[Fraction | None]) -> None:
    if portions.count(None) > 1:
        raise compilation_failed("compilation failed: more than one 'remaining' in an allotment")
    total = sum((p for p in portions if p is not None), Fraction(0))
    if total > 1 or (None not in portions and total != 1):
        raise compilation_failed("compilation failed: the portions of an allotment must add up to 100%")
