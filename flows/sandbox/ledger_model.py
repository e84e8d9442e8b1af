"""What the sandbox ledger reads and answers: parsed requests, results, accounts, and the
JSON renderings of ledgers, transactions and volumes (docs/sandbox.md)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flows.sandbox.numscript import Posting, Program, compile_script, postings_program
from flows.sandbox.rendering import format_time

# A database row as a mapping (SQLAlchemy's RowMapping) or a plain dict.
Record = Mapping[Any, Any]
Volumes = dict[tuple[str, str], tuple[int, int]]  # (address, asset) -> (input, output)

DEFAULT_BUCKET = "_default"
DEFAULT_FEATURES = {
    "MOVES_HISTORY": "ON",
    "MOVES_HISTORY_POST_COMMIT_EFFECTIVE_VOLUMES": "SYNC",
    "HASH_LOGS": "SYNC",
    "ACCOUNT_METADATA_HISTORY": "SYNC",
    "TRANSACTION_METADATA_HISTORY": "SYNC",
}
FEATURE_VALUES = {
    "MOVES_HISTORY": ("ON", "OFF"),
    "MOVES_HISTORY_POST_COMMIT_EFFECTIVE_VOLUMES": ("SYNC", "DISABLED"),
    "HASH_LOGS": ("SYNC", "DISABLED"),
    "ACCOUNT_METADATA_HISTORY": ("SYNC", "DISABLED"),
    "TRANSACTION_METADATA_HISTORY": ("SYNC", "DISABLED"),
    "INDEX_ADDRESS_SEGMENTS": ("ON", "OFF"),
    "INDEX_TRANSACTION_ACCOUNTS": ("ON", "OFF"),
}


@dataclass
class WriteResult:
    """What a write answers: replayed as is for a repeated Idempotency-Key."""

    status: int
    body: Any = None  # the JSON `data`, None for an empty answer
    replayed: bool = False


@dataclass
class TransactionRequest:
    """A parsed create-transaction body (docs/sandbox.md)."""

    postings: list[Posting] | None = None
    script: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    reference: str | None = None
    timestamp: datetime | None = None
    account_metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    force: bool = False

    def input_hash(self) -> str:
        """The hash the ledger stores with an Idempotency-Key: over the parsed input."""
        return fingerprint(
            {
                "kind": "transaction",
                "postings": [p.to_json() for p in self.postings] if self.postings else None,
                "script": self.script,
                "vars": self.variables,
                "metadata": self.metadata,
                "reference": self.reference,
                "timestamp": format_time(self.timestamp) if self.timestamp else None,
                "accountMetadata": self.account_metadata,
                "force": self.force,
            }
        )

    def program(self) -> Program:
        if self.postings is not None:
            return postings_program(self.postings, self.force)
        assert self.script is not None
        return compile_script(self.script, self.variables)


@dataclass
class AccountView:
    address: str
    metadata: dict[str, str]
    first_usage: datetime
    insertion_date: datetime
    updated_at: datetime
    volumes: dict[str, tuple[int, int]]  # asset -> (input, output), only assets ever moved

    def balances(self) -> dict[str, int]:
        return {asset: i - o for asset, (i, o) in self.volumes.items()}

    def render(self, expand_volumes: bool = False, expand_effective: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "address": self.address,
            "metadata": self.metadata,
            "firstUsage": format_time(self.first_usage),
            "insertionDate": format_time(self.insertion_date),
            "updatedAt": format_time(self.updated_at),
        }
        if expand_volumes and self.volumes:
            out["volumes"] = render_volumes(self.volumes)
        if expand_effective and self.volumes:
            # The latest effective volumes are the sums of all moves: the same numbers.
            out["effectiveVolumes"] = render_volumes(self.volumes)
        return out

    def record(self) -> dict[str, Any]:
        """What list filters see."""
        return {
            "address": self.address,
            "metadata": self.metadata,
            "balances": self.balances(),
            "first_usage": self.first_usage,
            "updated_at": self.updated_at,
        }


def fingerprint(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def render_volumes(volumes: Mapping[str, tuple[int, int]]) -> dict[str, dict[str, int]]:
    return {asset: {"input": i, "output": o, "balance": i - o} for asset, (i, o) in sorted(volumes.items())}


def nested_volumes(volumes: Mapping[tuple[str, str], tuple[int, int]]) -> dict[str, dict[str, Any]]:
    nested: dict[str, dict[str, tuple[int, int]]] = {}
    for (address, asset), pair in volumes.items():
        nested.setdefault(address, {})[asset] = pair
    return {address: render_volumes(assets) for address, assets in nested.items()}


def render_transaction(row: Record, expand_volumes: bool = True) -> dict[str, Any]:
    """A Transaction in the ledger's key order; volumes only when expanded."""
    out: dict[str, Any] = {
        "postings": row["postings"],
        "metadata": row["metadata"],
        "timestamp": format_time(row["timestamp"]),
    }
    if row["reference"]:
        out["reference"] = row["reference"]
    out["id"] = row["id"]
    out["insertedAt"] = format_time(row["inserted_at"])
    out["updatedAt"] = format_time(row["updated_at"])
    if row["reverted_at"] is not None:
        out["revertedAt"] = format_time(row["reverted_at"])
    if expand_volumes:
        out["postCommitVolumes"] = row["post_commit_volumes"]
    out["reverted"] = row["reverted_at"] is not None
    if expand_volumes:
        out["preCommitVolumes"] = row["pre_commit_volumes"]
    return out


def transaction_record(row: Record) -> dict[str, Any]:
    """What list filters see of a transaction."""
    return {
        "id": row["id"],
        "reference": row["reference"],
        "metadata": row["metadata"],
        "postings": row["postings"],
        "timestamp": row["timestamp"],
        "inserted_at": row["inserted_at"],
        "updated_at": row["updated_at"],
        "reverted": row["reverted_at"] is not None,
    }


def render_ledger(row: Record) -> dict[str, Any]:
    return {
        "name": row["name"],
        "addedAt": format_time(row["added_at"]),
        "bucket": row["bucket"],
        "metadata": row["metadata"],
        "features": row["features"],
        "id": row["id"],
    }


def account_view(row: Record, volumes: dict[str, tuple[int, int]]) -> AccountView:
    mapping = row
    return AccountView(
        address=mapping["address"],
        metadata=mapping["metadata"],
        first_usage=mapping["first_usage"],
        insertion_date=mapping["insertion_date"],
        updated_at=mapping["updated_at"],
        volumes=volumes,
    )
