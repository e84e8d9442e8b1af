"""`flows workflows|instances|triggers …`: fctl's orchestration commands, against a server.

Each command takes the connection options (`--server`, client credentials) and `--output`; a
table for a person by default, `--output json` prints the API's `data` as it came, for scripts.
A failed call is one line on stderr and exit status 1 (flows/client/grammar.py)."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import click
import httpx
from rich.console import Console, RenderableType
from rich.measure import Measurement

from flows.client import progress, rendering
from flows.client.api import JSON, YAML, ApiError, FlowsApi
from flows.client.auth import TOKEN_PATH, ClientCredentials
from flows.client.grammar import Failure, Mistake, Noun

DEFAULT_SERVER = "http://127.0.0.1:8080"
TIMEOUT = httpx.Timeout(30, connect=5)
"""Generous: stopping an instance answers once it has ended."""
WIDE = 160
"""Columns when the output is not a terminal (a pipe, a file): a table row stays on one line."""
UNBOUNDED = 100_000
"""A width to measure what a table needs at least, unconstrained by the terminal's."""


@dataclass(frozen=True)
class Session:
    """What a command works with: the API, and where and how its answer is shown."""

    api: FlowsApi
    console: Console
    json: bool

    def show(self, data: Any, render: Callable[[Any], RenderableType]) -> None:
        if self.json:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        else:
            self.print(render(data))

    def print(self, renderable: RenderableType) -> None:
        # Wider than the terminal rather than an id or a time cut short: the terminal wraps the
        # line, every character is still there.
        unbounded = self.console.options.update_width(UNBOUNDED)
        needed = Measurement.get(self.console, unbounded, renderable).minimum
        width = self.console.width
        self.console.width = max(width, needed)
        try:
            self.console.print(renderable)
        finally:
            self.console.width = width

    def say(self, message: str) -> None:
        """A confirmation, for a person only: with --output json a command that the API answers
        without a body prints nothing."""
        if not self.json:
            self.console.print(rendering.text(message))


