"""NATS JetStream: consuming the stack's events and publishing the orchestration's own.

Consumption (docs/events.md, NATS): every `--topics` subject (e.g. `prod.ledger`)
belongs to a stream the stack owns (one stream per stack, `<stack>.*`); Flows looks the stream up
by subject and never creates it. On each such stream one durable pull consumer named
`orchestration` (shared by every worker of the deployment, so each message is processed once
across the cluster) filters the topics of that stream; it is created when missing, bound as is
otherwise. Each message's data is handed to `EventHandler.receive` with the message id
(`Nats-Msg-Id`, else the stack publisher's `_watermill_message_uuid`, else
`<stream>:<stream sequence>`); it is acked only after `receive` returned. A poison message (not an
envelope, or failing for a reason no retry fixes) is dead-lettered by the handler, then terminated:
never redelivered. Any other error is an outage (database, Temporal): nak'ed for redelivery.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any, Protocol
from urllib.parse import urlsplit

import nats
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.errors import NoServersError
from nats.js import JetStreamContext
from nats.js import api as js_api
from nats.js.errors import NotFoundError

from flows.errors import StartupError
from flows.triggers.listener import NATS as SOURCE
from flows.triggers.listener import UnprocessableEvent

logger = logging.getLogger("flows.triggers.nats")

CONSUMER = "orchestration"
"""The durable consumer name the stack's operator uses for the orchestration."""
FETCH_BATCH = 32
FETCH_TIMEOUT_S = 1.0
ACK_WAIT_S = 30.0
NAK_DELAY_S = 1.0
MESSAGE_ID_HEADERS = ("Nats-Msg-Id", "_watermill_message_uuid")
CONNECT_TIMEOUT_S = 10.0


class Receive(Protocol):
    """`EventHandler.receive`."""

    async def __call__(self, raw: bytes, message_id: str, *, source: str) -> Any: ...


async def connect(url: str) -> NATS:
    """A connection that reconnects forever once made; a server out of reach at startup is a
    `StartupError` after `CONNECT_TIMEOUT_S` (a typo in `--nats-url` must not look like a wait)."""

    async def on_error(error: Exception) -> None:
        # nats-py's default logs a traceback for every failed attempt, once a second.
        logger.warning("NATS: %s", error or type(error).__name__)

    try:
        return await asyncio.wait_for(
            nats.connect(url, name="flows-orchestration", max_reconnect_attempts=-1, reconnect_time_wait=1, error_cb=on_error),
            timeout=CONNECT_TIMEOUT_S,
        )
    except (TimeoutError, OSError, NoServersError) as error:
        raise StartupError(f"cannot reach NATS at {_server(url)} (--nats-url): {error or 'timed out'}") from None


def _server(url: str) -> str:
    """`host:port` of a NATS URL, never its credentials."""
    parsed = urlsplit(url if "://" in url else f"nats://{url}")
    return f"{parsed.hostname}:{parsed.port or 4222}"


def message_id(msg: Msg) -> str:
    for header in MESSAGE_ID_HEADERS:
        value = (msg.headers or {}).get(header)
        if value:
            return str(value)
    meta = msg.metadata
    return f"{meta.stream}:{meta.sequence.stream}"


async def process(msg: Msg, receive: Receive) -> None:
    """One message: handled, then acked; terminated if poison, nak'ed on an outage."""
    ident = message_id(msg)
    try:
        await receive(msg.data, ident, source=SOURCE)
    except UnprocessableEvent as error:
        logger.error("terminating message %s on %s: %s", ident, msg.subject, error)
        await msg.term()
        return
    except Exception:
        logger.exception("handling message %s on %s failed; it will be redelivered", ident, msg.subject)
        with contextlib.suppress(Exception):
            await msg.nak(delay=NAK_DELAY_S)
        return
    await msg.ack_sync()


class Consumer:
    """Pulls the `--topics` messages from JetStream into `receive` until `stop`."""

    def __init__(self, connection: NATS, topics: list[str], receive: Receive) -> None:
        self.connection = connection
        self.js: JetStreamContext = connection.jetstream()
        self.topics = topics
        self.receive = receive
        self._tasks: list[asyncio.Task[None]] = []
        self._subscriptions: list[JetStreamContext.PushSubscription] = []
        self._stopping = asyncio.Event()

    async def _streams(self) -> dict[str, list[str]]:
        streams: dict[str, list[str]] = {}
        for topic in self.topics:
            try:
                stream = await self.js.find_stream_name_by_subject(topic)
            except NotFoundError as error:
                raise RuntimeError(f"no JetStream stream holds the subject '{topic}'") from error
            streams.setdefault(stream, []).append(topic)
        return streams

    async def _consumer(self, stream: str, topics: list[str]) -> js_api.ConsumerInfo:
        """The durable `orchestration` consumer: the operator's if it exists, else a pull one."""
        try:
            return await self.js.consumer_info(stream, CONSUMER)
        except NotFoundError:
            config = js_api.ConsumerConfig(
                durable_name=CONSUMER,
                ack_policy=js_api.AckPolicy.EXPLICIT,
                deliver_policy=js_api.DeliverPolicy.ALL,
                ack_wait=ACK_WAIT_S,
            )
            if len(topics) == 1:
                config.filter_subject = topics[0]
            else:
                config.filter_subjects = topics
            with contextlib.suppress(nats.js.errors.BadRequestError):
                # Another worker creating it at the same time is fine: bind to theirs.
                await self.js.add_consumer(stream, config)
            return await self.js.consumer_info(stream, CONSUMER)

    async def start(self) -> None:
        for stream, topics in (await self._streams()).items():
            consumer = await self._consumer(stream, topics)
            if consumer.config.deliver_subject:
                # The operator deploys a push consumer with deliver group `orchestration`: every
                # process joins that queue group, so each message still goes to one of them.
                subscription = await self.js.subscribe_bind(
                    stream=stream,
                    config=consumer.config,
                    consumer=CONSUMER,
                    cb=self._on_message,
                    manual_ack=True,
                )
                self._subscriptions.append(subscription)
            else:
                pulled = await self.js.pull_subscribe_bind(durable=CONSUMER, stream=stream)
                self._tasks.append(asyncio.create_task(self._pull(pulled)))
            logger.info("consuming %s from stream %s (consumer %s)", ", ".join(topics), stream, CONSUMER)

    async def _on_message(self, msg: Msg) -> None:
        await process(msg, self.receive)

    async def _pull(self, subscription: JetStreamContext.PullSubscription) -> None:
        while not self._stopping.is_set():
            try:
                messages = await subscription.fetch(FETCH_BATCH, timeout=FETCH_TIMEOUT_S)
            except (TimeoutError, nats.errors.TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001  (any fetch failure: retried in a second)
                logger.warning("fetching from JetStream failed: %s", error)
                await asyncio.sleep(1)
                continue
            await asyncio.gather(*(process(msg, self.receive) for msg in messages))

    async def stop(self) -> None:
        """Stop fetching; messages being handled finish (unacked ones are redelivered anyway)."""
        self._stopping.set()
        for subscription in self._subscriptions:
            with contextlib.suppress(Exception):
                await subscription.unsubscribe()
        if self._tasks:
            _done, pending = await asyncio.wait(self._tasks, timeout=FETCH_TIMEOUT_S + 5)
            for task in pending:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
