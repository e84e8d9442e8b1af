"""Errors of the expression language, formatted as expr-lang formats them."""

from __future__ import annotations

MEMORY_EXCEEDED = "memory budget exceeded"  # expr-lang's text
TIME_EXCEEDED = "time budget exceeded"
TOO_DEEP = "expression too deep"


class ExprError(Exception):
    """A compile or run-time error.

    `str()` is expr-lang's text (file/error.go): `<message> (<line>:<column>)\\n | <source line>\\n
    | <dots>^`, the column counted in characters (runes), or the bare message when the error has no
    position (an error returned by a function of the environment, such as `link`, is passed
    through unchanged, as the reference does) or when its line is empty.
    """

    def __init__(self, message: str, position: int | None = None, source: str | None = None):
        self.message = message
        self.position = position
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        if self.position is None or self.source is None:
            return self.message
        before = self.source[: self.position]
        line = before.count("\n") + 1
        line_start = before.rfind("\n") + 1
        column = len(before) - line_start
        line_end = self.source.find("\n", line_start)
        snippet = self.source[line_start : line_end if line_end >= 0 else len(self.source)]
        if not snippet:  # expr-lang shows no position on an empty line (an empty source)
            return self.message
        return f"{self.message} ({line}:{column + 1})\n | {snippet.replace(chr(9), ' ')}\n | {'.' * column}^"

    def __str__(self) -> str:
        return self._format()

    @property
    def over_budget(self) -> bool:
        """Whether the evaluation was stopped by a limit rather than by an error of its own."""
        return self.message.startswith((MEMORY_EXCEEDED, TIME_EXCEEDED, TOO_DEEP))


class Fail(Exception):
    """A run-time failure without a position yet: the node that catches it adds its own."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message
