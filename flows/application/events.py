"""Events from the outside (HTTP ingestion): fire the triggers, keep what cannot be processed."""

from __future__ import annotations

from flows.application.errors import Invalid
from flows.storage.records import DeadLetterRecord, Page
from flows.storage.repository import Repository
from flows.triggers.listener import HTTP, EventHandler, UnprocessableEvent


class Events:
    def __init__(self, repository: Repository, handler: EventHandler) -> None:
        self.repository = repository
        self.handler = handler
        """Fires the triggers of every event, whatever its transport (flows/triggers/listener.py)."""

    async def ingest(self, raw: bytes, message_id: str) -> None:
        """Fire the triggers matching the message; `Invalid` when it can never be processed (it is
        then a dead letter). An outage is raised as is: the publisher retries."""
        try:
            await self.handler.receive(raw, message_id, source=HTTP)
        except UnprocessableEvent as error:
            raise Invalid(str(error)) from None

    async def refuse(self, message_id: str, reason: str, received: bytes) -> None:
        """Keep a message the edge refused before reading it whole (too large) as a dead letter."""
        await self.handler.dead_letter(HTTP, message_id, reason, received)

    async def dead_letters(self, offset: int, limit: int) -> Page[DeadLetterRecord]:
        """Newest first."""
        return await self.repository.list_dead_letters(offset, limit)
