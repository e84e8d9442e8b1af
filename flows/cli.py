"""The `flows` command: serve, worker, migrate, version."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

import uvloop

from flows.settings import Settings

# (flag, help); every flag also reads the environment variable of its name in UPPER_SNAKE case.
DATABASE_FLAGS = [
    ("--data-dir", "where the embedded state lives (SQLite, Temporal, signing key)"),
    ("--postgres-uri", "PostgreSQL URI, e.g. postgres://user:pw@host/db?sslmode=disable"),
    ("--postgres-aws-enable-iam", "not supported; fails loudly"),
]
ENGINE_FLAGS = [
    ("--temporal-address", "an existing Temporal frontend (default: embedded dev server)"),
    ("--temporal-namespace", "Temporal namespace (default: default)"),
    ("--temporal-task-queue", "Temporal task queue (default: flows)"),
    ("--temporal-ssl-client-cert", "client certificate (PEM contents) for mTLS"),
    ("--temporal-ssl-client-key", "client key (PEM contents) for mTLS"),
    ("--temporal-encryption-enabled", "not supported; fails loudly"),
    ("--stack", "stack name"),
    ("--stack-url", "base URL of the Formance stack (default: the built-in sandbox)"),
    ("--stack-client-id", "OAuth2 client id for the stack"),
    ("--stack-client-secret", "OAuth2 client secret for the stack"),
    ("--stack-client-secret-file", "file holding the --stack-client-secret (keeps it out of `ps`)"),
    ("--topics", "NATS JetStream subjects to consume, e.g. 'prod.ledger prod.payments' (comma or space separated)"),
    ("--nats-url", "NATS server URL: consume --topics, publish lifecycle events (e.g. nats://127.0.0.1:4222)"),
    ("--publisher-nats-url", "the reference's name for --nats-url"),
    ("--publisher-nats-enabled", "the reference's switch; accepted (a NATS URL alone enables NATS)"),
    (
        "--publisher-topic-mapping",
        "from:to[,from:to…]: subject of the lifecycle events (topic 'orchestration'; default <stack>.orchestration)",
    ),
    ("--debug", "debug logs and access logs"),
]
SERVE_FLAGS = [
    ("--listen", "host:port to listen on (default: 127.0.0.1:8080; ':8080' = all interfaces)"),
    ("--worker", "also run the worker in this process (default: true)"),
    (
        "--auth-clients",
        "id:secret[:scope+scope…][,…]: clients of the built-in OAuth2 issuer; after the secret, the '+'-separated"
        " scopes the client may have (default: all), e.g. reader:s3cret:orchestration:read; no ':' or ','"
        " in ids and secrets; none = auth off",
    ),
    ("--auth-clients-file", "file of --auth-clients entries, one per line, '#' comments (keeps secrets out of `ps`)"),
    ("--auth-signing-key", "key (≥ 32 bytes) signing the issued tokens"),
    ("--auth-signing-key-file", "file holding the --auth-signing-key"),
    ("--auth-enabled", "external issuer; not supported yet (use --auth-clients)"),
    ("--wait-timeout", "seconds runWorkflow?wait=true waits at most (default: 4)"),
    ("--sandbox-test-hooks", "serve the sandbox's test hooks under /api/sandbox (recording, holds; default: false)"),
]
BOOLEAN_FLAGS = {
    "--worker",
    "--sandbox-test-hooks",
    "--publisher-nats-enabled",
    "--debug",
    "--auth-enabled",
    "--postgres-aws-enable-iam",
    "--temporal-encryption-enabled",
}


def _add(parser: argparse.ArgumentParser, flags: list[tuple[str, str]]) -> None:
    for flag, help_text in flags:
        if flag in BOOLEAN_FLAGS:
            # `--worker`, `--worker=false`, `--worker false` all work, as with the reference.
            parser.add_argument(flag, nargs="?", const="true", default=None, help=help_text)
        else:
            parser.add_argument(flag, default=None, help=help_text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="flows", description="Orchestration of money flows.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the API (and by default the worker)")
    _add(serve, SERVE_FLAGS + DATABASE_FLAGS + ENGINE_FLAGS)
    worker = commands.add_parser("worker", help="run a worker only")
    _add(worker, DATABASE_FLAGS + ENGINE_FLAGS)
    migrate = commands.add_parser("migrate", help="apply database migrations and exit")
    _add(migrate, DATABASE_FLAGS)
    commands.add_parser("version", help="print the version")
    return parser


def settings_from(arguments: argparse.Namespace) -> Settings:
    given: dict[str, Any] = {
        key: value for key, value in vars(arguments).items() if key != "command" and value is not None
    }
    return Settings(**given)


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.command == "version":
        from flows.server import flows_version

        print(f"Version: {flows_version()}")
        return 0
    settings = settings_from(arguments)
    logging.basicConfig(
        level=logging.DEBUG if settings.debug else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    # Migration progress is noise at every start; failures still surface as errors.
    logging.getLogger("alembic").setLevel(logging.WARNING)
    from flows import server
    from flows.datadir import DataDirLocked

    run = {"serve": server.serve, "worker": server.work, "migrate": server.migrate}[arguments.command]
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(run(settings))
    except (server.StartupError, DataDirLocked) as error:
        print(f"flows: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
