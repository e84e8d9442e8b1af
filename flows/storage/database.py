"""Connecting to the database (SQLite file or PostgreSQL) and migrating it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import JSON, MetaData, Select, create_engine, event, inspect, make_url, text
from sqlalchemy.engine import Connection, Dialect, Engine, Result
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.sql.base import Executable
from sqlalchemy.types import TypeEngine

MMAP_BYTES = 256 * 1024 * 1024
"""How much of a SQLite file its connections map into memory (the rest is read as usual)."""

# Any constant works; it only has to be the same for every Flows process sharing a database.
MIGRATION_LOCK_ID = 0x466C6F7773


@dataclass(frozen=True)
class Migrations:
    """One Alembic history: its scripts and the table recording how far a database has come.

    The core's history is `CORE_MIGRATIONS`; a part mounted beside the core (the sandbox stack,
    flows/sandbox/tables.py) brings its own, with its own version table, so that neither history
    knows the other's tables.
    """

    scripts: Path
    head: str
    """The last revision (tests/storage/test_migrations.py keeps it true): a database already
    there is not migrated, and Alembic, 10 MB of a process's memory, is never imported."""
    version_table: str = "alembic_version"


class MigrationFailed(Exception):
    """The child process of `Database.migrate_apart` failed; the message carries what it said
    (a failing migration is a bug: its traceback)."""


MIGRATOR = "flows.storage.migrator"
UNREACHABLE = 3
"""The migrator's exit status when the database is out of reach: its one line is the reason."""


CORE_MIGRATIONS = Migrations(Path(__file__).parent / "migrations", head="0006")


def sqlalchemy_url(postgres_uri: str | None, sqlite_path: Path | None) -> str:
    """The SQLAlchemy URL for a PostgreSQL URI as operators write it, or for a SQLite file."""
    if postgres_uri:
        parts = urlsplit(postgres_uri)
        if parts.scheme not in ("postgres", "postgresql", "postgresql+psycopg"):
            raise ValueError(f"unsupported database URI scheme '{parts.scheme}'")
        # psycopg 3 understands libpq parameters such as sslmode as they are.
        return urlunsplit(parts._replace(scheme="postgresql+psycopg"))
    if sqlite_path is None:
        raise ValueError("either a PostgreSQL URI or a SQLite path is needed")
    return f"sqlite+aiosqlite:///{sqlite_path}"


class Reader(Protocol):
    async def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Result[Any]: ...


class _InlineReader:
    """Runs SQLite reads on the event loop's thread. In WAL mode a read never waits for a
    writer and takes a fraction of a millisecond, far less than a hop to a driver thread."""

    def __init__(self, connection: Connection) -> None:
        self._connection = connection

    async def execute(self, statement: Executable, parameters: dict[str, Any] | None = None) -> Result[Any]:
        return self._connection.execute(statement, parameters)


ResultProcessor = Callable[[Any], Any]


@dataclass(frozen=True)
class _CompiledRead:
    sql: str
    parameter_names: tuple[str, ...]
    conversions: tuple[tuple[int, ResultProcessor], ...]
    """(position, processor) of the columns whose values need converting."""


class PreparedRead:
    """A SELECT built once and run often. On SQLite it runs straight on the driver's cursor,
    compiled once, its values converted by the column types' own result processors: for a
    lookup by key SQLAlchemy's per-execution bookkeeping costs several times the query. Rows
    come back as sequences in the order of the selected columns (`keys`)."""

    def __init__(self, statement: Select[Any]) -> None:
        self.statement = statement
        self.keys = tuple(str(column.key) for column in statement.selected_columns)
        self._compiled: dict[str, _CompiledRead] = {}

    def compiled_for(self, dialect: Dialect) -> _CompiledRead:
        compiled = self._compiled.get(dialect.name)
        if compiled is None:
            statement = self.statement.compile(dialect=dialect)
            processors = [_result_processor(column.type, dialect) for column in self.statement.selected_columns]
            compiled = _CompiledRead(
                sql=str(statement),
                parameter_names=tuple(statement.positiontup or ()),
                conversions=tuple((position, process) for position, process in enumerate(processors) if process is not None),
            )
            self._compiled[dialect.name] = compiled
        return compiled


