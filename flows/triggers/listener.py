"""Firing triggers: from a Formance event envelope to started instances and recorded occurrences.

Every transport (HTTP ingestion, later NATS) hands each message to `EventHandler.handle`:

1. The envelope must be a JSON object with a non-empty string `type` and a `payload`
   (`InvalidEnvelope` otherwise). `version`, when present, must be a string.
2. Live triggers on that `type` whose `version` is unset or equal to the envelope's are selected;
   triggers of a soft-deleted workflow never fire (design, "Where we differ" 6).
3. Each trigger's filter (compiled once per trigger and source, cached) runs against
   `{"event": payload}`; anything but `true`, or an evaluation error, skips the trigger: nothing is
   recorded (reference §9.2), the error is logged.
4. For each match, every variable is evaluated and converted to a string (reference §9.6). An
   evaluation error records a failed occurrence carrying the expr-lang message, and no instance
   is started (design, "Where we differ" 8).
5. Otherwise the trigger's workflow is started with those variables under an instance id derived
   from the trigger and the de-duplication key, its instance row inserted, and the occurrence
   recorded with `workflowInstanceID`.

De-duplication key: the payload `id` for SAVED_PAYMENT and SAVED_ACCOUNT (a trigger fires at most
once per payment or account, durably: a unique (trigger, key) constraint), otherwise the message
id (a redelivered message is processed once). Because the instance id is derived from the same
key, a redelivery after a crash between starting the workflow and recording the occurrence finds
the instance already started and only records the occurrence.
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from collections.abc import Callable
from typing import Any

from flows.engine.client import Engine
from flows.engine.instances import start_instance
from flows.stack.client import StackClient
from flows.storage.records import OccurrenceRecord, TriggerRecord
from flows.storage.repository import Repository
from flows.triggers import expr, link
from flows.triggers.cache import TriggerTypes

logger = logging.getLogger("flows.triggers")

DEDUP_BY_PAYLOAD_ID = frozenset({"SAVED_PAYMENT", "SAVED_ACCOUNT"})
"""Event types that fire a trigger at most once per payload `id` (reference §9.2)."""

_CACHE_LIMIT = 4096


class InvalidEnvelope(ValueError):
    """The message is not a Formance event envelope."""


def validate_envelope(envelope: Any) -> dict[str, Any]:
    """The envelope itself when it has the shape of a Formance event envelope."""
    if not isinstance(envelope, dict):
        raise InvalidEnvelope("the event envelope must be a JSON object")
    event_type = envelope.get("type")
    if not isinstance(event_type, str) or not event_type:
        raise InvalidEnvelope("the event envelope needs a non-empty string 'type'")
    if "payload" not in envelope:
        raise InvalidEnvelope("the event envelope needs a 'payload'")
    version = envelope.get("version")
    if version is not None and not isinstance(version, str):
        raise InvalidEnvelope("the event envelope's 'version' must be a string")
    return envelope


def as_go_json(value: Any) -> Any:
    """A copy of a decoded JSON document as Go decodes it into `any`: every number a float64."""
    if type(value) is int:
        return float(value)
    if isinstance(value, dict):
        return {key: as_go_json(child) for key, child in value.items()}
    if isinstance(value, list):
        return [as_go_json(child) for child in value]
    return value


def _storable_key(key: str) -> str:
    # A text column of PostgreSQL cannot hold NUL: such a key is stored as its digest.
    if "\x00" in key:
        return "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def dedup_key(envelope: dict[str, Any], message_id: str) -> str:
    if envelope["type"] in DEDUP_BY_PAYLOAD_ID:
        payload = envelope["payload"]
        object_id = payload.get("id") if isinstance(payload, dict) else None
        if object_id is not None:
            text = object_id if isinstance(object_id, str) else json.dumps(object_id)
            return _storable_key("id:" + text)
    return _storable_key("message:" + message_id)


class EventHandler:
    """Matches events against the triggers and fires them (see the module's docstring)."""

    def __init__(self, repository: Repository, engine: Engine, stack: StackClient | None = None) -> None:
        self.repository = repository
        self.engine = engine
        self.stack = stack
        """Where `link()` fetches resources (reference §9.5); None: every link() fails."""
        self._programs: dict[tuple[str, str], expr.Program] = {}
        self.trigger_types = TriggerTypes(repository)
        """Skips the trigger query for event types no live trigger listens to (flows.triggers.cache)."""
        self.on_occurrence: Callable[[OccurrenceRecord], None] | None = None
        """Told of every recorded occurrence (SUCCEEDED/FAILED_TRIGGER events); must not block."""

    def _recorded(self, occurrence: OccurrenceRecord) -> OccurrenceRecord:
        if self.on_occurrence is not None:
            try:
                self.on_occurrence(occurrence)
            except Exception:
                logger.exception("reporting occurrence %s failed", occurrence.id)
        return occurrence

    def _program(self, trigger_id: str, source: str) -> expr.Program:
        key = (trigger_id, source)
        program = self._programs.get(key)
        if program is None:
            if len(self._programs) >= _CACHE_LIMIT:
                self._programs.clear()
            program = expr.compile(source)
            self._programs[key] = program
        return program

    async def _run(self, trigger_id: str, source: str, payload: Any) -> Any:
        return await link.run(self._program(trigger_id, source), source, payload, self.stack)

    async def matches(self, trigger: TriggerRecord, payload: Any) -> bool:
        if not trigger.filter:
            return True
        try:
            result = await self._run(trigger.id, trigger.filter, payload)
        except expr.ExprError as error:
            logger.info("trigger %s skipped: filter error: %s", trigger.id, error)
            return False
        if result is not True:
            logger.debug("trigger %s skipped: filter gave %r", trigger.id, result)
            return False
        return True

    async def variables(self, trigger: TriggerRecord, payload: Any) -> dict[str, str]:
        """The trigger's variables as strings; raises `ExprError` on the first failing one."""
        return {
            name: expr.to_variable_string(await self._run(trigger.id, source, payload))
            for name, source in (trigger.vars or {}).items()
        }

    async def handle(self, envelope: Any, message_id: str) -> list[OccurrenceRecord]:
        """Fire the triggers matching `envelope`; the occurrences recorded by this call."""
        envelope = validate_envelope(envelope)
        if not await self.trigger_types.may_match(envelope["type"]):
            return []
        candidates = await self.repository.matching_triggers(envelope["type"], envelope.get("version"))
        if not candidates:
            return []
        payload = as_go_json(envelope["payload"])
        recorded: list[OccurrenceRecord] = []
        for trigger in candidates:
            if not await self.matches(trigger, payload):
                continue
            occurrence = await self._fire(trigger, envelope, payload, message_id)
            if occurrence is not None:
                recorded.append(occurrence)
        return recorded

    async def _fire(
        self, trigger: TriggerRecord, envelope: dict[str, Any], payload: Any, message_id: str
    ) -> OccurrenceRecord | None:
        key = dedup_key(envelope, message_id)
        if await self.repository.has_occurrence(trigger.id, key):
            logger.debug("trigger %s already fired for %s", trigger.id, key)
            return None
        date = datetime.now(UTC)
        occurrence = OccurrenceRecord(
            id=str(uuid.uuid4()), trigger_id=trigger.id, date=date, event=copy.deepcopy(envelope)
        )
        try:
            variables = await self.variables(trigger, payload)
        except expr.ExprError as error:
            logger.info("trigger %s failed: variable error: %s", trigger.id, error)
            failed = replace(occurrence, error=str(error))
            return self._recorded(failed) if await self.repository.insert_occurrence(failed, key) else None
        workflow = await self.repository.get_workflow(trigger.workflow_id)
        if workflow is None or workflow.deleted_at is not None:
            return None
        instance, _started = await start_instance(
            self.engine, self.repository, workflow, variables, f"trigger:{trigger.id}:{key}"
        )
        fired = replace(occurrence, workflow_instance_id=instance.id)
        if not await self.repository.insert_occurrence(fired, key):
            return None
        logger.info("trigger %s fired: instance %s", trigger.id, instance.id)
        return self._recorded(fired)
