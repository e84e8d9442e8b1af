"""The application: every use case of Flows, one method each, between the edges (the HTTP API,
event ingestion, NATS, the sandbox's events) and the engine and storage.

Its methods take plain values, raise `NotFound` or `Invalid` (flows/application/errors.py) for a
caller's mistake, and return storage records or the small records defined beside them. The
composition (flows/server.py) builds it once with `build_application`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from flows.application.errors import ApplicationError, Invalid, NotFound
from flows.application.events import Events
from flows.application.instances import ActivityHistory, Instances
from flows.application.triggers import Evaluation, Triggers, TriggerTest
from flows.application.workflows import Run, Workflows
from flows.engine.client import Engine
from flows.stack.client import StackClient
from flows.storage.records import OccurrenceRecord
from flows.storage.repository import Repository
from flows.triggers.cache import TriggerTypes
from flows.triggers.listener import EventHandler

__all__ = [
    "ActivityHistory",
    "Application",
    "ApplicationError",
    "Evaluation",
    "Events",
    "Instances",
    "Invalid",
    "NotFound",
    "Run",
    "TriggerTest",
    "Triggers",
    "Workflows",
    "build_application",
]


@dataclass(frozen=True)
class Application:
    version: str
    workflows: Workflows
    instances: Instances
    triggers: Triggers
    events: Events
    dependencies: Mapping[str, Callable[[], Awaitable[object]]]
    """What must answer for this process to be healthy, by name: each check raises when it is down."""


def build_application(
    repository: Repository,
    engine: Engine,
    *,
    version: str,
    wait_timeout: float = 4.0,
    abort_timeout: float = 4.0,
    stack: StackClient | None = None,
    on_occurrence: Callable[[OccurrenceRecord], None] | None = None,
) -> Application:
    """The application over one repository and engine; `stack`: where trigger expressions'
    `link()` reads (None: every link() fails); `on_occurrence`: told of every occurrence a
    trigger records (the lifecycle events' SUCCEEDED/FAILED_TRIGGER), must not block."""
    workflows = Workflows(repository, engine, wait_timeout=wait_timeout)
    trigger_types = TriggerTypes(repository)
    handler = EventHandler(repository, workflows.start, trigger_types, stack, on_occurrence)
    return Application(
        version=version,
        workflows=workflows,
        instances=Instances(repository, engine, abort_timeout=abort_timeout),
        triggers=Triggers(repository, workflows, trigger_types, handler),
        events=Events(repository, handler),
        dependencies={
            "the database": repository.db.ping,
            # Looked up when checked, so that an application without an engine (a test of the
            # database alone) can be built.
            "Temporal": lambda: engine.client.service_client.check_health(),
        },
    )