def _result_processor(column_type: TypeEngine[Any], dialect: Dialect) -> ResultProcessor | None:
    if dialect.name == "sqlite" and isinstance(column_type, JSON):
        # SQLite hands JSON back as text: the dialect's processor is three wrappers around this.
        return json_from_sqlite
    return column_type.dialect_impl(dialect).result_processor(dialect, None)


_JSON = json.JSONDecoder()


def json_from_sqlite(value: Any) -> Any:
    # A bare number comes back as a number (SQLite's type affinity). The text is what
    # SQLAlchemy's json.dumps wrote, without surrounding blanks: the decoder's raw_decode,
    # without the checks json.loads wraps around it, costs a quarter of json.loads here.
    return _JSON.raw_decode(value)[0] if isinstance(value, str) else value


class _SQLiteReads:
    """One autocommit driver connection per thread for prepared reads: every read sees what is
    committed, and none holds a snapshot that would keep WAL checkpoints waiting."""

    def __init__(self, path: str, dialect: Dialect) -> None:
        self._path = path
        self._dialect = dialect
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []

    def fetch(self, prepared: PreparedRead, parameters: Mapping[str, Any]) -> list[Sequence[Any]]:
        compiled = prepared.compiled_for(self._dialect)
        values = tuple(parameters[name] for name in compiled.parameter_names)
        rows = self._connection().execute(compiled.sql, values).fetchall()
        conversions = compiled.conversions
        fetched: list[Sequence[Any]] = []
        for row in rows:
            converted = list(row)
            for position, process in conversions:
                value = converted[position]
                if value is not None:
                    converted[position] = process(value)
            fetched.append(converted)
        return fetched

    def _connection(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            try:
                _sqlite_pragmas(connection, None)
            except sqlite3.Error:
                connection.close()
                raise
            self._local.connection = connection
            self._opened.append(connection)
        return connection

    def close(self) -> None:
        for connection in self._opened:
            connection.close()
        self._opened.clear()


T = TypeVar("T")


class _SQLiteWriter:
    """One thread, and one driver connection on it, for `Database.transaction` on SQLite."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, pool_size=1, max_overflow=0, pool_reset_on_return=None)
        event.listen(self._engine, "connect", _sqlite_pragmas)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")

    async def run(self, work: Callable[[Connection], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._transaction, work)

    def _transaction(self, work: Callable[[Connection], T]) -> T:
        with self._engine.begin() as conn:
            return work(conn)

    def close(self) -> None:
        self._thread.shutdown(wait=True)
        self._engine.dispose()


class Database:
    """The engine plus what differs between SQLite and PostgreSQL."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        options: dict[str, Any] = {"pool_pre_ping": not self.is_sqlite}
        if not self.is_sqlite:
            options.update(pool_size=10, max_overflow=10)
        else:
            # A connection comes back to the pool with its transaction already ended (committed,
            # or rolled back by the closing of the block that began it): the pool's own rollback
            # on top would be one more hop to the driver's thread for every write.
            options.update(pool_reset_on_return=None)
        self.engine: AsyncEngine = create_async_engine(url, **options)
        # SQLite has one writer at a time; queueing writers here avoids SQLITE_BUSY storms.
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self._inline_reads: Engine | None = None
        self._prepared_reads: _SQLiteReads | None = None
        self._writer: _SQLiteWriter | None = None
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
            self._inline_reads = create_engine(url.replace("+aiosqlite", ""))
            event.listen(self._inline_reads, "connect", _sqlite_pragmas)
            path = make_url(url).database
            assert path, "a SQLite database needs a file"
            self._prepared_reads = _SQLiteReads(path, self._inline_reads.dialect)
            self._writer = _SQLiteWriter(url.replace("+aiosqlite", ""))

    @contextlib.asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncConnection]:
        """A transaction that writes; committed when the block ends without error."""
        if self._write_lock is None:
            async with self.engine.begin() as conn:
                yield conn
            return
        async with self._write_lock, self.engine.begin() as conn:
            yield conn

    async def transaction(self, work: Callable[[Connection], T]) -> T:
        """`work` run in one write transaction, committed before this returns (rolled back if
        it raises). On SQLite it runs on the database's writer thread, on a driver connection
        of its own: one hop to a thread for the whole transaction, where the async driver
        makes one per statement, its begin and its commit."""
        if self._writer is None:
            async with self.engine.begin() as conn:
                return await conn.run_sync(work)
        assert self._write_lock is not None
        async with self._write_lock:
            return await self._writer.run(work)

    @contextlib.asynccontextmanager
    async def read(self) -> AsyncIterator[Reader]:
        if self._inline_reads is not None:
            with self._inline_reads.connect() as connection:
                yield _InlineReader(connection)
            return
        async with self.engine.connect() as conn:
            yield conn

    async def fetch(self, prepared: PreparedRead, parameters: Mapping[str, Any]) -> list[Sequence[Any]]:
        """The rows of a prepared read, each a sequence of values in the order of its selected
        columns."""
        if self._prepared_reads is not None:
            return self._prepared_reads.fetch(prepared, parameters)
        async with self.engine.connect() as conn:
            return list(await conn.execute(prepared.statement, dict(parameters)))

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def migrate(self, migrations: Migrations = CORE_MIGRATIONS) -> None:
        """Bring the database to the head of `migrations` (by default the core's schema)."""
        async with self.engine.connect() as conn:
            await conn.run_sync(_upgrade, self.is_sqlite, migrations)
            await conn.commit()

    async def migrate_apart(self, histories: Sequence[Migrations]) -> None:
        """Bring the database to the head of each of `histories`, as `migrate` does, in a child
        process (flows/storage/migrator.py): Alembic's modules would stay in a long-lived
        process (`flows serve`, `flows worker`) for the rest of its life. A database at every
        head starts no child.

        The child takes PostgreSQL's migration lock, this process none: it waits for no one
        while its child does. An out-of-reach database raises ConnectionError with the
        driver's reason (flows/outages.py tells it an outage); any other failure raises
        `MigrationFailed`."""
        async with self.engine.connect() as conn:
            behind = [migrations for migrations in histories if await conn.run_sync(_revision, migrations.version_table) != migrations.head]
            await conn.commit()
        if not behind:
            return
        order = {
            "url": self.url,
            "histories": [{"scripts": str(m.scripts), "head": m.head, "version_table": m.version_table} for m in behind],
        }
        # The URL goes on standard input: on the command line, its password would be in any `ps`.
        child = await asyncio.create_subprocess_exec(sys.executable, "-m", MIGRATOR, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
        _, said = await child.communicate(json.dumps(order).encode())
        told = said.decode(errors="replace").strip()
        if child.returncode == UNREACHABLE:
            raise ConnectionError(told)
        if child.returncode != 0:
            raise MigrationFailed(f"`python -m {MIGRATOR}` exited with status {child.returncode}:\n{told}")

    async def close(self) -> None:
        await self.engine.dispose()
        if self._inline_reads is not None:
            self._inline_reads.dispose()
        if self._prepared_reads is not None:
            self._prepared_reads.close()
        if self._writer is not None:
            self._writer.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Pages read through a memory map rather than a read() into the connection's small page
    # cache: a lookup of a row far from the last ones costs no system call, however large the
    # file has grown (bench/growth.py). The mapped pages are the kernel's page cache, shared.
    cursor.execute(f"PRAGMA mmap_size={MMAP_BYTES}")
    cursor.close()


def _upgrade(connection: Connection, is_sqlite: bool, migrations: Migrations) -> None:
    if not is_sqlite:
        # Several processes may start at once against one database: migrate one at a time.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    if _revision(connection, migrations.version_table) == migrations.head:
        return
    # Imported here: a database at head needs none of Alembic (see `Database.migrate_apart`).
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(migrations.scripts))
    config.attributes["connection"] = connection
    config.attributes["version_table"] = migrations.version_table
    command.upgrade(config, "head")


def _revision(connection: Connection, version_table: str) -> str | None:
    """Where the database stands in a history; None when it has none yet."""
    if not inspect(connection).has_table(version_table):
        return None
    return connection.execute(text(f"SELECT version_num FROM {version_table}")).scalar()


def run_migrations(target_metadata: MetaData) -> None:
    """The body of a history's Alembic `env.py`: run on the connection and into the version
    table that `Database.migrate` hands over."""
    from alembic import context

    attributes = context.config.attributes
    context.configure(
        connection=attributes["connection"],
        target_metadata=target_metadata,
        version_table=attributes["version_table"],
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()
