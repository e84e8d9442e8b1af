"""The event pipeline of a `serve`/`worker` process: the NATS connection when configured, the
JetStream consumer of `--topics`, and the lifecycle publisher (NATS and in process)."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any

from flows.settings import Settings
from flows.triggers import nats as nats_transport
from flows.triggers.lifecycle import (
    TOPIC,
    LifecyclePublisher,
    map_topic,
    occurrence_event,
)
from flows.triggers.listener import EventHandler

logger = logging.getLogger("flows.triggers")


@dataclass
class Pipeline:
    publisher: LifecyclePublisher
    connection: Any | None = None
    consumer: nats_transport.Consumer | None = None

    async def stop_consuming(self) -> None:
        if self.consumer is not None:
            await self.consumer.stop()
            self.consumer = None

    async def close(self) -> None:
        await self.stop_consuming()
        await self.publisher.close()
        if self.connection is not None:
            # close, not drain: everything handled is acked and the rest is redelivered, while a
            # drain waits on the pull subscriptions for its whole timeout (30 s).
            with contextlib.suppress(Exception):
                await self.connection.close()


async def start_pipeline(settings: Settings, handler: EventHandler, *, consume: bool = True) -> Pipeline:
    url = settings.nats_address()
    connection = None
    js = None
    if url:
        connection = await nats_transport.connect(url)
        js = connection.jetstream()
    subject = map_topic(TOPIC, settings.publisher_topic_mapping, settings.stack)
    publisher = LifecyclePublisher(js, subject, handler)
    publisher.start()
    handler.on_occurrence = lambda occurrence: publisher.emit([occurrence_event(occurrence)])
    pipeline = Pipeline(publisher, connection)
    if connection is not None and settings.topics and consume:
        consumer = nats_transport.Consumer(connection, settings.topics, handler.receive)
        try:
            await consumer.start()
        except Exception:
            await pipeline.close()
            raise
        pipeline.consumer = consumer
    elif settings.topics and not url:
        logger.warning("--topics is set but no NATS URL (--nats-url): nothing is consumed")
    return pipeline
