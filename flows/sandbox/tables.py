"""Tables of the sandbox stack (flows.sandbox): a double-entry ledger, payments, test hooks.

They live on the sandbox's own `metadata`, migrated by its own Alembic history
(flows/sandbox/migrations, version table `alembic_version_sandbox`) beside the core's: the core
knows nothing of them. Wallets need no table: as in the real Wallets service they are ledger
accounts with metadata.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    TypeDecorator,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from flows.storage.database import Migrations
from flows.storage.tables import UTCDateTime

metadata = MetaData()

MIGRATIONS = Migrations(Path(__file__).parent / "migrations", head="0001", version_table="alembic_version_sandbox")


class Amount(TypeDecorator[int]):
    """A non-negative integer of any size (ledger amounts exceed 64 bits).

    PostgreSQL stores NUMERIC(78, 0) (any 256-bit value); SQLite stores decimal text because its
    numbers are 64-bit at most. Arithmetic happens in Python either way.
    """

    impl = Numeric(78, 0)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String())
        return dialect.type_descriptor(Numeric(78, 0, asdecimal=True))

    def process_bind_param(self, value: int | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        return str(value) if dialect.name == "sqlite" else Decimal(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)


# -- ledger ---------------------------------------------------------------------------------

sandbox_ledgers = Table(
    "sandbox_ledgers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String, nullable=False, unique=True),
    Column("bucket", String, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("features", JSON, nullable=False),
    Column("added_at", UTCDateTime, nullable=False),
    # Transaction ids are per ledger and start at 1; the row is also the per-ledger lock taken
    # just before a transaction is inserted.
    Column("last_transaction_id", BigInteger, nullable=False),
    sqlite_autoincrement=True,
)

sandbox_accounts = Table(
    "sandbox_accounts",
    metadata,
    Column("ledger", String, primary_key=True),
    Column("address", String, primary_key=True),
    Column("metadata", JSON, nullable=False),
    Column("first_usage", UTCDateTime, nullable=False),
    Column("insertion_date", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# One row per (account, asset) ever moved: balance = input - output. Writers lock these rows
# (SELECT ... FOR UPDATE on PostgreSQL) between the balance check and the update.
sandbox_volumes = Table(
    "sandbox_volumes",
    metadata,
    Column("ledger", String, primary_key=True),
    Column("address", String, primary_key=True),
    Column("asset", String, primary_key=True),
    Column("input", Amount, nullable=False),
    Column("output", Amount, nullable=False),
)

sandbox_transactions = Table(
    "sandbox_transactions",
    metadata,
    Column("ledger", String, primary_key=True),
    Column("id", BigInteger, primary_key=True, autoincrement=False),
    Column("postings", JSON, nullable=False),
    Column("metadata", JSON, nullable=False),
    Column("timestamp", UTCDateTime, nullable=False),
    Column("reference", String),
    Column("inserted_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("reverted_at", UTCDateTime),
    Column("pre_commit_volumes", JSON, nullable=False),
    Column("post_commit_volumes", JSON, nullable=False),
    # NULL references never collide (both on SQLite and PostgreSQL).
    Index("sandbox_transactions_reference", "ledger", "reference", unique=True),
)

# The ledger's Idempotency-Key store: written in the same database transaction as the effect,
# so a committed write and its replayable answer can never be separated by a crash.
sandbox_idempotency_keys = Table(
    "sandbox_idempotency_keys",
    metadata,
    Column("ledger", String, primary_key=True),
    Column("key", String, primary_key=True),
    Column("hash", String, nullable=False),
    Column("status", Integer, nullable=False),
    Column("body", Text),
    Column("created_at", UTCDateTime, nullable=False),
)

# -- payments: the API objects as documents, plus the columns lists and lookups need ---------

sandbox_payments = Table(
    "sandbox_payments",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String, nullable=False, unique=True),
    Column("document", JSON, nullable=False),
    sqlite_autoincrement=True,
)

sandbox_payment_accounts = Table(
    "sandbox_payment_accounts",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String, nullable=False, unique=True),
    Column("document", JSON, nullable=False),
    sqlite_autoincrement=True,
)

sandbox_transfer_initiations = Table(
    "sandbox_transfer_initiations",
    metadata,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("id", String, nullable=False, unique=True),
    Column("document", JSON, nullable=False),
    sqlite_autoincrement=True,
)

# -- test hooks -----------------------------------------------------------------------------

# Every request the sandbox answered; AUTOINCREMENT so ids never repeat after a clear and
# `?since=<id>` stays meaningful.
sandbox_requests = Table(
    "sandbox_requests",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("received_at", UTCDateTime, nullable=False),
    Column("method", String, nullable=False),
    Column("path", String, nullable=False),
    Column("query", String, nullable=False),
    Column("idempotency_key", String),
    Column("body", JSON),
    Column("status", Integer, nullable=False),
    sqlite_autoincrement=True,
)
