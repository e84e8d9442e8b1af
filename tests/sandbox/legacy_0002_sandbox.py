"""A fixture: the core's revision 0002 as it was before the sandbox had a history of its own, run
by tests/sandbox/test_sandbox_migrations.py to build the databases those versions left behind.

Kept verbatim but for the import of `Amount`, whose module moved (flows/storage/sandbox_tables.py
then, flows/sandbox/tables.py now; the type is the same).
"""

import sqlalchemy as sa
from alembic import op

from flows.sandbox.tables import Amount
from flows.storage.tables import UTCDateTime


def upgrade() -> None:
    op.create_table(
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
    op.create_table(
        "sandbox_accounts",
        sa.Column("ledger", sa.String, primary_key=True),
        sa.Column("address", sa.String, primary_key=True),
        sa.Column("metadata", sa.JSON, nullable=False),
        sa.Column("first_usage", UTCDateTime, nullable=False),
        sa.Column("insertion_date", UTCDateTime, nullable=False),
        sa.Column("updated_at", UTCDateTime, nullable=False),
    )
    op.create_table(
        "sandbox_volumes",
        sa.Column("ledger", sa.String, primary_key=True),
        sa.Column("address", sa.String, primary_key=True),
        sa.Column("asset", sa.String, primary_key=True),
        sa.Column("input", Amount, nullable=False),
        sa.Column("output", Amount, nullable=False),
    )
    op.create_table(
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
    )
    op.create_index(
        "sandbox_transactions_reference",
        "sandbox_transactions",
        ["ledger", "reference"],
        unique=True,
    )
    op.create_table(
        "sandbox_idempotency_keys",
        sa.Column("ledger", sa.String, primary_key=True),
        sa.Column("key", sa.String, primary_key=True),
        sa.Column("hash", sa.String, nullable=False),
        sa.Column("status", sa.Integer, nullable=False),
        sa.Column("body", sa.Text),
        sa.Column("created_at", UTCDateTime, nullable=False),
    )
    for name in ("sandbox_payments", "sandbox_payment_accounts", "sandbox_transfer_initiations"):
        op.create_table(
            name,
            sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("id", sa.String, nullable=False, unique=True),
            sa.Column("document", sa.JSON, nullable=False),
            sqlite_autoincrement=True,
        )
    op.create_table(
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