def _console() -> Console:
    console = Console(markup=False, emoji=False, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = WIDE
    return console


def _secret(client_id: str | None, secret: str | None, secret_file: str | None) -> str | None:
    if secret_file:
        try:
            secret = Path(secret_file).read_text().strip()
        except (OSError, UnicodeDecodeError) as error:
            raise Mistake(f"cannot read --client-secret-file {secret_file}: {getattr(error, 'strerror', None) or error}") from None
    if bool(client_id) != bool(secret):
        raise Mistake("--client-id and --client-secret (or --client-secret-file) go together")
    return secret


@contextmanager
def _session(server: str, client_id: str | None, secret: str | None, output: str) -> Iterator[Session]:
    if not server.startswith(("http://", "https://")):
        raise Mistake(f"--server {server!r}: must be an http:// or https:// URL")
    auth = ClientCredentials(server.rstrip("/") + TOKEN_PATH, client_id, secret) if client_id and secret else None
    with httpx.Client(base_url=server, auth=auth, timeout=TIMEOUT) as http:
        yield Session(FlowsApi(http), _console(), output == "json")


def client_command(function: Callable[..., None]) -> Callable[..., None]:
    """Adds the connection and output options, and turns a failed call into one line."""

    @click.option(
        "--server",
        envvar="FLOWS_SERVER",
        default=DEFAULT_SERVER,
        metavar="URL",
        help=f"the Flows API (default: {DEFAULT_SERVER}) [env: FLOWS_SERVER]",
    )
    @click.option(
        "--client-id",
        envvar="FLOWS_CLIENT_ID",
        metavar="ID",
        help="OAuth2 client id: get tokens with client credentials [env: FLOWS_CLIENT_ID]",
    )
    @click.option("--client-secret", envvar="FLOWS_CLIENT_SECRET", metavar="SECRET", help="OAuth2 client secret [env: FLOWS_CLIENT_SECRET]")
    @click.option(
        "--client-secret-file",
        envvar="FLOWS_CLIENT_SECRET_FILE",
        metavar="PATH",
        help="file holding the client secret (keeps it out of `ps`) [env: FLOWS_CLIENT_SECRET_FILE]",
    )
    @click.option(
        "--output", "-o", type=click.Choice(["table", "json"]), default="table", show_default=True, help="how to print the answer"
    )
    @functools.wraps(function)
    def command(
        server: str, client_id: str | None, client_secret: str | None, client_secret_file: str | None, output: str, **arguments: Any
    ) -> None:
        secret = _secret(client_id, client_secret, client_secret_file)
        with _session(server, client_id, secret, output) as session:
            try:
                function(session, **arguments)
            except ApiError as error:
                raise Failure(str(error)) from None

    return command


def _variables(ctx: click.Context, parameter: click.Parameter, values: tuple[str, ...]) -> dict[str, str]:
    """`--var NAME=VALUE`, repeated, as a mapping; the value may hold `=` itself."""
    parsed = {}
    for value in values:
        name, equals, given = value.partition("=")
        if not equals or not name:
            raise click.BadParameter(f"{value!r} is not NAME=VALUE")
        parsed[name] = given
    return parsed


def _content_type(name: str, document: bytes) -> str:
    """JSON or YAML, from the file's extension, else from its first character."""
    suffix = Path(name).suffix.lower()
    if suffix in (".yaml", ".yml"):
        return YAML
    if suffix == ".json" or document.lstrip()[:1] in (b"{", b"["):
        return JSON
    return YAML


def _end_of(session: Session, instance_id: str) -> None:
    """Follow the instance to its end; a failed or canceled one is exit status 1."""
    ended = progress.follow(session.api, instance_id, session.console, quiet=session.json)
    if session.json:
        session.show(ended, rendering.instance)
    error = ended.get("error")
    if error:
        raise Failure(f"instance {ended.get('id')} failed: {error}")
    session.say(f"Instance {instance_id} succeeded.")


# -- workflows -------------------------------------------------------------------------------


@click.group(cls=Noun, aliases=("w", "work"))
def workflows() -> None:
    """Workflows: ordered lists of stages."""


@workflows.command("list", aliases=("ls", "l"))
@client_command
def list_workflows(session: Session) -> None:
    """List the workflows."""
    session.show(session.api.list_workflows(), rendering.workflows)


@workflows.command("create", aliases=("cr", "c"))
@click.argument("file", type=click.File("rb"))
@client_command
def create_workflow(session: Session, file: IO[bytes]) -> None:
    """Create a workflow from a JSON or YAML FILE (- reads stdin)."""
    document = file.read()
    created = session.api.create_workflow(document, _content_type(getattr(file, "name", "-"), document))
    session.show(created, lambda workflow: rendering.text(f"Created workflow {workflow.get('id')}."))


@workflows.command("show", aliases=("s",))
@click.argument("workflow_id", metavar="ID")
@client_command
def show_workflow(session: Session, workflow_id: str) -> None:
    """Show a workflow and its configuration."""
    session.show(session.api.get_workflow(workflow_id), rendering.workflow)


@workflows.command("delete", aliases=("del", "d"))
@click.argument("workflow_id", metavar="ID")
@client_command
def delete_workflow(session: Session, workflow_id: str) -> None:
    """Delete a workflow (its instances stay readable)."""
    session.api.delete_workflow(workflow_id)
    session.say(f"Deleted workflow {workflow_id}.")


@workflows.command("run", aliases=("r",))
@click.argument("workflow_id", metavar="ID")
@click.option("--var", "variables", multiple=True, metavar="NAME=VALUE", callback=_variables, help="a variable of the run (repeatable)")
@click.option("--wait", is_flag=True, help="follow the instance stage by stage until it ends; exit status 1 if it fails")
@client_command
def run_workflow(session: Session, workflow_id: str, variables: dict[str, str], wait: bool) -> None:
    """Run a workflow: start an instance of it."""
    started = session.api.run_workflow(workflow_id, variables)
    instance_id = str(started.get("id"))
    if not wait:
        session.show(
            started,
            lambda _: rendering.text(f"Started instance {instance_id}.\nFollow it with: flows instances show {instance_id} --follow"),
        )
        return
    session.say(f"Started instance {instance_id}.")
    _end_of(session, instance_id)


# -- instances -------------------------------------------------------------------------------


@click.group(cls=Noun, aliases=("ins", "i"))
def instances() -> None:
    """Instances: the runs of workflows."""


@instances.command("list", aliases=("ls", "l"))
@click.option("--workflow", "workflow_id", metavar="ID", help="only the instances of this workflow")
@click.option("--running", is_flag=True, help="only the instances still running")
@client_command
def list_instances(session: Session, workflow_id: str | None, running: bool) -> None:
    """List the instances."""
    session.show(session.api.list_instances(workflow_id, running), rendering.instances)


@instances.command("show")
@click.argument("instance_id", metavar="ID")
@click.option("--follow", "-f", is_flag=True, help="follow it stage by stage until it ends; exit status 1 if it fails")
@client_command
def show_instance(session: Session, instance_id: str, follow: bool) -> None:
    """Show an instance and the status of each stage."""
    if follow:
        _end_of(session, instance_id)
    else:
        session.show(session.api.get_instance(instance_id), rendering.instance)


@instances.command("describe")
@click.argument("instance_id", metavar="ID")
@client_command
def describe_instance(session: Session, instance_id: str) -> None:
    """Per-stage history: calls, attempts, failures.

    Each started stage with its input, then each call it made to the stack with its input,
    output, attempts, last failure and error."""
    instance = session.api.get_instance(instance_id)
    history = session.api.instance_history(instance_id)
    calls = {number: session.api.stage_history(instance_id, number) for number in range(len(history))}
    described = [{**stage, "activities": calls[number]} for number, stage in enumerate(history)]
    session.show(described, lambda _: rendering.timeline(instance, history, calls))


@instances.command("send-event")
@click.argument("instance_id", metavar="ID")
@click.argument("name")
@client_command
def send_event(session: Session, instance_id: str, name: str) -> None:
    """Send the event NAME to an instance. A wait_event stage takes it."""
    session.api.send_event(instance_id, name)
    session.say(f"Sent event {name} to instance {instance_id}.")


@instances.command("stop")
@click.argument("instance_id", metavar="ID")
@client_command
def stop_instance(session: Session, instance_id: str) -> None:
    """Stop (abort) an instance. Its current stage ends, canceled."""
    session.api.stop_instance(instance_id)
    session.say(f"Stopped instance {instance_id}.")


# -- triggers --------------------------------------------------------------------------------


@click.group(cls=Noun, aliases=("trig", "t"))
def triggers() -> None:
    """Triggers: run a workflow on a stack's event."""


@triggers.command("list", aliases=("ls", "l"))
@click.option("--name", help="only the triggers whose name contains this (case-insensitive)")
@client_command
def list_triggers(session: Session, name: str | None) -> None:
    """List the triggers."""
    session.show(session.api.list_triggers(name), rendering.triggers)


@triggers.command("create")
@click.argument("event")
@click.argument("workflow_id", metavar="WORKFLOW")
@click.option("--name", default="", help="the trigger's name")
@click.option("--filter", "filter_", metavar="EXPR", help="expr-lang expression over `event`: fire only when true")
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="NAME=EXPR",
    callback=_variables,
    help="a variable of the run, an expression over `event` (repeatable)",
)
@client_command
def create_trigger(session: Session, event: str, workflow_id: str, name: str, filter_: str | None, variables: Mapping[str, str]) -> None:
    """Create a trigger: run WORKFLOW on each EVENT. EVENT is the envelope's type
    (COMMITTED_TRANSACTIONS, SAVED_PAYMENT…)."""
    trigger: dict[str, Any] = {"event": event, "workflowID": workflow_id, "name": name}
    if filter_:
        trigger["filter"] = filter_
    if variables:
        trigger["vars"] = dict(variables)
    created = session.api.create_trigger(trigger)
    session.show(created, lambda item: rendering.text(f"Created trigger {item.get('id')}."))


