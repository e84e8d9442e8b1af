"""Firing triggers: from a Formance event envelope to started instances and recorded occurrences.

Every transport hands each message to the `EventHandler`: HTTP ingestion and NATS as received
(`receive`, raw bytes), the sandbox stack and Flows' own lifecycle events as decoded envelopes
(`handle`). Then:

1. The envelope must be a JSON object with a non-empty string `type` and a `payload`; `version`
   and `app`, when present, strings; and, as a whole, a document every backend can store
   (flows.documents: at most 64 levels deep, no lone surrogate, no NUL, no NaN, numbers within a
   float's range, as Go decodes them). Otherwise it is `InvalidEnvelope`.
2. Live triggers on that `type` whose `version` is unset or equal to the envelope's are selected;
   triggers of a soft-deleted workflow never fire (docs/differences.md#6): the `start`
   collaborator (flows/application/workflows.py `Workflows.start`) starts only live workflows.
3. Each trigger's filter (compiled once per trigger and source, cached) runs against
   `{"event": payload}`, its `link()` limited to the envelope's `app` (flows.triggers.link);
   anything but `true`, or an evaluation error, skips the trigger: nothing is recorded, the
   error is logged. A filter over its budget (flows.triggers.expr.budget) is not an answer about
   the event but a broken trigger: it records a failed occurrence.
4. For each match, every variable is evaluated and converted to a string (docs/triggers.md). An
   evaluation error, or a value no database can store (a lone surrogate, NUL), records a failed
   occurrence carrying the message, and no instance is started (docs/differences.md#8).
5. Otherwise the trigger's workflow is started (`start`) with those variables under an instance id
   derived from the trigger and the de-duplication key, its instance row inserted, and the
   occurrence recorded with `workflowInstanceID`.

Each trigger is evaluated on its own: an unexpected failure of one (its filter, variables, the
start of its instance) records a failed occurrence for that trigger, and the next triggers of the
event still fire. Only an outage (database, Temporal unavailable) stops the event: it is raised
for the transport to retry, and the triggers already fired are not fired again (de-duplication).

Dead letters: a message that cannot be processed, now or on any redelivery (an invalid envelope,
an unexpected failure that is not an outage, a trigger whose failure could not even be recorded),
is kept as a dead letter (`GET /v2/events/dead-letters`): its source, message id, reason, and the
raw message cut to `MAX_RAW_BYTES` and escaped where a database could not hold it. Its id derives
from the source and message id, so a redelivered message keeps one dead letter. The transport then
gets `UnprocessableEvent`: HTTP answers 400, NATS terminates the message (never redelivered).

De-duplication key: the payload `id` for SAVED_PAYMENT and SAVED_ACCOUNT (a trigger fires at most
once per payment or account, durably: a unique (trigger, key) constraint), otherwise the message
id (a redelivered message is processed once). Because the instance id is derived from the same
key, a redelivery after a crash between starting the workflow and recording the occurrence finds
the instance already started and only records the occurrence.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import hashlib
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flows.documents import (
    DocumentError,
    check_document,
    check_text,
    parse_json,
    storable_bytes,
    storable_text,
)
from flows.observability.metrics import EVENTS_RECEIVED, TRIGGER_EVALUATIONS, TRIGGER_OCCURRENCES
from flows.outages import dependency_down
from flows.stack.client import StackClient
from flows.storage.records import DeadLetterRecord, InstanceRecord, OccurrenceRecord, TriggerRecord
from flows.storage.repository import Repository
from flows.triggers import expr, link
from flows.triggers.cache import TriggerTypes
from flows.triggers.expr.values import from_json

logger = logging.getLogger("flows.triggers")

DEDUP_BY_PAYLOAD_ID = frozenset({"SAVED_PAYMENT", "SAVED_ACCOUNT"})
"""Event types that fire a trigger at most once per payload `id` (docs/triggers.md, de-duplication)."""

HTTP, NATS, SANDBOX, LIFECYCLE = "http", "nats", "sandbox", "lifecycle"
"""Where a message came from, as its dead letter says."""

MAX_RAW_BYTES = 64 * 1024
"""How much of a dead-lettered message is kept."""
MAX_REASON = 4096
"""How much of a failure's text an occurrence or a dead letter keeps (characters)."""
OFF_LOOP_BYTES = 256 * 1024
"""A larger message is decoded and checked in a thread: it takes milliseconds."""
MAX_MESSAGE_ID = 1024
"""How much of a message id a dead letter shows (characters)."""
MAX_KEY_BYTES = 512
"""A longer de-duplication key is stored as its digest (an index entry has a size limit)."""

