"""The orchestration's own events (docs/events.md, lifecycle events), derived from the bookkeeping
writes; and from the same transitions, the instance log lines and metrics (`observe`,
docs/operations.md).

Each progress write of an instance (the `RecordProgress` local activity) is compared with what its
rows said before, in the same transaction, so a retried write publishes nothing twice:

* STARTED_WORKFLOW `{id, instanceID}`: the first write (no stage row yet);
* STARTED_WORKFLOW_STAGE `{id, instanceID, number}`: a stage row that did not exist;
* SUCCEEDED_WORKFLOW_STAGE / FAILED_WORKFLOW_STAGE (`+ error`): a stage row newly terminated;
* SUCCEEDED_WORKFLOW / FAILED_WORKFLOW (`+ error`): the instance row newly terminated.

And, from the trigger handler, SUCCEEDED_TRIGGER `{id: occurrenceID, triggerID,
workflowInstanceID}` / FAILED_TRIGGER `{id, triggerID, error}` for each recorded occurrence.

`id` is the workflow (configuration) id. The envelope is `{"idempotency_key": "", "date", "app":
"orchestration", "version": "v2", "type", "payload"}`. After the write committed, the events go,
in order, through one background queue: to NATS (JetStream publish on the topic `orchestration`
mapped by `--publisher-topic-mapping`, else `<stack>.orchestration`, with a bounded timeout and a
`Nats-Msg-Id` so that the stream drops duplicates) and into the in-process `EventHandler`, so a
trigger on SUCCEEDED_WORKFLOW of one workflow starts another. Publishing never fails or holds up
the instance: errors are logged and the event is dropped; events still queued when the process
dies are lost (at most once).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from flows.engine.models import CANCELED, Progress, StageProgress
from flows.observability import metrics

if TYPE_CHECKING:
    from nats.js import JetStreamContext

logger = logging.getLogger("flows.events")
instance_logger = logging.getLogger("flows.instances")

TOPIC = "orchestration"
PUBLISH_TIMEOUT_S = 2.0
QUEUE_LIMIT = 10_000
LOG_EVERY_S = 10.0
"""A publisher that keeps losing events (NATS down, a full queue) says so at most this often,
with how many it lost so far."""


def envelope(event_type: str, payload: dict[str, Any], date: datetime | None = None) -> dict[str, Any]:
    when = (date or datetime.now(UTC)).astimezone(UTC)
    return {
        "idempotency_key": "",
        "date": when.isoformat().replace("+00:00", "Z"),
        "app": "orchestration",
        "version": "v2",
        "type": event_type,
        "payload": payload,
    }


@dataclass(frozen=True)
class Transition:
    """One thing a progress write made true: the instance started or ended, a stage started or ended."""

    kind: Literal["instance_started", "stage_started", "stage_ended", "instance_ended"]
    stage: StageProgress | None = None


def transitions(progress: Progress, instance_terminated: bool, stages: dict[int, bool]) -> list[Transition]:
    """What this write makes true, in order; `instance_terminated` and `stages` (number →
    terminated) describe the rows before it, so a retried write makes nothing true twice."""
    found: list[Transition] = []
    if instance_terminated:
        return found
    if not stages and (progress.stages or progress.terminated):
        found.append(Transition("instance_started"))
    for stage in sorted(progress.stages, key=lambda s: s.number):
        if stage.number not in stages:
            found.append(Transition("stage_started", stage))
        if stage.terminated_at is not None and not stages.get(stage.number, False):
            found.append(Transition("stage_ended", stage))
    if progress.terminated:
        found.append(Transition("instance_ended"))
    return found


def derive(progress: Progress, instance_terminated: bool, stages: dict[int, bool]) -> list[tuple[str, dict[str, Any]]]:
    """(message id, envelope) of every event this write makes true (see `transitions`)."""
    base = {"id": progress.workflow_id, "instanceID": progress.instance_id}
    key = f"orchestration:{progress.instance_id}"
    events: list[tuple[str, dict[str, Any]]] = []
    for transition in transitions(progress, instance_terminated, stages):
        stage = transition.stage
        if transition.kind == "instance_started":
            events.append((f"{key}:started", envelope("STARTED_WORKFLOW", dict(base))))
        elif transition.kind == "stage_started" and stage is not None:
            events.append((f"{key}:{stage.number}:started", envelope("STARTED_WORKFLOW_STAGE", {**base, "number": stage.number})))
        elif transition.kind == "stage_ended" and stage is not None:
            payload = {**base, "number": stage.number}
            if stage.error is None:
                events.append((f"{key}:{stage.number}:ended", envelope("SUCCEEDED_WORKFLOW_STAGE", payload)))
            else:
                events.append((f"{key}:{stage.number}:ended", envelope("FAILED_WORKFLOW_STAGE", {**payload, "error": stage.error})))
        elif progress.error is None:
            events.append((f"{key}:ended", envelope("SUCCEEDED_WORKFLOW", dict(base))))
        else:
            events.append((f"{key}:ended", envelope("FAILED_WORKFLOW", {**base, "error": progress.error})))
    return events


def outcome_of(error: str | None) -> str:
    """succeeded, failed or aborted: how an instance or a stage ended."""
    if error is None:
        return "succeeded"
    return "aborted" if error == CANCELED else "failed"


def stage_type(stage: StageProgress) -> str:
    """The stage's type as configs name it (`RunWaitEvent` → wait_event); `unresolved` for a
    stage that failed before it started (its parameters did not resolve)."""
    if stage.name is None:
        return "unresolved"
    return re.sub(r"(?<!^)(?=[A-Z])", "_", stage.name.removeprefix("Run")).lower()


def _stage_shown(stage: StageProgress) -> str:
    """`1 (send)`; the number alone for a stage that failed before it started."""
    return f"{stage.number} ({stage_type(stage)})" if stage.name is not None else str(stage.number)


def observe(progress: Progress, instance_terminated: bool, stages: dict[int, bool]) -> None:
    """Log and count what this write makes true (docs/operations.md): once, like the events."""
    ids = {"instance_id": progress.instance_id, "workflow_id": progress.workflow_id}
    about = f"instance {progress.instance_id} of workflow {progress.workflow_id}"
    for transition in transitions(progress, instance_terminated, stages):
        stage = transition.stage
        if transition.kind == "instance_started":
            metrics.INSTANCES_STARTED.inc()
            instance_logger.info("%s started", about, extra=ids)
        elif transition.kind == "stage_started" and stage is not None:
            fields = {**ids, "stage": stage.number, "stage_type": stage_type(stage)}
            instance_logger.debug("%s: stage %s started", about, _stage_shown(stage), extra=fields)
        elif transition.kind == "stage_ended" and stage is not None and stage.terminated_at is not None:
            kind, outcome = stage_type(stage), outcome_of(stage.error)
            seconds = (stage.terminated_at - stage.started_at).total_seconds()
            metrics.STAGE_DURATION.labels(kind, outcome).observe(max(seconds, 0.0))
            fields = {**ids, "stage": stage.number, "stage_type": kind, "outcome": outcome, "error": stage.error}
            level = logging.INFO if outcome == "failed" else logging.DEBUG
            said = f": {stage.error}" if outcome == "failed" else ""
            instance_logger.log(level, "%s: stage %s %s%s", about, _stage_shown(stage), outcome, said, extra=fields)
        elif transition.kind == "instance_ended":
            outcome = outcome_of(progress.error)
            metrics.INSTANCES_ENDED.labels(outcome).inc()
            said = f": {progress.error}" if outcome == "failed" else ""
            instance_logger.info("%s %s%s", about, outcome, said, extra={**ids, "outcome": outcome, "error": progress.error})


def occurrence_event(occurrence: Any) -> tuple[str, dict[str, Any]]:
    """SUCCEEDED_TRIGGER `{id: occurrenceID, triggerID, workflowInstanceID}` or FAILED_TRIGGER
    `{id, triggerID, error}` for a recorded occurrence."""
    key = f"orchestration:occurrence:{occurrence.id}"
    if occurrence.error is None:
        payload = {
            "id": occurrence.id,
            "triggerID": occurrence.trigger_id,
            "workflowInstanceID": occurrence.workflow_instance_id,
        }
        return key, envelope("SUCCEEDED_TRIGGER", payload)
    payload = {"id": occurrence.id, "triggerID": occurrence.trigger_id, "error": occurrence.error}
    return key, envelope("FAILED_TRIGGER", payload)


def map_topic(topic: str, mapping: list[str], stack: str) -> str:
    """`--publisher-topic-mapping from:to` (exact `from` first, then `*`); without a mapping,
    the stack's subject `<stack>.<topic>` (the deployment's `*:<stack>.orchestration`)."""
    pairs = dict(entry.split(":", 1) for entry in mapping if ":" in entry)
    if topic in pairs:
        return pairs[topic]
    if "*" in pairs:
        return pairs["*"]
    return f"{stack}.{topic}" if stack else topic


Deliver = Callable[[dict[str, Any], str], Awaitable[object]]
"""In-process delivery of an event: `(envelope, message id)`, e.g. the trigger handler's sink."""


