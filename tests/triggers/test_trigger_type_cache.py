"""The in-memory set of event types with live triggers (flows.triggers.cache) never hides a trigger
created through this process's API: the next event fires it, even right after an event of the
same type loaded the set without it."""

from __future__ import annotations

import asyncio
from typing import Any

from flows.triggers import cache
from tests.api.helpers import create_workflow
from tests.conftest import Api
from tests.triggers.test_trigger_firing import (
    create_trigger,
    envelope,
    ingest,
    instance_ids,
    occurrences,
    unique_type,
)


def test_a_trigger_created_through_the_api_fires_for_the_next_event(api: Api) -> None:
    event_type = unique_type()
    workflow_id = create_workflow(api, [{"noop": {}}])
    # Load the cache while no trigger listens to this type.
    assert ingest(api, envelope(event_type, {"n": 1})).status_code == 204
    trigger_id = create_trigger(api, workflow_id, event_type, filter="event.n > 1", vars={"n": "event.n"})
    assert ingest(api, envelope(event_type, {"n": 2})).status_code == 204
    [occurrence] = occurrences(api, trigger_id)
    assert occurrence.workflow_instance_id in instance_ids(api, workflow_id)


def test_a_deleted_trigger_no_longer_fires(api: Api) -> None:
    event_type = unique_type()
    workflow_id = create_workflow(api, [{"noop": {}}])
    trigger_id = create_trigger(api, workflow_id, event_type)
    assert ingest(api, envelope(event_type, {})).status_code == 204
    assert len(occurrences(api, trigger_id)) == 1
    assert api.sdk.orchestration.v1.delete_trigger(request={"trigger_id": trigger_id}).status_code == 204
    assert ingest(api, envelope(event_type, {})).status_code == 204
    assert len(instance_ids(api, workflow_id)) == 1


class FakeRepository:
    def __init__(self) -> None:
        self.types: set[str] = set()
        self.queries = 0
        self.during_query: Any = None

    async def live_trigger_events(self) -> set[str]:
        self.queries += 1
        snapshot = set(self.types)
        if self.during_query is not None:
            self.during_query()
        return snapshot


def test_types_are_reloaded_on_ttl_and_invalidation_not_per_event() -> None:
    async def scenario() -> None:
        repository = FakeRepository()
        types = cache.TriggerTypes(repository, ttl=60)  # type: ignore[arg-type]
        assert not await types.may_match("A")
        assert not await types.may_match("A")
        assert repository.queries == 1
        repository.types.add("A")
        types.invalidate()
        assert await types.may_match("A")
        assert repository.queries == 2

        # A trigger created while a reload is running: that reload's set is not trusted.
        def created_meanwhile() -> None:
            repository.types.add("B")
            types.invalidate()

        repository.during_query = created_meanwhile
        types.invalidate()
        assert not await types.may_match("B")  # the stale snapshot answers this call only
        repository.during_query = None
        assert await types.may_match("B")
        assert repository.queries == 4

        expiring = cache.TriggerTypes(repository, ttl=0)  # type: ignore[arg-type]
        await expiring.may_match("A")
        await expiring.may_match("A")
        assert repository.queries == 6

    asyncio.run(scenario())
