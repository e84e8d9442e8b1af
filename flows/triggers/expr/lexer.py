"""The tokens of an expression, read one at a time as the parser asks for them, as expr-lang
(v1.17) reads them: the same token kinds, values, positions and errors.

Positions are indexes in the Python string, which are expr-lang's rune offsets. Tokens are read
lazily because the first error wins: in `a b 'x` the parser stops at `b` before the unterminated
literal is ever read.
"""

from __future__ import annotations

from flows.triggers.expr.errors import ExprError

_EOF = ""  # what `_next` answers past the end

# Go's unicode.IsSpace (strings hold no other spaces worth a table).
_SPACES = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000") | frozenset(chr(code) for code in range(0x2000, 0x200B))
_KEYWORDS = frozenset({"in", "or", "and", "matches", "contains", "startsWith", "endsWith", "let", "if", "else", "not"})
_ESCAPED = "abfnrtv\\"
_HEX = "0123456789abcdefABCDEF"


class Token(str):
    """A token: its text is its value (unescaped for strings), `type` is its kind (Identifier,
    Number, String, Operator, Bracket or EOF) and `start_pos` its index in the source."""

    type: str
    start_pos: int

    def __new__(cls, kind: str, value: str, start_pos: int) -> Token:
        token = super().__new__(cls, value)
        token.type = kind
        token.start_pos = start_pos
        return token

    def is_(self, kind: str, value: str | None = None) -> bool:
        return self.type == kind and (value is None or self == value)


def is_alphabetic(char: str) -> bool:
    return char == "_" or char == "$" or char.isalpha()


def is_alphanumeric(char: str) -> bool:
    return char != _EOF and (is_alphabetic(char) or char.isdecimal())


def is_identifier(text: str) -> bool:
    """Whether `text` could be an identifier (`foo.not` names the member "not")."""
    return text != "" and is_alphabetic(text[0]) and all(is_alphanumeric(char) for char in text)


def go_quote(text: str) -> str:
    """Go's strconv.Quote (`%#v` and `%q` of a string)."""
    out = ['"']
    for char in text:
        if char in '"\\':
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif char in _NAMED_ESCAPES:
            out.append(_NAMED_ESCAPES[char])
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) > 0xFFFF:
            out.append(f"\\U{ord(char):08x}")
        else:
            out.append(f"\\u{ord(char):04x}")
    out.append('"')
    return "".join(out)


_NAMED_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def describe(token: Token) -> str:
    """A token as expr-lang prints it in `unexpected token …`: `Operator("+")`, `EOF`."""
    return f"{token.type}({go_quote(token)})" if token else token.type


def _digit_value(char: str) -> int:
    return int(char, 16) if char != _EOF and char in _HEX else 16


