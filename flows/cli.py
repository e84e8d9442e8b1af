"""The `flows` command.

The server commands (serve, worker, migrate) take the fields of flows/settings.py as flags, built
from them: name, help, default, environment variable, commands. `flows workflows|instances|
triggers …` are the client commands of flows/client/commands.py, which speak to a server over
HTTP. The server commands are built when first used, and import the server stack only when they
run: a client command loads neither pydantic nor Temporal, and starts in a fraction of a second."""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from flows.client.commands import NOUNS
from flows.client.grammar import Mistake, Noun, Verb
from flows.errors import FlowsError

if TYPE_CHECKING:
    from pydantic.fields import FieldInfo

    from flows.settings import Settings

_SERVER_COMMANDS = {
    "serve": "run the API (and by default the worker)",
    "worker": "run a worker only",
    "migrate": "apply database migrations and exit",
}
"""The commands of flows.settings.COMMANDS, in the order help lists them."""


def _default_shown(field: FieldInfo) -> str | None:
    default = field.get_default(call_default_factory=True)
    if isinstance(default, bool):
        return str(default).lower()
    if default in (None, "", []):
        return None
    return str(default)


def _help(name: str, field: FieldInfo) -> str:
    from flows.settings import env_name

    default = _default_shown(field)
    shown = f" (default: {default})" if default is not None else ""
    return f"{field.description or ''}{shown} [env: {env_name(name)}]"


def _flag(name: str, field: FieldInfo) -> click.Option:
    from flows.settings import env_name, flag_name

    # No default: a flag left out is not given, so its environment variable applies; values stay
    # strings for the settings to parse, so that every mistake is their one line.
    if field.annotation is bool:
        # `--worker`, `--worker=false`, `--worker false` all work, as with the reference.
        return click.Option([flag_name(name)], is_flag=False, flag_value="true", metavar="true|false", help=_help(name, field))
    return click.Option([flag_name(name)], metavar=env_name(name), help=_help(name, field))


def server_command(command: str) -> click.Command:
    """`serve`, `worker` or `migrate`, with a flag for each setting it takes."""
    from flows.settings import Settings, commands_of

    flags = [_flag(name, field) for name, field in Settings.model_fields.items() if command in commands_of(field)]
    about = _SERVER_COMMANDS[command]
    return Verb(command, params=flags, help=about, short_help=about, callback=functools.partial(_start, command))


def settings_from(given: Mapping[str, Any]) -> Settings:
    """The settings from the flags given (by field name; None = not given), checked."""
    from flows.settings import load_settings

    return load_settings({key: value for key, value in given.items() if value is not None})


def _start(command: str, **given: Any) -> None:
    try:
        _run(command, settings_from(given))
    except FlowsError as error:
        raise Mistake(str(error)) from None
    except KeyboardInterrupt:
        pass


def _run(command: str, settings: Settings) -> None:
    import asyncio

    from flows import server

    logging.basicConfig(
        level=logging.DEBUG if settings.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Migration progress is noise at every start; failures still surface as errors.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    # Nor the selector asyncio picks for the loop, logged before the service's own log format is set.
    logging.getLogger("asyncio").setLevel(logging.INFO)
    run = {"serve": server.serve, "worker": server.work, "migrate": server.migrate}[command]
    # The standard library's loop, not uvloop: libuv accepts one connection per turn of its
    # loop, so fifty clients connecting at once wait behind fifty turns (a 100 ms+ tail at
    # p99 under load, docs/performance.md); asyncio accepts the backlog in one turn.
    with asyncio.Runner() as runner:
        runner.run(run(settings))


def _print_version() -> None:
    from flows.server import flows_version

    click.echo(f"Version: {flows_version()}")


class _Flows(Noun):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in _SERVER_COMMANDS and cmd_name not in self.commands:
            self.add_command(server_command(cmd_name))
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*_SERVER_COMMANDS, *(name for name in self.commands if name not in _SERVER_COMMANDS)]


flows = _Flows(
    "flows",
    help="Orchestration of money flows: run the service, or drive one from the terminal.",
    context_settings={"help_option_names": ["-h", "--help"]},
    commands=[Verb("version", help="print the version", callback=_print_version), *NOUNS],
)


def main() -> None:
    flows.main(prog_name="flows")


if __name__ == "__main__":
    main()
