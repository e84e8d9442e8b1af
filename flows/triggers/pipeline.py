"""The event pipeline of a `serve`/`worker` process: the NATS connection when configured, the
JetStream consumer of `--topics`, the lifecycle publisher (NATS and in process) and, with
`--audit-enabled`, the publisher of the API's AUDIT events (NATS; flows/api/audit.py).

Made before the trigger handler, which reports its occurrences to `occurrence_recorded`, then
started with that handler: it consumes the stack's events into it and delivers Flows' own
lifecycle events to it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from flows.engine.lifecycle import TOPIC, LifecyclePublisher, map_topic, occurrence_event
from flows.settings import Settings
from flows.storage.records import OccurrenceRecord
from flows.triggers.listener import LIFECYCLE, EventHandler

if TYPE_CHECKING:
    from flows.triggers import nats as nats_transport

logger = logging.getLogger("flows.triggers")

AUDIT_TOPIC = "audit-events"
AUDIT_QUEUE_LIMIT = 1_000
"""AUDIT events waiting for NATS; beyond, they are dropped. An event holds up to two 64 KiB bodies."""


class Pipeline:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.publisher = LifecyclePublisher(map_topic(TOPIC, settings.publisher_topic_mapping, settings.stack))
        self.audit: LifecyclePublisher | None = None
        """With `--audit-enabled`: the AUDIT events of the API's requests, to NATS only."""
        if settings.audit_enabled:
            subject = map_topic(AUDIT_TOPIC, settings.publisher_topic_mapping, settings.stack)
            self.audit = LifecyclePublisher(subject, queue_limit=AUDIT_QUEUE_LIMIT)
        self.connection: Any | None = None
        self.consumer: nats_transport.Consumer | None = None

    def occurrence_recorded(self, occurrence: OccurrenceRecord) -> None:
        """The trigger handler's `on_occurrence`: SUCCEEDED/FAILED_TRIGGER go out with the rest."""
        self.publisher.emit([occurrence_event(occurrence)])

    async def start(self, handler: EventHandler, *, consume: bool = True) -> None:
        """Connect to NATS when configured, publish, and consume `--topics` when `consume`."""
        settings = self.settings
        url = settings.nats_address()
        js = None
        if url:
            # Imported here: the NATS client costs memory in every process, and only a
            # configured NATS URL uses it.
            from flows.triggers import nats as nats_transport

            self.connection = await nats_transport.connect(url)
            js = self.connection.jetstream()
        self.publisher.start(js, handler.sink(LIFECYCLE))
        if self.audit is not None:
            self.audit.start(js)
        if self.connection is not None and settings.topics and consume:
            consumer = nats_transport.Consumer(self.connection, settings.topics, handler.receive)
            try:
                await consumer.start()
            except Exception:
                await self.close()
                raise
            self.consumer = consumer
        elif settings.topics and not url:
            logger.warning("--topics is set but no NATS URL (--nats-url): nothing is consumed")

    async def stop_consuming(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None

    async def close(self) -> None:
        await self.stop_consuming()
        await self.publisher.close()
        if self.audit is not None:
            await self.audit.close()
        if self.connection is not None:
            # close, not drain: everything handled is acked and the rest is redelivered, while a
            # drain waits on the pull subscriptions for its whole timeout (30 s).
            with contextlib.suppress(Exception):
                await self.connection.close()
            self.connection = None
