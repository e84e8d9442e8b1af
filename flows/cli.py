"""The `flows` command: serve, worker, migrate, version. Its flags are the fields of
flows/settings.py, built from them: name, help, default, environment variable, commands."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import textwrap
from typing import Any

import uvloop
from pydantic.fields import FieldInfo

from flows.errors import FlowsError
from flows.settings import COMMANDS, MIGRATE, SERVE, WORKER, Settings, commands_of, env_name, flag_name, load_settings

_ABOUT = {
    SERVE: "run the API (and by default the worker)",
    WORKER: "run a worker only",
    MIGRATE: "apply database migrations and exit",
}


class _HelpFormatter(argparse.HelpFormatter):
    def _split_lines(self, text: str, width: int) -> list[str]:
        # Flag names and "[env: NAME]" stay in one piece, to be read (and searched for) as written.
        text = " ".join(text.split()).replace("[env: ", "[env:\N{NO-BREAK SPACE}")
        lines = textwrap.wrap(text, width, break_on_hyphens=False)
        return [line.replace("\N{NO-BREAK SPACE}", " ") for line in lines]


def _default_shown(field: FieldInfo) -> str | None:
    default = field.get_default(call_default_factory=True)
    if isinstance(default, bool):
        return str(default).lower()
    if default in (None, "", []):
        return None
    return str(default)


def _help(name: str, field: FieldInfo) -> str:
    default = _default_shown(field)
    shown = f" (default: {default})" if default is not None else ""
    return f"{field.description or ''}{shown} [env: {env_name(name)}]".replace("%", "%%")


def _add_flag(parser: argparse.ArgumentParser, name: str, field: FieldInfo) -> None:
    # No argparse default: a flag left out is not given, so its environment variable applies.
    if field.annotation is bool:
        # `--worker`, `--worker=false`, `--worker false` all work, as with the reference.
        parser.add_argument(flag_name(name), nargs="?", const="true", metavar="true|false", help=_help(name, field))
    else:
        parser.add_argument(flag_name(name), metavar=env_name(name), help=_help(name, field))


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flows", description="Orchestration of money flows.")
    commands = parser.add_subparsers(dest="command", required=True)
    for command in COMMANDS:
        subparser = commands.add_parser(command, help=_ABOUT[command], description=_ABOUT[command], formatter_class=_HelpFormatter)
        for name, field in Settings.model_fields.items():
            if command in commands_of(field):
                _add_flag(subparser, name, field)
    commands.add_parser("version", help="print the version")
    return parser


def settings_from(arguments: argparse.Namespace) -> Settings:
    given: dict[str, Any] = {key: value for key, value in vars(arguments).items() if key != "command" and value is not None}
    return load_settings(given)


def _run(command: str, settings: Settings) -> None:
    logging.basicConfig(
        level=logging.DEBUG if settings.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Migration progress is noise at every start; failures still surface as errors.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from flows import server

    run = {SERVE: server.serve, WORKER: server.work, MIGRATE: server.migrate}[command]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(run(settings))


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.command == "version":
        from flows.server import flows_version

        print(f"Version: {flows_version()}")
        return 0
    try:
        _run(arguments.command, settings_from(arguments))
    except FlowsError as error:
        print(f"flows: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
