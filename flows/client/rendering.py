"""The API's data drawn for a person: Rich tables, detail grids and the per-stage timeline.

Every value from the server is drawn as plain `Text` with its control characters escaped, so a
name holding markup (`[red]`) or terminal escapes prints as written and cannot repaint the screen."""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import yaml
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from rich.tree import Tree

Data = Mapping[str, Any]

RUNNING, SUCCEEDED, FAILED, CANCELED, PENDING, RETRYING = "running", "succeeded", "failed", "canceled", "pending", "retrying"
_STYLES = {RUNNING: "yellow", RETRYING: "yellow", SUCCEEDED: "green", FAILED: "red", CANCELED: "magenta", PENDING: "dim"}
CANCELED_ERRORS = ("canceled", "cancelled")
"""The error of an instance, stage or call ended by `stop` (abort), as the API reports it."""


def text(value: object, style: str = "") -> Text:
    """`value` as plain text: no markup, control characters shown escaped (`\\x1b`)."""
    raw = value if isinstance(value, str) else "" if value is None else str(value)
    shown = "".join(
        char if char in "\n\t" or unicodedata.category(char) != "Cc" else char.encode("unicode_escape").decode() for char in raw
    )
    return Text(shown, style=style)


def moment(value: object) -> str:
    """An RFC 3339 time to the second, `2026-12-02T01:24:13Z`; anything else as it came."""
    if not isinstance(value, str):
        return ""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    shown = parsed.replace(microsecond=0).isoformat()
    return shown.removesuffix("+00:00") + "Z" if shown.endswith("+00:00") else shown


def compact(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def outcome(item: Data, *, started: bool = True) -> str:
    """running, succeeded, failed or canceled: for an instance, a stage or an activity."""
    if not started:
        return PENDING
    if not (item.get("terminated") or item.get("terminatedAt")):
        return RETRYING if item.get("lastFailure") else RUNNING
    if item.get("error"):
        return CANCELED if item["error"] in CANCELED_ERRORS else FAILED
    return SUCCEEDED


def status(name: str) -> Text:
    return Text(name, style=_STYLES.get(name, ""))


_WHOLE = {"#", "ID", "Workflow", "Instance", "Status", "Created at", "Started at", "Ended at", "Date"}
"""Columns never wrapped (ids, times): on a narrow terminal the others wrap first."""


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False)
    for column in columns:
        table.add_column(column, no_wrap=column in _WHOLE, overflow="fold")
    return table


