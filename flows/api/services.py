"""What the API's handlers work with, held by the application."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from starlette.requests import Request

from flows.engine.client import Engine
from flows.storage.repository import Repository

if TYPE_CHECKING:
    from flows.triggers.listener import EventHandler


@dataclass(frozen=True)
class Services:
    repository: Repository
    engine: Engine
    version: str
    wait_timeout: float = 4.0
    abort_timeout: float = 4.0
    events: EventHandler | None = None
    """Fires triggers for ingested events; None: this process does not ingest events."""


def services(request: Request) -> Services:
    found: Services = request.app.state.services
    return found


def now() -> datetime:
    """Now, at the microsecond precision the database keeps."""
    return datetime.now(UTC)
