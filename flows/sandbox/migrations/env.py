"""Alembic environment of the sandbox's history (version table `alembic_version_sandbox`), run by
flows.storage.database.Database.migrate with flows.sandbox.tables.MIGRATIONS."""

from flows.sandbox.tables import metadata
from flows.storage.database import run_migrations

run_migrations(metadata)