@triggers.command("show")
@click.argument("trigger_id", metavar="ID")
@client_command
def show_trigger(session: Session, trigger_id: str) -> None:
    """Show a trigger."""
    session.show(session.api.get_trigger(trigger_id), rendering.trigger)


@triggers.command("delete")
@click.argument("trigger_id", metavar="ID")
@client_command
def delete_trigger(session: Session, trigger_id: str) -> None:
    """Delete a trigger."""
    session.api.delete_trigger(trigger_id)
    session.say(f"Deleted trigger {trigger_id}.")


@triggers.command("test")
@click.argument("trigger_id", metavar="ID")
@click.argument("payload", metavar="EVENT.json", type=click.File("rb"))
@client_command
def test_trigger(session: Session, trigger_id: str, payload: IO[bytes]) -> None:
    """Test a trigger against an event payload. EVENT.json is the payload (- reads stdin): the
    filter and the variables are evaluated on it, nothing is started."""
    session.show(session.api.test_trigger(trigger_id, payload.read()), rendering.trigger_test)


@triggers.command("occurrences", aliases=("oc", "o"))
@click.argument("trigger_id", metavar="ID")
@client_command
def trigger_occurrences(session: Session, trigger_id: str) -> None:
    """What a trigger did for each event it matched. The instance it started, or the error."""
    session.show(session.api.trigger_occurrences(trigger_id), rendering.occurrences)


NOUNS = (workflows, instances, triggers)
