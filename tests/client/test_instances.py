"""`flows workflows run` and `flows instances` against a real `flows serve`: runs with variables,
following an instance stage by stage (`--wait`, `--follow`), events, describing a failing send's
attempts, stopping, and the exit status of an instance that failed."""

from __future__ import annotations

import json

from tests.client.helpers import Cli, assert_one_line_failure
from tests.support.polling import eventually

APPROVAL = {"name": "approval", "stages": [{"wait_event": {"event": "${event}"}}, {"noop": {}}]}
OVERDRAWN_SEND = {
    "name": "overdrawn",
    "stages": [
        {
            "send": {
                "source": {"account": {"id": "empty", "ledger": "default"}},
                "destination": {"account": {"id": "bob", "ledger": "default"}},
                "amount": {"amount": 100, "asset": "USD/2"},
            }
        }
    ],
}
BAD_AMOUNT_SEND = {
    "stages": [
        {
            "send": {
                "source": {"account": {"id": "world", "ledger": "default"}},
                "destination": {"account": {"id": "bob", "ledger": "default"}},
                "amount": {"amount": "${amount}", "asset": "USD/2"},
            }
        }
    ]
}


def create(cli: Cli, config: dict[str, object]) -> str:
    return str(cli.json("workflows", "create", "-", input=json.dumps(config))["id"])


def test_run_wait_follows_each_stage_until_the_awaited_event_arrives(cli: Cli) -> None:
    workflow_id = create(cli, APPROVAL)
    run = cli.popen("workflows", "run", workflow_id, "--var", "event=approved", "--wait")
    try:
        waiting = eventually(lambda: cli.json("instances", "list", "--workflow", workflow_id, "--running"))
        instance_id = waiting[0]["id"]
        eventually(lambda: cli.json("instances", "show", instance_id).get("status"))
        assert cli.ok("instances", "send-event", instance_id, "approved").strip() == f"Sent event approved to instance {instance_id}."
        stdout, stderr = run.communicate(timeout=30)
    finally:
        run.kill()
    assert run.returncode == 0, stderr
    assert stdout.splitlines() == [
        f"Started instance {instance_id}.",
        "stage 0 wait_event started",
        "stage 0 wait_event succeeded",
        "stage 1 noop started",
        "stage 1 noop succeeded",
        f"Instance {instance_id} succeeded.",
    ]
    assert cli.json("instances", "list", "--workflow", workflow_id, "--running") == []


def test_run_with_variables_prints_the_instance_started(cli: Cli) -> None:
    workflow_id = create(cli, APPROVAL)
    started = cli.json("workflows", "run", workflow_id, "--var", "event=go")
    assert started["workflowID"] == workflow_id and started["terminated"] is False
    stages = eventually(lambda: cli.json("instances", "describe", started["id"]))
    assert stages[0]["input"] == {"event": "go"}, "the variable reached the stage"
    cli.ok("instances", "send-event", started["id"], "go")
    ended = cli.json("instances", "show", started["id"], "--follow")
    assert ended["terminated"] is True and "error" not in ended


def test_an_instance_that_fails_is_exit_status_1_with_its_error(cli: Cli) -> None:
    workflow_id = create(cli, BAD_AMOUNT_SEND)
    result = cli("workflows", "run", workflow_id, "--var", "amount=1.5", "--wait", "--output", "json")
    assert result.exit_code == 1
    ended = json.loads(result.stdout)
    assert ended["terminated"] is True and ended["error"]
    assert result.stderr.splitlines() == [f"flows: instance {ended['id']} failed: {ended['error']}"]

    followed = cli("instances", "show", ended["id"], "--follow")
    assert followed.exit_code == 1
    assert "stage 0 send failed" in followed.stdout


def test_describe_shows_the_attempts_and_last_failure_of_a_retrying_send_then_stop_ends_it(cli: Cli) -> None:
    workflow_id = create(cli, OVERDRAWN_SEND)
    instance_id = cli.json("workflows", "run", workflow_id)["id"]

    def retried() -> list[dict[str, object]] | None:
        stages = cli.json("instances", "describe", instance_id)
        calls = stages[0]["activities"] if stages else []
        return calls if calls and int(calls[0].get("attempt", 1)) >= 2 else None

    calls = eventually(retried)
    assert calls[0]["name"] == "CreateTransaction"
    assert "insufficient funds" in calls[0]["lastFailure"]

    described = cli.ok("instances", "describe", instance_id)
    assert "Stage 0 send running" in described
    assert "CreateTransaction retrying  attempt " in described
    assert "last failure running numscript: account(s) @empty had/have insufficient funds" in described
    assert '"postings": [{"source": "empty", "destination": "bob", "amount": 100, "asset": "USD/2"}]' in described

    assert cli.ok("instances", "stop", instance_id).strip() == f"Stopped instance {instance_id}."
    stopped = cli.json("instances", "show", instance_id)
    assert stopped["terminated"] is True and stopped["error"] == "canceled"
    shown = cli.ok("instances", "show", instance_id)
    assert "overdrawn" in shown and "canceled" in shown
    assert instance_id not in cli.ok("instances", "list", "--running")
    assert instance_id in cli.ok("instances", "ls", "--workflow", workflow_id)


def test_show_lists_every_stage_of_the_workflow_started_or_not(cli: Cli) -> None:
    workflow_id = create(cli, APPROVAL)
    instance_id = cli.json("workflows", "run", workflow_id, "--var", "event=never")["id"]
    eventually(lambda: cli.json("instances", "show", instance_id).get("status"))
    rows = [line.split() for line in cli.ok("instances", "show", instance_id).splitlines()]
    assert ["0", "wait_event", "running"] in [row[:3] for row in rows]
    assert ["1", "noop", "pending"] in [row[:3] for row in rows]
    cli.ok("instances", "stop", instance_id)


def test_an_event_to_an_ended_instance_is_the_apis_message(cli: Cli) -> None:
    workflow_id = create(cli, {"stages": [{"noop": {}}]})
    instance_id = cli.json("workflows", "run", workflow_id, "--wait")["id"]
    result = cli("instances", "send-event", instance_id, "late")
    assert result.exit_code == 1 and result.stdout == ""
    assert_one_line_failure(result, "")
