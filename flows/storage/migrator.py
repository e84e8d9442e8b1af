"""`python -m flows.storage.migrator`: the child process of `Database.migrate_apart`, which runs
Alembic so that the process serving never imports it.

It reads from standard input the database's SQLAlchemy URL and the histories to bring to their
heads (JSON), migrates them in order as `Database.migrate` does, and exits 0. An out-of-reach
database is one line on standard error and exit status `UNREACHABLE`; any other failure is a bug,
and its traceback is what the child prints."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from flows.storage.database import UNREACHABLE, Database, Migrations


async def _migrate(url: str, histories: Sequence[Migrations]) -> None:
    database = Database(url)
    try:
        for migrations in histories:
            await database.migrate(migrations)
    finally:
        await database.close()


def main() -> int:
    order = json.loads(sys.stdin.read())
    histories = [Migrations(Path(h["scripts"]), head=h["head"], version_table=h["version_table"]) for h in order["histories"]]
    try:
        asyncio.run(_migrate(order["url"], histories))
    except Exception as error:
        # Imported here: flows.outages imports Temporal's SDK, which every start would pay for.
        from flows.outages import dependency_down, outage_reason

        if not dependency_down(error):
            raise
        print(outage_reason(error), file=sys.stderr)
        return UNREACHABLE
    return 0


if __name__ == "__main__":
    sys.exit(main())
