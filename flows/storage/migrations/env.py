"""Alembic environment of the core's history, run by flows.storage.database.Database.migrate."""

from flows.storage.database import run_migrations
from flows.storage.tables import metadata

run_migrations(metadata)