class LifecyclePublisher:
    """A background queue delivering lifecycle events to NATS and the in-process handler.

    Created before the trigger handler (which reports its occurrences here) and started with it:
    the two refer to each other, so the handler is given to `start`, not to the constructor."""

    def __init__(self, subject: str = TOPIC, *, queue_limit: int = QUEUE_LIMIT) -> None:
        self.subject = subject
        self._js: JetStreamContext | None = None
        self._local: Deliver | None = None
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(queue_limit)
        self._task: asyncio.Task[None] | None = None
        self.lost = 0
        """Events dropped (queue full) or not published (NATS failed) since the start."""
        self._reported = -LOG_EVERY_S

    def start(self, js: JetStreamContext | None = None, local: Deliver | None = None) -> None:
        """Deliver from now on to JetStream `js` and `local`, each when given."""
        if self._task is None:
            self._js, self._local = js, local
            self._task = asyncio.create_task(self._run())

    def emit(self, events: list[tuple[str, dict[str, Any]]]) -> None:
        """Queue events; never blocks (a full queue drops them, logged)."""
        for event in events:
            try:
                self._queue.put_nowait(event)
            except asyncio.QueueFull:
                self._lost(logging.ERROR, f"event queue of {self.subject} full: dropped {event[1]['type']}")

    async def _run(self) -> None:
        while True:
            item = await self._queue.get()
            if item is None:
                return
            await self._deliver(*item)

    async def _deliver(self, message_id: str, event: dict[str, Any]) -> None:
        if self._js is not None:
            try:
                await self._js.publish(
                    self.subject,
                    json.dumps(event).encode(),
                    timeout=PUBLISH_TIMEOUT_S,
                    headers={"Nats-Msg-Id": message_id},
                )
            except Exception as error:  # noqa: BLE001  (a lost lifecycle event must not fail the instance)
                self._lost(logging.WARNING, f"publishing {event['type']} to {self.subject} failed: {error}")
        if self._local is not None:
            try:
                await self._local(event, message_id)
            except Exception:
                logger.exception("in-process handling of %s failed", event["type"])

    def _lost(self, level: int, what: str) -> None:
        self.lost += 1
        now = time.monotonic()
        if now - self._reported >= LOG_EVERY_S:
            self._reported = now
            logger.log(level, "%s (%d event(s) lost so far)", what, self.lost)

    async def close(self) -> None:
        """Deliver what is queued (bounded), then stop."""
        if self._task is None:
            return
        with contextlib.suppress(asyncio.QueueFull):
            self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=5)
        except (TimeoutError, asyncio.CancelledError):
            self._task.cancel()
        self._task = None