class Lexer:
    """Reads the tokens of `source`; `next_token()` raises `ExprError` on a lexical error."""

    def __init__(self, source: str):
        self.source = source
        self.start = 0
        self.end = 0
        self.eof = False  # the last `_next` went past the end (`_backup` undoes it)
        self.pending: Token | None = None  # the name read with a `#`

    # -- reading characters, as expr-lang's lexer does (the positions of errors depend on it)

    def _next(self) -> str:
        if self.end >= len(self.source):
            self.eof = True
            return _EOF
        char = self.source[self.end]
        self.end += 1
        return char

    def _peek(self) -> str:
        return self.source[self.end] if self.end < len(self.source) else _EOF

    def _backup(self) -> None:
        if self.eof:
            self.eof = False
        elif self.end > 0:
            self.end -= 1

    def _accept(self, valid: str) -> bool:
        char = self._peek()
        if char != _EOF and char in valid:
            self._next()
            return True
        return False

    def _accept_run(self, valid: str) -> None:
        while self._accept(valid):
            pass

    def _word(self) -> str:
        return self.source[self.start : self.end]

    def _emit(self, kind: str, value: str | None = None) -> Token:
        token = Token(kind, self._word() if value is None else value, self.start)
        self.start = self.end
        return token

    def error(self, message: str) -> ExprError:
        """An error at the last character read (at the end, once past it)."""
        end = self.end + 1 if self.eof else self.end
        return ExprError(message, end - 1, self.source)

    # -- tokens

    def next_token(self) -> Token:
        if self.pending is not None:
            token, self.pending = self.pending, None
            return token
        while True:
            char = self._next()
            if char == _EOF:
                return Token("EOF", "", max(self.end - 1, 0))
            if char in _SPACES:
                self.start = self.end
            elif char == "/" and self._peek() in ("/", "*"):
                self._comment()
            else:
                return self._token(char)

    def _token(self, char: str) -> Token:
        if char in "'\"":
            return self._emit("String", self._string(char))
        if char == "`":
            return self._emit("String", self._raw_string())
        if "0" <= char <= "9":
            self._backup()
            return self._number()
        if char == "?":
            self._accept(".?")
        elif char == "#":
            return self._pointer()
        elif char == "|":
            self._accept("|")
        elif char == ":":
            self._accept(":")
        elif char in "()[]{}":
            return self._emit("Bracket")
        elif char in ",;%+-^/":
            pass
        elif char in "&!=*<>":
            self._accept("&=*")
        elif char == ".":
            if self._peek() != _EOF and self._peek() in "0123456789":
                return self._number()
            self._accept(".")
        elif is_alphanumeric(char):
            while is_alphanumeric(self._next()):
                pass
            self._backup()
            return self._emit("Operator" if self._word() in _KEYWORDS else "Identifier")
        else:
            raise self.error(f"unrecognized character: {_go_rune(char)}")
        return self._emit("Operator")

    def _comment(self) -> None:
        if self._next() == "/":
            while self._next() not in (_EOF, "\n"):
                pass
        else:
            while True:
                char = self._next()
                if char == _EOF:
                    raise self.error("unclosed comment")
                if char == "*" and self._accept("/"):
                    break
        self.start = self.end

    def _pointer(self) -> Token:
        # `#`, then the name glued to it (`#index`) as an identifier token of its own.
        self._accept("#")
        pointer = self._emit("Operator")
        while is_alphanumeric(self._next()):
            pass
        self._backup()
        if self._word():
            self.pending = self._emit("Identifier")
        return pointer

    def _number(self) -> Token:
        digits = "0123456789_"
        if self._accept("0"):
            if self._accept("xX"):
                digits = "0123456789abcdefABCDEF_"
            elif self._accept("oO"):
                digits = "01234567_"
            elif self._accept("bB"):
                digits = "01_"
        self._accept_run(digits)
        end = self.end
        if self._accept("."):
            if self._peek() == ".":  # `1..2` is a range
                self.end = end
                return self._emit("Number")
            self._accept_run(digits)
        if self._accept("eE"):
            self._accept("+-")
            self._accept_run(digits)
        if is_alphanumeric(self._peek()):
            self._next()
            raise self.error(f"bad number syntax: {go_quote(self._word())}")
        return self._emit("Number")

    def _string(self, quote: str) -> str:
        char = self._next()
        while char != quote:
            if char == "\n" or char == _EOF:
                raise self.error("literal not terminated")
            char = self._escape(quote) if char == "\\" else self._next()
        return unescape(self._word(), self)

    def _escape(self, quote: str) -> str:
        """Checks the escape after a backslash; answers the character after it."""
        char = self._next()
        if char != _EOF and (char in _ESCAPED or char == quote):
            return self._next()
        if char != _EOF and char in "01234567":
            return self._digits(char, 8, 3)
        if char == "x":
            return self._digits(self._next(), 16, 2)
        if char == "u" and self._peek() == "{":
            self._next()
            count = 0
            while self._peek() != "}":
                if _digit_value(self._peek()) >= 16 or count >= 6:
                    raise self.error("invalid char escape")
                self._next()
                count += 1
            if count == 0:
                raise self.error("invalid char escape")
            self._next()
            return self._next()
        if char == "u":
            return self._digits(self._next(), 16, 4)
        if char == "U":
            return self._digits(self._next(), 16, 8)
        raise self.error("invalid char escape")

    def _digits(self, char: str, base: int, count: int) -> str:
        while count > 0 and _digit_value(char) < base:
            char = self._next()
            count -= 1
        if count > 0:
            raise self.error("invalid char escape")
        return char

    def _raw_string(self) -> str:
        # A doubled backtick stands for one backtick.
        while True:
            char = self._next()
            while char == "`" and self._peek() == "`":
                self._next()
                char = self._next()
            if char == "`":
                return self.source[self.start + 1 : self.end - 1].replace("``", "`")
            if char == _EOF:
                raise self.error("literal not terminated")


def _go_rune(char: str) -> str:
    """Go's `%#U` of a character."""
    code = ord(char)
    if 0xD800 <= code <= 0xDFFF:  # a lone surrogate reaches Go as an invalid byte: U+FFFD
        char, code = "\ufffd", 0xFFFD
    return f"U+{code:04X} '{char}'" if char.isprintable() else f"U+{code:04X}"


# -- string literals ----------------------------------------------------------------------------

_VALUES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_VALUES.update({c: c for c in "\\'\"`?"})


def unescape(quoted: str, lexer: Lexer) -> str:
    """The value of a checked quoted literal (newlines normalized to `\\n`, as expr-lang does)."""
    body = quoted.replace("\r\n", "\n").replace("\r", "\n")[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char != "\\":
            out.append(char)
            i += 1
            continue
        kind = body[i + 1]
        i += 2
        if kind in _VALUES:
            out.append(_VALUES[kind])
            continue
        if kind == "u" and body[i : i + 1] == "{":
            close = body.index("}", i)
            code, i = int(body[i + 1 : close], 16), close + 1
        elif kind in "xuU":
            size = {"x": 2, "u": 4, "U": 8}[kind]
            code, i = int(body[i : i + size], 16), i + size
        elif kind in "0123":  # three octal digits, as the lexer checked
            code, i = int(kind + body[i : i + 2], 8), i + 2
        else:  # \4xx to \7xx pass the lexer but not this
            raise lexer.error("unable to unescape string")
        if code > 0x10FFFF:
            raise lexer.error("unable to unescape string")
        out.append("\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code))
    return "".join(out)
