"""The shape of the `flows` command line, shared by the server and the client commands: nouns
(groups) and verbs (commands) that answer to short aliases as fctl's do (`ls`, `del`), help whose
flag names and `[env: NAME]` are never broken across lines, and failures told in one line."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import click


class Failure(click.ClickException):
    """A call that failed: one line on stderr, `flows: …`, and exit status 1."""

    exit_code = 1

    def show(self, file: Any = None) -> None:
        click.echo(f"flows: {self.format_message()}", err=True)


class Mistake(Failure):
    """A mistake in how the command was started: exit status 2, as Click's usage errors."""

    exit_code = 2


# Placeholders textwrap does not break at, put back once the help is laid out.
_NO_BREAK_SPACE, _NO_BREAK_HYPHEN = "\N{NO-BREAK SPACE}", "\N{NON-BREAKING HYPHEN}"
_ENV = re.compile(r"\[env: ")


class HelpFormatter(click.HelpFormatter):
    def write_dl(self, rows: Iterable[tuple[str, str]], col_max: int = 30, col_spacing: int = 2) -> None:
        start = len(self.buffer)
        kept = [(term, _ENV.sub(f"[env:{_NO_BREAK_SPACE}", text).replace("-", _NO_BREAK_HYPHEN)) for term, text in rows]
        super().write_dl(kept, col_max, col_spacing)
        self.buffer[start:] = [text.replace(_NO_BREAK_SPACE, " ").replace(_NO_BREAK_HYPHEN, "-") for text in self.buffer[start:]]


class Context(click.Context):
    formatter_class = HelpFormatter


class Verb(click.Command):
    """A command, with the short names it also answers to."""

    context_class = Context

    def __init__(self, *args: Any, aliases: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = tuple(aliases)


class Noun(click.Group):
    """A group whose commands are listed in the order they were added and found by alias too."""

    context_class = Context
    command_class = Verb
    group_class = type

    def __init__(self, *args: Any, aliases: Iterable[str] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = tuple(aliases)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        found = super().get_command(ctx, cmd_name)
        if found is not None:
            return found
        return next((command for command in self.commands.values() if cmd_name in _aliases(command)), None)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(self.commands)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        named = [(name, self.get_command(ctx, name)) for name in self.list_commands(ctx)]
        terms = [(", ".join((name, *_aliases(command))), command) for name, command in named if command is not None and not command.hidden]
        if terms:
            limit = formatter.width - 6 - max(len(term) for term, _ in terms)
            rows = [(term, command.get_short_help_str(limit)) for term, command in terms]
            with formatter.section("Commands"):
                formatter.write_dl(rows)


def _aliases(command: click.Command) -> tuple[str, ...]:
    return command.aliases if isinstance(command, Verb | Noun) else ()
