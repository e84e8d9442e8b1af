"""`matches` with Go's regexp semantics: RE2 syntax, matched in time linear in the input.

Python's `re` backtracks (`"^(a+)+$"` against 28 `a`s and a `!` takes seconds) and differs from
Go (`\\d` matches any Unicode digit, `$` matches before a final newline). RE2, which Go's regexp
reimplements, has neither problem.
"""

from __future__ import annotations

from typing import Any

import re2

from flows.triggers.expr.errors import Fail

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would log every invalid pattern to stderr
_OPTIONS.never_capture = True  # `matches` only asks whether there is a match

# RE2's error texts → Go's regexp/syntax ErrorCode texts.
_GO_ERRORS = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
}


def compile_regex(pattern: str) -> Any:
    """A compiled pattern (with a `search` method); `Fail` with Go's message if invalid."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as error:
        raise Fail(_go_message(error)) from None


def _go_message(error: re2.error) -> str:
    raw = error.args[0] if error.args else b""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    code, separator, argument = text.partition(": ")
    code = _GO_ERRORS.get(code, code)
    return f"error parsing regexp: {code}: `{argument}`" if separator else f"error parsing regexp: {code}"
