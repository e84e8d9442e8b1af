"""Following a running instance stage by stage (`run --wait`, `instances show --follow`).

The instance and the calls of its current stage are polled until it ends. On a terminal the
stages table is redrawn in place (Rich Live); elsewhere (a pipe, a CI log) one line is printed
per change: a stage started or ended, a call that failed and will be retried."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.text import Text

from flows.client import rendering
from flows.client.api import FlowsApi

POLL_INTERVAL_S = 0.3


@dataclass(frozen=True)
class Snapshot:
    """An instance as it stands, with the calls of the stage it is running (if any)."""

    instance: Mapping[str, Any]
    activities: Sequence[Mapping[str, Any]] = field(default_factory=tuple)

    @property
    def ended(self) -> bool:
        return bool(self.instance.get("terminated"))

    def running_stage(self) -> int | None:
        rows = self.instance.get("status") or []
        if self.ended or not rows or rows[-1].get("terminatedAt"):
            return None
        number = rows[-1].get("stage")
        return number if isinstance(number, int) else None


def take(api: FlowsApi, instance_id: str) -> Snapshot:
    instance = api.get_instance(instance_id)
    stage = Snapshot(instance).running_stage()
    return Snapshot(instance, api.stage_history(instance_id, stage) if stage is not None else ())


def watch(api: FlowsApi, instance_id: str, interval: float = POLL_INTERVAL_S) -> Iterator[Snapshot]:
    """Snapshots until the instance has ended; the last one is the ended instance."""
    while True:
        snapshot = take(api, instance_id)
        yield snapshot
        if snapshot.ended:
            return
        time.sleep(interval)


def follow(api: FlowsApi, instance_id: str, console: Console, *, quiet: bool = False) -> Mapping[str, Any]:
    """Show the instance's progress until it ends (nothing when `quiet`); the ended instance."""
    last = None
    with _display(console, quiet) as show:
        for snapshot in watch(api, instance_id):
            show(snapshot)
            last = snapshot
    assert last is not None, "watch yields at least once"
    return last.instance


@contextmanager
def _display(console: Console, quiet: bool) -> Iterator[Callable[[Snapshot], None]]:
    if quiet:
        yield lambda snapshot: None
    elif console.is_terminal:
        with Live(console=console, auto_refresh=False) as live:
            yield lambda snapshot: live.update(_board(snapshot), refresh=True)
    else:
        yield _Lines(console)


class _Lines:
    """One line per change, for an output that is not a terminal."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._previous: Snapshot | None = None

    def __call__(self, snapshot: Snapshot) -> None:
        for line in changes(self._previous, snapshot):
            self._console.print(line)
        self._previous = snapshot


def _board(snapshot: Snapshot) -> Group:
    instance = snapshot.instance
    title = Text.assemble("Instance ", rendering.text(instance.get("id"), "bold"), " ", rendering.status(rendering.outcome(instance)))
    return Group(title, rendering.stages(instance, snapshot.activities))


def changes(before: Snapshot | None, after: Snapshot) -> list[Text]:
    """One line per thing that happened between two snapshots."""
    kinds = rendering.stage_kinds(after.instance.get("workflow"))
    seen = {row.get("stage"): row for row in (before.instance.get("status") or [] if before else [])}
    lines = []
    for row in after.instance.get("status") or []:
        number = row.get("stage")
        name = Text(f"stage {number} ").append_text(
            rendering.text(kinds[number] if isinstance(number, int) and number < len(kinds) else "")
        )
        earlier = seen.get(number)
        if earlier is None:
            lines.append(name.copy().append(" started"))
        if row.get("terminatedAt") and not (earlier or {}).get("terminatedAt"):
            ended = rendering.outcome(row)
            line = name.copy().append(" ").append_text(rendering.status(ended))
            if ended != rendering.SUCCEEDED:
                line.append(": ").append_text(rendering.text(row.get("error")))
            lines.append(line)
    lines += _retries(before, after)
    return lines


def _retries(before: Snapshot | None, after: Snapshot) -> list[Text]:
    stage = after.running_stage()
    known = {_key(call): call for call in before.activities} if before and before.running_stage() == stage else {}
    lines = []
    for call in after.activities:
        earlier = known.get(_key(call), {})
        if call.get("lastFailure") and (call.get("attempt"), call.get("lastFailure")) != (
            earlier.get("attempt"),
            earlier.get("lastFailure"),
        ):
            lines.append(Text(f"stage {stage}: ").append_text(rendering.activity_note(call)))
    return lines


def _key(call: Mapping[str, Any]) -> tuple[object, object]:
    return call.get("name"), call.get("startedAt")
