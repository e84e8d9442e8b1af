"""Sandbox stack: ledger (ledgers, accounts, volumes, transactions, idempotency keys), payments
(payments, accounts, transfer initiations) and the request recording of the test hooks.

Until the sandbox had a history of its own, the core's revision 0002 created exactly these
tables (flows/storage/migrations/versions/0002_sandbox.py, now empty). A database of those
versions already has them, with their rows: each table that exists is adopted as it is, and
only the missing ones are created.

Revision ID: 0001
Revises:
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

from flows.sandbox.tables import Amount
from flows.storage.tables import UTCDateTime

revision = "0001"
down_revision = None


def create_table(name: str, *columns: Any, **options: Any) -> None:
    """`op.create_table`, unless the table is there already (created by the core's former 0002)."""
    if not sa.inspect(op.get_bind()).has_table(name):
        op.create_table(name, *columns, **options)


def upgrade() -> None:
    create_table(
        "sandbox_ledgers",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String, nullable=False, unique=True),
        sa.Column("bucket", sa.String, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("features", sa.JSON, nullable=False),
        sa.Column("added_at", UTCDateTime, nullable=False),
        sa.Column("last_transaction_id", sa.BigInteger, nullable=False),
        sqlite_autoincrement=True,
    )
    create_table(
        "sandbox_accounts",
        sa.Column("ledger", sa.String, primary_key=True),
        sa.Column("address", sa.String, primary_key=True),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("first_usage", UTCDateTime, nullable=False),
        sa.Column("insertion_date", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    create_table(
        "sandbox_volumes",
        sa.Column("ledger", sa.String, primary_key=True),
        sa.Column("address", sa.String, primary_key=True),
        sa.Column("asset", sa.String, primary_key=True),
        sa.Column("input", Amount, nullable=False),
        sa.Column("output", Amount, nullable=False),
    )
    create_table(
        "sandbox_transactions",
        sa.Column("ledger", sa.String, primary_key=True),
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("postings", sa.JSON, nullable=False),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("timestamp", UTCDateTime, nullable=False),
        sa.Column("reference", sa.String),
        sa.Column("inserted_at", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
        sa.Column("reverted_at", UTCDateTime),
        sa.Column("pre_commit_volumes", sa.JSON, nullable=False),
        sa.Column("post_commit_volumes", sa.JSON, nullable=False),
        sa.Index("sandbox_transactions_reference", "ledger", "reference", unique=True),
    )
    create_table(
        "sandbox_idempotency_keys",
        sa.Column("ledger", sa.String, primary_key=True),
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("hash", sa.String, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    for name in ("sandbox_payments", "sandbox_payment_accounts", "sandbox_transfer_initiations"):
        create_table(
            name,
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("id", sa.String, nullable=False, unique=True),
            sa.Column("document", sa.JSON, nullable=False),
            sqlite_autoincrement=True,
        )
    create_table(
        "sandbox_requests",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("received_at", UTCDateTime, nullable=False),
        sa.Column("method", sa.String, nullable=False),
        sa.Column("path", sa.String, nullable=False),
        sa.Column("query", sa.String, nullable=False),
        sa.Column("idempotency_key", sa.String),
        sa.Column("body", sa.JSON),
        sa.Column("status", sa.Integer, nullable=False),
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    for name in (
        "sandbox_requests",
        "sandbox_transfer_initiations",
        "sandbox_payment_accounts",
        "sandbox_payments",
        "sandbox_idempotency_keys",
        "sandbox_transactions",
        "sandbox_accounts",
        "sandbox_volumes",
        "sandbox_ledgers",
    ):
        op.drop_table(name)