StartInstance = Callable[[str, dict[str, str], str, str], Awaitable[InstanceRecord | None]]
"""Starts an instance of a workflow (id, variables, de-duplication key, trigger id) for a trigger that fired;
None when the workflow is not live, and the trigger does not fire."""

_DEAD_LETTERS = uuid.UUID("0b7d6f0e-5f2a-4f43-9a53-2d1f4c7a8e61")
_CACHE_LIMIT = 4096


class UnprocessableEvent(ValueError):
    """The message cannot be processed, now or on any redelivery; it is kept as a dead letter."""


class InvalidEnvelope(UnprocessableEvent):
    """The message is not a Formance event envelope."""


def decode_envelope(raw: bytes) -> dict[str, Any]:
    """The envelope in a message's bytes (step 1 of the module's docstring)."""
    try:
        document = parse_json(raw)
    except DocumentError as error:
        raise InvalidEnvelope(f"the event envelope {error}") from None
    return _envelope_shape(document)


def validate_envelope(envelope: Any) -> dict[str, Any]:
    """The envelope itself when it has the shape of a Formance event envelope and is storable."""
    _envelope_shape(envelope)
    try:
        check_document(envelope)
    except DocumentError as error:
        raise InvalidEnvelope(f"the event envelope {error}") from None
    return envelope


def _envelope_shape(envelope: Any) -> dict[str, Any]:
    if not isinstance(envelope, dict):
        raise InvalidEnvelope("the event envelope must be a JSON object")
    event_type = envelope.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEnvelope("the event envelope needs a non-empty string 'type'")
    if "payload" not in envelope:
        raise InvalidEnvelope("the event envelope needs a 'payload'")
    for optional in ("version", "app"):
        value = envelope.get(optional)
        if value is not None and not isinstance(value, str):
            raise InvalidEnvelope(f"the event envelope's '{optional}' must be a string")
    return envelope


def as_expression_input(payload: Any) -> Any:
    """A copy of the payload with its numbers as expressions see them (flows/triggers/expr/values.py);
    the envelope itself is recorded unchanged."""
    try:
        return from_json(copy.deepcopy(payload))
    except ValueError as error:
        raise InvalidEnvelope(f"the event envelope's payload is invalid: {error}") from None


def _storable_key(key: str) -> str:
    # A text column of PostgreSQL cannot hold NUL, and an index entry is limited in size: such a
    # key is stored as its digest.
    encoded = key.encode("utf-8", "surrogatepass")
    if "\x00" in key or len(encoded) > MAX_KEY_BYTES:
        return "sha256:" + hashlib.sha256(encoded).hexdigest()
    return storable_text(key)


def dedup_key(envelope: dict[str, Any], message_id: str) -> str:
    if envelope["type"] in DEDUP_BY_PAYLOAD_ID:
        payload = envelope["payload"]
        object_id = payload.get("id") if isinstance(payload, dict) else None
        if object_id is not None:
            text = object_id if isinstance(object_id, str) else json.dumps(object_id)
            return _storable_key("id:" + text)
    return _storable_key("message:" + message_id)


def _failure(error: BaseException) -> str:
    """An unexpected failure as an occurrence's or dead letter's reason."""
    return _reason(f"internal error: {type(error).__name__}: {error}")


def _services(app: str | None) -> tuple[str, ...] | None:
    """What `link()` may read for an event of `app`: that service only (none given: any)."""
    return (app,) if app else None


def _reason(text: str) -> str:
    return storable_text(text)[:MAX_REASON]


async def _decoded(raw: bytes) -> dict[str, Any]:
    if len(raw) > OFF_LOOP_BYTES:
        return await asyncio.to_thread(decode_envelope, raw)
    return decode_envelope(raw)


async def _validated(envelope: Any) -> dict[str, Any]:
    return validate_envelope(envelope)


def _raw_of(envelope: Any) -> bytes:
    """An in-process envelope as the bytes of a dead letter (ASCII: escapes for the rest)."""
    try:
        return json.dumps(envelope, default=repr).encode()
    except (ValueError, RecursionError):
        return repr(type(envelope)).encode()