def _details(rows: Iterable[tuple[str, RenderableType | str | None]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="cyan", no_wrap=True)
    grid.add_column(overflow="fold")
    for label, value in rows:
        if value is not None and value != "":
            grid.add_row(label, value if not isinstance(value, str) else text(value))
    return grid


def _nothing(what: str) -> Text:
    return Text(f"No {what}.", style="dim")


# -- workflows -------------------------------------------------------------------------------


def stage_kinds(workflow: Data | None) -> list[str]:
    """The kind of each stage of a workflow (`send`, `delay`…), in order."""
    config = workflow.get("config") if isinstance(workflow, Mapping) else None
    stages = config.get("stages") if isinstance(config, Mapping) else None
    if not isinstance(stages, list):
        return []
    return [next(iter(stage), "?") if isinstance(stage, Mapping) else "?" for stage in stages]


def _workflow_name(workflow: Data) -> str:
    config = workflow.get("config")
    return str(config.get("name") or "") if isinstance(config, Mapping) else ""


def workflows(items: Sequence[Data]) -> RenderableType:
    if not items:
        return _nothing("workflows")
    table = _table("ID", "Name", "Stages", "Created at")
    for workflow in items:
        table.add_row(
            text(workflow.get("id")),
            text(_workflow_name(workflow)),
            text(" → ".join(stage_kinds(workflow))),
            moment(workflow.get("createdAt")),
        )
    return table


def workflow(item: Data) -> RenderableType:
    info = _details(
        [
            ("ID", item.get("id")),
            ("Name", _workflow_name(item)),
            ("Created at", moment(item.get("createdAt"))),
            ("Updated at", moment(item.get("updatedAt"))),
            ("Deleted at", moment(item.get("deletedAt"))),
        ]
    )
    config = yaml.safe_dump(item.get("config"), sort_keys=False, allow_unicode=True, default_flow_style=False)
    return Group(info, Text(""), Text("Configuration", style="bold"), text(config.rstrip()))


# -- instances -------------------------------------------------------------------------------


def instances(items: Sequence[Data]) -> RenderableType:
    if not items:
        return _nothing("instances")
    failures = [_failure(instance) for instance in items]
    with_errors = any(failures)
    table = _table("ID", "Workflow", "Status", "Created at", "Ended at", *(["Error"] if with_errors else []))
    for instance, failure in zip(items, failures, strict=True):
        table.add_row(
            text(instance.get("id")),
            text(instance.get("workflowID")),
            status(outcome(instance)),
            moment(instance.get("createdAt")),
            moment(instance.get("terminatedAt")),
            *([failure] if with_errors else []),
        )
    return table


def _failure(item: Data) -> Text:
    """The error of a failed instance or stage; nothing for a canceled one, its status says it."""
    return text(item.get("error"), "red") if outcome(item) == FAILED else Text("")


def _instance_details(item: Data) -> Table:
    workflow_name = _workflow_name(item.get("workflow") or {})
    workflow_id = str(item.get("workflowID") or "")
    return _details(
        [
            ("ID", item.get("id")),
            ("Workflow", f"{workflow_name} ({workflow_id})" if workflow_name else workflow_id),
            ("Status", status(outcome(item))),
            ("Created at", moment(item.get("createdAt"))),
            ("Updated at", moment(item.get("updatedAt"))),
            ("Ended at", moment(item.get("terminatedAt"))),
            ("Error", text(item.get("error"), "red") if item.get("error") else None),
        ]
    )


def activity_note(activity: Data) -> Text:
    """`CreateTransaction, attempt 4: <last failure>`: what a stage's current call is doing."""
    note = text(f"{activity.get('name', '?')}, attempt {activity.get('attempt', 1)}")
    failure = activity.get("lastFailure") or activity.get("error")
    if failure:
        note.append(": ").append_text(text(failure, "red"))
    return note


def stages(item: Data, activities: Sequence[Data] = ()) -> RenderableType:
    """Every stage of the instance's workflow, started or not; `activities` are the calls of the
    stage running now, shown beside it."""
    kinds = stage_kinds(item.get("workflow"))
    started = {row.get("stage"): row for row in item.get("status") or [] if isinstance(row, Mapping)}
    count = max([len(kinds), *(number + 1 for number in started if isinstance(number, int))])
    table = _table("#", "Stage", "Status", "Started at", "Ended at", "Detail")
    for number in range(count):
        row = started.get(number, {})
        current = outcome(row, started=bool(row))
        detail = _failure(row)
        if current == RUNNING and activities:
            detail = activity_note(activities[-1])
        kind = kinds[number] if number < len(kinds) else ""
        table.add_row(str(number), text(kind), status(current), moment(row.get("startedAt")), moment(row.get("terminatedAt")), detail)
    return table


def instance(item: Data, activities: Sequence[Data] = ()) -> RenderableType:
    return Group(_instance_details(item), Text(""), stages(item, activities))


def timeline(item: Data, history: Sequence[Data], activities: Mapping[int, Sequence[Data]]) -> RenderableType:
    """`instances describe`: each started stage with its input, then each call it made with its
    attempts, output, last failure and error."""
    kinds = stage_kinds(item.get("workflow"))
    root = Tree(Text.assemble("Instance ", text(item.get("id"), "bold"), " ", status(outcome(item))))
    for number, stage in enumerate(history):
        kind = kinds[number] if number < len(kinds) else str(stage.get("name") or "")
        label = Text.assemble(f"Stage {number} ", text(kind, "bold"), " ", status(outcome(stage)), "  ", _span(stage))
        branch = root.add(label)
        branch.add(Text.assemble(("input ", "cyan"), text(compact(stage.get("input", {})))))
        if stage.get("error"):
            branch.add(Text.assemble(("error ", "cyan"), text(stage["error"], "red")))
        for call in activities.get(number, ()):
            _activity(branch, call)
    if not history:
        root.add(Text("No stage has started.", style="dim"))
    return root


def _span(item: Data) -> str:
    started, ended = moment(item.get("startedAt")), moment(item.get("terminatedAt"))
    return f"{started} → {ended}" if ended else f"since {started}"


def _activity(branch: Tree, call: Data) -> None:
    name = str(call.get("name") or "?")
    attempts = call.get("attempt", 1)
    label = Text.assemble(text(name, "bold"), " ", status(outcome(call)), f"  attempt {attempts}  ", _span(call))
    node = branch.add(label)
    node.add(Text.assemble(("input ", "cyan"), text(compact(_unwrapped(call.get("input"), name)))))
    if "output" in call:
        node.add(Text.assemble(("output ", "cyan"), text(compact(_unwrapped(call["output"], name)))))
    if call.get("lastFailure"):
        node.add(Text.assemble(("last failure ", "cyan"), text(call["lastFailure"], "red")))
    if call.get("nextExecution"):
        node.add(Text.assemble(("next attempt ", "cyan"), moment(call["nextExecution"])))
    if call.get("error"):
        node.add(Text.assemble(("error ", "cyan"), text(call["error"], "red")))


def _unwrapped(value: object, name: str) -> object:
    """An activity's input and output are keyed by its name (`{"CreateTransaction": …}`)."""
    return value[name] if isinstance(value, Mapping) and set(value) == {name} else value


# -- triggers --------------------------------------------------------------------------------


def triggers(items: Sequence[Data]) -> RenderableType:
    if not items:
        return _nothing("triggers")
    table = _table("ID", "Name", "Event", "Workflow", "Filter", "Created at")
    for trigger in items:
        table.add_row(
            text(trigger.get("id")),
            text(trigger.get("name")),
            text(trigger.get("event")),
            text(trigger.get("workflowID")),
            text(trigger.get("filter")),
            moment(trigger.get("createdAt")),
        )
    return table


def trigger(item: Data) -> RenderableType:
    info = _details(
        [
            ("ID", item.get("id")),
            ("Name", item.get("name")),
            ("Event", item.get("event")),
            ("Version", item.get("version")),
            ("Workflow", item.get("workflowID")),
            ("Filter", item.get("filter")),
            ("Created at", moment(item.get("createdAt"))),
        ]
    )
    variables = item.get("vars") or {}
    if not variables:
        return info
    table = _table("Variable", "Expression")
    for name, expression in variables.items():
        table.add_row(text(name), text(expression))
    return Group(info, Text(""), table)


def trigger_test(result: Data) -> RenderableType:
    parts: list[RenderableType] = []
    verdict = result.get("filter")
    if isinstance(verdict, Mapping):
        matched = Text("matches", style="green") if verdict.get("match") else Text("does not match", style="yellow")
        parts.append(_details([("Filter", matched), ("Filter error", text(verdict.get("error"), "red") if verdict.get("error") else None)]))
    else:
        parts.append(Text("No filter: every event matches."))
    variables = result.get("variables")
    if isinstance(variables, Mapping) and variables:
        table = _table("Variable", "Value", "Error")
        for name, evaluation in variables.items():
            evaluation = evaluation if isinstance(evaluation, Mapping) else {}
            table.add_row(text(name), text(evaluation.get("value")), text(evaluation.get("error"), "red"))
        parts += [Text(""), table]
    return Group(*parts)


def occurrences(items: Sequence[Data]) -> RenderableType:
    if not items:
        return _nothing("occurrences")
    table = _table("Date", "Event", "Instance", "Error")
    for occurrence in items:
        event = occurrence.get("event")
        kind = event.get("type") if isinstance(event, Mapping) else None
        table.add_row(
            moment(occurrence.get("date")),
            text(kind or ""),
            text(occurrence.get("workflowInstanceID")),
            text(occurrence.get("error"), "red"),
        )
    return table
