"""Errors of the expression language, formatted as expr-lang formats them."""

from __future__ import annotations

MEMORY_EXCEEDED = "memory budget exceeded"  # expr-lang's text
TIME_EXCEEDED = "time budget exceeded"
TOO_DEEP = "expression too deep"


class ExprError(Exception):
    """A compile or run-time error.

    `str()` is expr-lang's text: `<message> (<line>:<column>)\\n | <source line>\\n | <dots>^`,
    or the bare message when the error has no position (an error returned by a function of the
    environment, such as `link`, is passed through unchanged, as the reference does).
    """

    def __init__(self, message: str, position: int | None = None, source: str | None = None):
        self.message = message
        self.position = position
        self.source = source
        super().__init__(self._format())

    def _format(self) -> str:
        if self.position is None or self.source is None:
            return self.message
        line, column = 1, 0
        for index, char in enumerate(self.source):
            if index == self.position:
                break
            if char == "\n":
                line += 1
                column = 0
            else:
                column += 1
        lines = self.source.split("\n")
        snippet = lines[line - 1].replace("\t", " ") if line - 1 < len(lines) else ""
        text = f"{self.message} ({line}:{column + 1})\n | {snippet}"
        # expr-lang draws the pointer only when every character up to it is one byte long.
        head = snippet[: column + 1]
        if all(ord(char) < 0x80 for char in head):
            text += "\n | " + "." * column + "^"
        return text

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