class EventHandler:
    """Matches events against the triggers and fires them (see the module's docstring)."""

    def __init__(
        self,
        repository: Repository,
        start: StartInstance,
        trigger_types: TriggerTypes,
        stack: StackClient | None = None,
        on_occurrence: Callable[[OccurrenceRecord], None] | None = None,
    ) -> None:
        self.repository = repository
        self.start = start
        self.trigger_types = trigger_types
        """Skips the trigger query for event types no live trigger listens to (flows.triggers.cache)."""
        self.stack = stack
        """Where `link()` fetches resources (docs/triggers.md); None: every link() fails."""
        self._programs: dict[tuple[str, str], expr.Program] = {}
        self.on_occurrence = on_occurrence
        """Told of every recorded occurrence (SUCCEEDED/FAILED_TRIGGER events); must not block."""

    async def receive(self, raw: bytes, message_id: str, *, source: str) -> list[OccurrenceRecord]:
        """Fire the triggers matching a message as a transport received it (an HTTP body, a NATS
        message's data); the occurrences recorded by this call. `UnprocessableEvent` once it is
        dead-lettered; an outage is raised as is (retry later)."""
        return await self._processed(source, message_id, _decoded(raw), lambda: raw)

    async def handle(self, envelope: Any, message_id: str, *, source: str) -> list[OccurrenceRecord]:
        """`receive` for an envelope produced in this process (sandbox, lifecycle events)."""
        return await self._processed(source, message_id, _validated(envelope), lambda: _raw_of(envelope))

    def sink(self, source: str) -> Callable[[Any, str], Awaitable[list[OccurrenceRecord]]]:
        """`handle` for an in-process source, e.g. as the sandbox stack's event sink."""
        return functools.partial(self.handle, source=source)

    async def dead_letter(self, source: str, message_id: str, reason: str, raw: bytes) -> DeadLetterRecord:
        """Keep a message that cannot be processed; once per source and message id."""
        storable_id = storable_text(message_id)
        shown_id = storable_id[:MAX_MESSAGE_ID]
        record = DeadLetterRecord(
            id=str(uuid.uuid5(_DEAD_LETTERS, f"{source}\n{storable_id}")),
            received_at=datetime.now(UTC),
            source=source,
            message_id=shown_id,
            reason=_reason(reason),
            raw=storable_bytes(raw[:MAX_RAW_BYTES]),
            raw_size=len(raw),
        )
        if await self.repository.insert_dead_letter(record):
            logger.warning("dead letter %s (%s message %s): %s", record.id, source, shown_id, record.reason)
        return record

    async def _processed(
        self,
        source: str,
        message_id: str,
        envelope: Coroutine[Any, Any, dict[str, Any]],
        raw: Callable[[], bytes],
    ) -> list[OccurrenceRecord]:
        """Fire for the `envelope` decoded; what no redelivery would fix becomes a dead letter
        and `UnprocessableEvent`, an outage passes through."""
        EVENTS_RECEIVED.labels(source).inc()
        try:
            return await self._fire_all(await envelope, message_id)
        except UnprocessableEvent as error:
            await self.dead_letter(source, message_id, str(error), raw())
            raise
        except Exception as error:
            if dependency_down(error):
                raise
            logger.exception("%s message %s could not be processed", source, message_id)
            letter = await self.dead_letter(source, message_id, _failure(error), raw())
            raise UnprocessableEvent(f"the event could not be processed (dead letter {letter.id})") from error

    def _recorded(self, occurrence: OccurrenceRecord) -> OccurrenceRecord:
        TRIGGER_OCCURRENCES.labels("failed" if occurrence.error is not None else "succeeded").inc()
        if self.on_occurrence is not None:
            try:
                self.on_occurrence(occurrence)
            except Exception:
                logger.exception("reporting occurrence %s failed", occurrence.id)
        return occurrence

    async def _program(self, trigger_id: str, source: str) -> expr.Program:
        key = (trigger_id, source)
        program = self._programs.get(key)
        if program is None:
            if len(self._programs) >= _CACHE_LIMIT:
                self._programs.clear()
            program = await link.compile_expression(source)
            self._programs[key] = program
        return program

    async def matches(self, trigger: TriggerRecord, payload: Any, app: str | None = None) -> bool:
        """Whether the trigger's filter holds for `payload` (an event of the service `app`); an
        error skips the trigger, except going over budget (`ExprError` raised)."""
        if not trigger.filter:
            TRIGGER_EVALUATIONS.labels("matched").inc()
            return True
        try:
            program = await self._program(trigger.id, trigger.filter)
            result = await link.run(program, trigger.filter, payload, self.stack, services=_services(app))
        except expr.ExprError as error:
            TRIGGER_EVALUATIONS.labels("error").inc()
            if error.over_budget:
                # A filter that never finishes is the trigger's fault, not the event's: recorded.
                raise
            logger.info("trigger %s skipped: filter error: %s", trigger.id, error)
            return False
        TRIGGER_EVALUATIONS.labels("matched" if result is True else "unmatched").inc()
        if result is not True:
            logger.debug("trigger %s skipped: filter gave %r", trigger.id, result)
            return False
        return True

    async def variables(self, trigger: TriggerRecord, payload: Any, app: str | None = None) -> dict[str, str]:
        """The trigger's variables as strings; raises `ExprError` on the first failing one, and
        `DocumentError` for a value no database can store."""
        variables: dict[str, str] = {}
        for name, source in (trigger.vars or {}).items():
            program = await self._program(trigger.id, source)
            value = await link.run_variable(program, source, payload, self.stack, services=_services(app))
            try:
                check_text(value)
            except DocumentError as error:
                raise DocumentError(f"variable '{name}' {error}") from None
            variables[name] = value
        return variables

    async def _fire_all(self, envelope: dict[str, Any], message_id: str) -> list[OccurrenceRecord]:
        if not await self.trigger_types.may_match(envelope["type"]):
            return []
        candidates = await self.repository.matching_triggers(envelope["type"], envelope.get("version"))
        if not candidates:
            return []
        payload = as_expression_input(envelope["payload"])
        key = dedup_key(envelope, message_id)
        recorded: list[OccurrenceRecord] = []
        unrecorded: list[str] = []
        for trigger in candidates:
            try:
                occurrence = await self._evaluate(trigger, envelope, payload, key)
            except Exception as error:
                if dependency_down(error):
                    raise
                logger.exception("trigger %s failed and its failure could not be recorded", trigger.id)
                unrecorded.append(f"trigger {trigger.id}: {_failure(error)}")
                continue
            if occurrence is not None:
                recorded.append(occurrence)
        if unrecorded:
            # The other triggers fired; the event is kept to show what these could not record.
            raise UnprocessableEvent(_reason("; ".join(unrecorded)))
        return recorded

    async def _evaluate(self, trigger: TriggerRecord, envelope: dict[str, Any], payload: Any, key: str) -> OccurrenceRecord | None:
        """One trigger on one event: its occurrence, failed if anything unexpected failed."""
        try:
            if not await self.matches(trigger, payload, envelope.get("app")):
                return None
            return await self._fire(trigger, envelope, payload, key)
        except expr.ExprError as error:
            logger.info("trigger %s failed: filter over its budget: %s", trigger.id, error)
            return await self._record_failure(trigger, envelope, key, f"filter: {error}")
        except Exception as error:
            if dependency_down(error):
                raise
            logger.exception("trigger %s failed", trigger.id)
            return await self._record_failure(trigger, envelope, key, _failure(error))

    def _occurrence(self, trigger: TriggerRecord, envelope: dict[str, Any]) -> OccurrenceRecord:
        return OccurrenceRecord(id=str(uuid.uuid4()), trigger_id=trigger.id, date=datetime.now(UTC), event=copy.deepcopy(envelope))

    async def _record_failure(self, trigger: TriggerRecord, envelope: dict[str, Any], key: str, reason: str) -> OccurrenceRecord | None:
        failed = replace(self._occurrence(trigger, envelope), error=_reason(reason))
        return self._recorded(failed) if await self.repository.insert_occurrence(failed, key) else None

    async def _fire(self, trigger: TriggerRecord, envelope: dict[str, Any], payload: Any, key: str) -> OccurrenceRecord | None:
        if await self.repository.has_occurrence(trigger.id, key):
            logger.debug("trigger %s already fired for %s", trigger.id, key)
            return None
        try:
            variables = await self.variables(trigger, payload, envelope.get("app"))
        except (expr.ExprError, DocumentError) as error:
            logger.info("trigger %s failed: variable error: %s", trigger.id, error)
            return await self._record_failure(trigger, envelope, key, str(error))
        instance = await self.start(trigger.workflow_id, variables, f"trigger:{trigger.id}:{key}", trigger.id)
        if instance is None:
            return None
        fired = replace(self._occurrence(trigger, envelope), workflow_instance_id=instance.id)
        if not await self.repository.insert_occurrence(fired, key):
            return None
        logger.info("trigger %s fired: instance %s", trigger.id, instance.id)
        return self._recorded(fired)
