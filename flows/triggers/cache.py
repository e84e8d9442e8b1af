"""Which event types have live triggers: lets `EventHandler.handle` skip the database for the rest.

Flows feeds its own lifecycle events (STARTED_WORKFLOW, …, SUCCEEDED_WORKFLOW) into the trigger
handler, so every instance transition used to cost a `matching_triggers` query even with no
trigger at all. `TriggerTypes` keeps the set of event types of live triggers, reloaded at most
every `ttl` seconds (one cheap `SELECT DISTINCT`):

* a trigger created or deleted through this process's application (flows/application/triggers.py,
  which shares this object with the handler) calls `invalidate()`, which bumps a generation: the
  next event reloads the set, so a new trigger fires for the very next event;
* a trigger created by another process is seen within `ttl`.

The set may hold types whose triggers are gone (deleted trigger or workflow): those events only
cost the query they cost before; a type missing from the set is what must not happen, hence the
generation check around a reload that raced an invalidation.
"""

from __future__ import annotations

import asyncio
import time

from flows.storage.repository import Repository

DEFAULT_TTL = 1.0


class TriggerTypes:
    def __init__(self, repository: Repository, ttl: float = DEFAULT_TTL) -> None:
        self.repository = repository
        self.ttl = ttl
        self._types: frozenset[str] = frozenset()
        self._loaded_at = float("-inf")
        self._generation = 0
        """Bumped by every invalidation."""
        self._loaded_generation = -1
        """The generation `_types` was loaded at."""
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        """A trigger was created or deleted: reload on the next use."""
        self._generation += 1

    def _fresh(self) -> bool:
        return self._loaded_generation == self._generation and time.monotonic() - self._loaded_at < self.ttl

    async def may_match(self, event_type: str) -> bool:
        """False only when no live trigger listens to `event_type` (as of at most `ttl` ago)."""
        if not self._fresh():
            async with self._lock:
                if not self._fresh():
                    generation, started = self._generation, time.monotonic()
                    self._types = frozenset(await self.repository.live_trigger_events())
                    # An invalidation during the reload leaves this set stale: reload next time.
                    self._loaded_generation, self._loaded_at = generation, started
        return event_type in self._types
