"""`flows workflows` and `flows triggers` against a real `flows serve`: create from a file or
stdin, list, show, delete, test a trigger, read its occurrences; what scripts parse
(`--output json`) and what a mistake prints (one line, exit status 1 or 2)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.client.helpers import FLOWS, Cli, assert_one_line_failure
from tests.support.polling import eventually
from tests.support.service import FlowsProcess, free_port

APPROVAL_YAML = """\
name: approval
stages:
  - wait_event:
      event: ${event}
  - noop: {}
"""


def created_id(output: str) -> str:
    assert output.startswith("Created "), output
    return output.split()[2].rstrip(".")


def test_a_workflow_from_a_yaml_file_is_created_listed_and_shown(cli: Cli, tmp_path: Path) -> None:
    path = tmp_path / "approval.yaml"
    path.write_text(APPROVAL_YAML)
    workflow_id = created_id(cli.ok("workflows", "create", str(path)))

    listed = cli.ok("workflows", "list")
    row = next(line for line in listed.splitlines() if workflow_id in line)
    assert "approval" in row and "wait_event → noop" in row

    shown = cli.ok("workflows", "show", workflow_id)
    assert workflow_id in shown
    assert "event: ${event}" in shown, "the configuration, as YAML"


def test_a_workflow_from_stdin_is_created_and_its_json_is_the_apis(cli: Cli, service: FlowsProcess) -> None:
    config = {"name": "from-stdin", "stages": [{"delay": {"duration": "1s"}}]}
    created = cli.json("workflows", "create", "-", input=json.dumps(config))
    assert created["config"] == config

    api = httpx.get(f"{service.url}/api/orchestration/workflows/{created['id']}").json()["data"]
    assert cli.json("workflows", "show", created["id"]) == api
    assert api in cli.json("workflows", "ls")


def test_a_yaml_document_on_stdin_is_sent_as_yaml(cli: Cli) -> None:
    created = cli.json("workflows", "create", "-", input=APPROVAL_YAML)
    assert created["config"]["stages"][0] == {"wait_event": {"event": "${event}"}}


def test_a_deleted_workflow_is_gone(cli: Cli) -> None:
    workflow_id = cli.json("workflows", "create", "-", input='{"stages": [{"noop": {}}]}')["id"]
    assert cli.ok("workflows", "del", workflow_id).strip() == f"Deleted workflow {workflow_id}."
    assert workflow_id not in cli.ok("workflows", "list")
    assert_one_line_failure(cli("workflows", "show", workflow_id), f"workflow '{workflow_id}' not found")
    assert_one_line_failure(cli("workflows", "delete", workflow_id), f"workflow '{workflow_id}' not found")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["workflows", "show", "no-such-id"], "workflow 'no-such-id' not found"),
        (["workflows", "run", "no-such-id"], "workflow 'no-such-id' not found"),
        (["instances", "show", "no-such-id"], "instance 'no-such-id' not found"),
        (["instances", "describe", "no-such-id"], "instance 'no-such-id' not found"),
        (["instances", "send-event", "no-such-id", "go"], "instance 'no-such-id' not found"),
        (["triggers", "show", "no-such-id"], "trigger 'no-such-id' not found"),
    ],
)
def test_an_unknown_id_is_one_line_and_exit_status_1(cli: Cli, arguments: list[str], message: str) -> None:
    assert_one_line_failure(cli(*arguments), message)


def test_an_invalid_workflow_is_refused_with_the_apis_message(cli: Cli) -> None:
    result = cli("workflows", "create", "-", input='{"stages": [{"bogus": {}}]}')
    assert_one_line_failure(result, "stages[0]: unknown stage type 'bogus'")


def test_an_id_is_one_path_segment_whatever_it_holds(cli: Cli) -> None:
    assert_one_line_failure(cli("workflows", "show", "a b?c#d"), "workflow 'a b?c#d' not found")


@pytest.mark.parametrize(
    "arguments",
    [
        ["workflows", "run", "some-id", "--var", "no-equals-sign"],
        ["workflows", "create", "/no/such/file.yaml"],
        ["workflows", "show"],
        ["workflows", "list", "--output", "xml"],
    ],
)
def test_a_usage_mistake_is_exit_status_2(cli: Cli, arguments: list[str]) -> None:
    result = cli(*arguments)
    assert result.exit_code == 2, result.stdout
    assert "Traceback" not in result.stderr and result.stdout == ""


def test_a_server_that_is_down_is_one_line_and_exit_status_1() -> None:
    down = f"http://127.0.0.1:{free_port()}"
    result = subprocess.run([*FLOWS, "workflows", "list", "--server", down], capture_output=True, text=True, timeout=30)
    assert_one_line_failure(result, f"cannot reach {down}: connection refused")


def test_the_server_comes_from_the_environment(service: FlowsProcess) -> None:
    result = subprocess.run(
        [*FLOWS, "workflows", "list", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"FLOWS_SERVER": service.url, "PATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert isinstance(json.loads(result.stdout), list)


# -- triggers --------------------------------------------------------------------------------

PAYMENT_EVENT = "SAVED_PAYMENT"


def test_a_trigger_is_created_tested_fired_and_deleted(cli: Cli, service: FlowsProcess, tmp_path: Path) -> None:
    workflow_id = cli.json("workflows", "create", "-", input='{"stages": [{"noop": {}}]}')["id"]
    name = f"big-payments-{uuid.uuid4().hex[:6]}"
    created = cli.ok(
        "triggers", "create", PAYMENT_EVENT, workflow_id, "--name", name,
        "--filter", "event.amount > 100", "--var", "payment=event.id", "--var", "asset=event.asset",
    )  # fmt: skip
    trigger_id = created_id(created)

    assert trigger_id in cli.ok("triggers", "list", "--name", name.upper())
    assert cli.json("triggers", "list", "--name", "no-such-trigger-name") == []
    shown = cli.json("triggers", "show", trigger_id)
    assert shown["filter"] == "event.amount > 100"
    assert shown["vars"] == {"payment": "event.id", "asset": "event.asset"}

    payload = tmp_path / "event.json"
    payload.write_text(json.dumps({"id": "pay_1", "amount": 250, "asset": "EUR/2"}))
    tested = cli.ok("triggers", "test", trigger_id, str(payload))
    assert "matches" in tested and "pay_1" in tested and "EUR/2" in tested
    small = cli.json("triggers", "test", trigger_id, "-", input='{"id": "pay_2", "amount": 5}')
    assert small["filter"] == {"match": False}

    envelope = {"type": PAYMENT_EVENT, "payload": {"id": "pay_3", "amount": 500, "asset": "USD/2"}}
    answer = httpx.post(f"{service.url}/api/orchestration/events", json=envelope, headers={"Message-Uuid": str(uuid.uuid4())})
    assert answer.status_code == 204, answer.text
    occurrences = eventually(lambda: cli.json("triggers", "occurrences", trigger_id))
    instance_id = occurrences[0]["workflowInstanceID"]
    listed = cli.ok("triggers", "oc", trigger_id)
    assert instance_id in listed and PAYMENT_EVENT in listed

    assert cli.ok("triggers", "delete", trigger_id).strip() == f"Deleted trigger {trigger_id}."
    assert_one_line_failure(cli("triggers", "show", trigger_id), f"trigger '{trigger_id}' not found")


def test_an_invalid_trigger_filter_is_the_apis_message(cli: Cli) -> None:
    workflow_id = cli.json("workflows", "create", "-", input='{"stages": [{"noop": {}}]}')["id"]
    result = cli("triggers", "create", PAYMENT_EVENT, workflow_id, "--filter", "event.amount >")
    assert result.exit_code == 1 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and result.stderr.startswith("flows: "), result.stderr


def test_a_name_holding_markup_or_terminal_escapes_prints_as_written(cli: Cli) -> None:
    name = "[bold red]x[/] \x1b[2J"
    workflow_id = cli.json("workflows", "create", "-", input=json.dumps({"name": name, "stages": [{"noop": {}}]}))["id"]
    shown = cli.ok("workflows", "show", workflow_id)
    assert "[bold red]x[/] \\x1b[2J" in shown
    assert "\x1b" not in shown
