"""The orchestration's own events (docs/events.md, lifecycle events), derived from the bookkeeping writes.

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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from nats.js import JetStreamContext

from flows.engine.models import Progress

logger = logging.getLogger("flows.events")

TOPIC = "orchestration"
PUBLISH_TIMEOUT_S = 2.0
QUEUE_LIMIT = 10_000


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


def derive(progress: Progress, instance_terminated: bool, stages: dict[int, bool]) -> list[tuple[str, dict[str, Any]]]:
    """(message id, envelope) of every event this write makes true; `instance_terminated` and
    `stages` (number → terminated) describe the rows before it."""
    base = {"id": progress.workflow_id, "instanceID": progress.instance_id}
    key = f"orchestration:{progress.instance_id}"
    events: list[tuple[str, dict[str, Any]]] = []
    if instance_terminated:
        return events
    if not stages and (progress.stages or progress.terminated):
        events.append((f"{key}:started", envelope("STARTED_WORKFLOW", dict(base))))
    for stage in sorted(progress.stages, key=lambda s: s.number):
        payload = {**base, "number": stage.number}
        if stage.number not in stages:
            events.append((f"{key}:{stage.number}:started", envelope("STARTED_WORKFLOW_STAGE", dict(payload))))
        if stage.terminated_at is not None and not stages.get(stage.number, False):
            if stage.error is None:
                events.append((f"{key}:{stage.number}:ended", envelope("SUCCEEDED_WORKFLOW_STAGE", payload)))
            else:
                failed = {**payload, "error": stage.error}
                events.append((f"{key}:{stage.number}:ended", envelope("FAILED_WORKFLOW_STAGE", failed)))
    if progress.terminated:
        if progress.error is None:
            events.append((f"{key}:ended", envelope("SUCCEEDED_WORKFLOW", dict(base))))
        else:
            events.append((f"{key}:ended", envelope("FAILED_WORKFLOW", {**base, "error": progress.error})))
    return events


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

    def __init__(self, subject: str = TOPIC) -> None:
        self.subject = subject
        self._js: JetStreamContext | None = None
        self._local: Deliver | None = None
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(QUEUE_LIMIT)
        self._task: asyncio.Task[None] | None = None

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
                logger.error("lifecycle event queue full: dropped %s", event[1]["type"])

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
                logger.warning("publishing %s to %s failed: %s", event["type"], self.subject, error)
        if self._local is not None:
            try:
                await self._local(event, message_id)
            except Exception:
                logger.exception("in-process handling of %s failed", event["type"])

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
