"""At startup: instances the database says are running but Temporal no longer knows are ended."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from flows.engine.client import Engine
from flows.storage.repository import Repository

logger = logging.getLogger("flows.engine")

LOST = "the engine has no record of this instance (its Temporal state was lost); it was ended"


async def reconcile(repository: Repository, engine: Engine) -> None:
    for instance_id in await repository.running_instance_ids():
        if await engine.status(instance_id) is not None:
            continue
        instance = await repository.get_instance(instance_id)
        if instance is None or instance.terminated:
            continue
        ended = datetime.now(UTC)
        await repository.save_progress(
            type(instance)(
                id=instance.id,
                workflow_id=instance.workflow_id,
                created_at=instance.created_at,
                updated_at=ended,
                terminated=True,
                terminated_at=ended,
                error=LOST,
            ),
            [],
        )
        logger.warning("instance %s: %s", instance_id, LOST)
