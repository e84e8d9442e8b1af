"""The sandbox ledger: a double-entry ledger on the service's database (stack-apis §1).

Every write runs in one database transaction that holds, until commit, everything the ledger's
rules depend on:
* the Idempotency-Key row, inserted first, so two requests with one key serialise on it and the
  loser replays the winner's stored answer;
* the volume rows of every (account, asset) the transaction touches, locked in a fixed order
  (SELECT … FOR UPDATE on PostgreSQL; SQLite has one writer at a time) before balances are read,
  so two concurrent debits can never both spend the same funds;
* the ledger row, updated last to allocate the transaction id (ids are per ledger, from 1).
Locks are always taken in that order, so concurrent writers cannot deadlock on one another; a
deadlock or serialization failure reported by PostgreSQL anyway is retried.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import case, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Row
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from flows.sandbox.errors import (
    ALREADY_REVERT,
    CONFLICT,
    LEDGER_ALREADY_EXISTS,
    LEDGER_NOT_FOUND,
    METADATA_OVERRIDE,
    NO_POSTINGS,
    StackError,
    not_found,
    validation,
)
from flows.sandbox.filters import Predicate
from flows.sandbox.names import is_ledger_name
from flows.sandbox.numscript import (
    Posting,
    Program,
    compile_script,
    execute,
    postings_program,
)
from flows.sandbox.rendering import format_time, now
from flows.storage.database import Database, Reader
from flows.storage.sandbox_tables import (
    sandbox_accounts,
    sandbox_idempotency_keys,
    sandbox_ledgers,
    sandbox_transactions,
    sandbox_volumes,
)

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
REVERTS_KEY = "com.formance.spec/state/reverts"
# Write attempts when PostgreSQL reports a deadlock or two requests race on one key.
WRITE_ATTEMPTS = 5
# SQLSTATEs worth retrying: serialization_failure, deadlock_detected.
_RETRYABLE_STATES = frozenset({"40001", "40P01"})
# Candidate rows read per step when a list is filtered in Python.
_SCAN_BATCH = 500

Volumes = dict[tuple[str, str], tuple[int, int]]  # (address, asset) -> (input, output)


@dataclass
class WriteResult:
    """What a write answers: replayed as is for a repeated Idempotency-Key."""

    status: int
    body: Any = None  # the JSON `data`, None for an empty answer
    replayed: bool = False


@dataclass
class TransactionRequest:
    """A parsed create-transaction body (stack-apis §1.5)."""

    postings: list[Posting] | None = None
    script: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] = field(default_factory=dict)
    reference: str | None = None
    timestamp: datetime | None = None
    account_metadata: dict[str, dict[str, str]] = field(default_factory=dict)
    force: bool = False

    def fingerprint(self) -> str:
        """The hash the ledger stores with an Idempotency-Key: over the parsed input."""
        return _hash(
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
            out["volumes"] = _render_volumes(self.volumes)
        if expand_effective and self.volumes:
            # The latest effective volumes are the sums of all moves: the same numbers.
            out["effectiveVolumes"] = _render_volumes(self.volumes)
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


class _Retry(Exception):
    """Start the write over: another request committed what this one raced for."""


class _DryRun(Exception):
    def __init__(self, result: WriteResult) -> None:
        super().__init__("dry run")
        self.result = result


def _hash(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _render_volumes(volumes: Mapping[str, tuple[int, int]]) -> dict[str, dict[str, int]]:
    return {
        asset: {"input": i, "output": o, "balance": i - o} for asset, (i, o) in sorted(volumes.items())
    }


def _nested_volumes(volumes: Mapping[tuple[str, str], tuple[int, int]]) -> dict[str, dict[str, Any]]:
    nested: dict[str, dict[str, tuple[int, int]]] = {}
    for (address, asset), pair in volumes.items():
        nested.setdefault(address, {})[asset] = pair
    return {address: _render_volumes(assets) for address, assets in nested.items()}


def render_transaction(row: Mapping[str, Any], expand_volumes: bool = True) -> dict[str, Any]:
    """A Transaction in the ledger's key order (stack-apis §1.3); volumes only when expanded."""
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


def transaction_record(row: Mapping[str, Any]) -> dict[str, Any]:
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


def render_ledger(row: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": row["name"],
        "addedAt": format_time(row["added_at"]),
        "bucket": row["bucket"],
        "metadata": row["metadata"],
        "features": row["features"],
        "id": row["id"],
    }


class Ledger:
    """The ledger's operations; the HTTP layer (ledger_api) and Wallets both go through here."""

    def __init__(self, database: Database, *, auto_create_ledgers: bool = False) -> None:
        self.db = database
        self.auto_create = auto_create_ledgers

    def _insert(self, table: Any) -> Any:
        return (sqlite if self.db.is_sqlite else postgresql).insert(table)

    # -- ledgers ----------------------------------------------------------------------------

    async def create_ledger(
        self,
        name: str,
        bucket: str | None = None,
        metadata: dict[str, str] | None = None,
        features: dict[str, str] | None = None,
    ) -> None:
        if not is_ledger_name(name):
            raise validation(f"invalid ledger name {name!r}")
        if bucket is not None and not is_ledger_name(bucket):
            raise validation(f"invalid bucket name {bucket!r}")
        chosen = dict(DEFAULT_FEATURES)
        for key, value in (features or {}).items():
            if key not in FEATURE_VALUES:
                raise validation(f"unknown feature {key!r}")
            if value not in FEATURE_VALUES[key]:
                raise validation(f"invalid value {value!r} for feature {key}")
            chosen[key] = value
        try:
            async with self.db.write() as conn:
                await conn.execute(
                    sandbox_ledgers.insert().values(
                        name=name,
                        bucket=bucket or DEFAULT_BUCKET,
                        metadata=metadata or {},
                        features=chosen,
                        added_at=now(),
                        last_transaction_id=0,
                    )
                )
        except IntegrityError as exc:
            raise StackError(400, LEDGER_ALREADY_EXISTS, f"ledger {name!r} already exists") from exc

    async def ensure_ledgers(self, names: Mapping[str, str]) -> None:
        """Create the given ledgers (name -> bucket) unless they exist."""
        async with self.db.read() as conn:
            existing = (
                await conn.execute(
                    select(sandbox_ledgers.c.name).where(sandbox_ledgers.c.name.in_(list(names)))
                )
            ).scalars().all()
        names = {name: bucket for name, bucket in names.items() if name not in set(existing)}
        if names:
            async with self.db.write() as conn:
                await self._create_missing(conn, names)

    async def _create_missing(self, conn: AsyncConnection, names: Mapping[str, str]) -> None:
        rows = [
            {
                "name": name,
                "bucket": bucket,
                "metadata": {},
                "features": dict(DEFAULT_FEATURES),
                "added_at": now(),
                "last_transaction_id": 0,
            }
            for name, bucket in names.items()
        ]
        await conn.execute(self._insert(sandbox_ledgers).values(rows).on_conflict_do_nothing())

    async def get_ledger(self, name: str) -> dict[str, Any] | None:
        async with self.db.read() as conn:
            row = (
                await conn.execute(select(sandbox_ledgers).where(sandbox_ledgers.c.name == name))
            ).mappings().first()
        return render_ledger(row) if row else None

    async def list_ledgers(self, after_id: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        query = (
            select(sandbox_ledgers)
            .where(sandbox_ledgers.c.id > after_id)
            .order_by(sandbox_ledgers.c.id)
            .limit(limit + 1)
        )
        async with self.db.read() as conn:
            rows = (await conn.execute(query)).mappings().all()
        return [render_ledger(row) for row in rows[:limit]], len(rows) > limit

    async def require_ledger(self, name: str) -> None:
        """LEDGER_NOT_FOUND unless it exists (or is created, with auto-creation on)."""
        async with self.db.read() as conn:
            found = await self._ledger_exists(conn, name)
        if not found:
            if not self.auto_create:
                raise StackError(404, LEDGER_NOT_FOUND, f"ledger {name} not found")
            await self.ensure_ledgers({name: DEFAULT_BUCKET})

    async def _ledger_exists(self, conn: Reader | AsyncConnection, name: str) -> bool:
        query = select(sandbox_ledgers.c.id).where(sandbox_ledgers.c.name == name)
        return (await conn.execute(query)).first() is not None

    # -- the write path ---------------------------------------------------------------------

    async def _write(
        self,
        ledger: str,
        key: str | None,
        fingerprint: str,
        operation: Callable[[AsyncConnection], Awaitable[WriteResult]],
        dry_run: bool = False,
    ) -> WriteResult:
        if not is_ledger_name(ledger):
            raise StackError(404, LEDGER_NOT_FOUND, f"ledger {ledger} not found")
        for _ in range(WRITE_ATTEMPTS):
            try:
                async with self.db.write() as conn:
                    if not await self._ledger_exists(conn, ledger):
                        if not self.auto_create:
                            raise StackError(404, LEDGER_NOT_FOUND, f"ledger {ledger} not found")
                        await self._create_missing(conn, {ledger: DEFAULT_BUCKET})
                    if key is not None:
                        stored = await self._claim_key(conn, ledger, key, fingerprint, dry_run)
                        if stored is not None:
                            return stored
                    result = await operation(conn)
                    if dry_run:
                        raise _DryRun(result)
                    if key is not None:
                        await conn.execute(
                            update(sandbox_idempotency_keys)
                            .where(
                                sandbox_idempotency_keys.c.ledger == ledger,
                                sandbox_idempotency_keys.c.key == key,
                            )
                            .values(
                                status=result.status,
                                body=None if result.body is None else json.dumps(result.body),
                            )
                        )
                    return result
            except _Retry:
                continue
            except _DryRun as dry:
                return dry.result
            except DBAPIError as exc:
                if getattr(exc.orig, "sqlstate", None) in _RETRYABLE_STATES:
                    continue
                raise
        raise StackError(409, CONFLICT, f"duplicate idempotency key '{key}'")

    async def _claim_key(
        self, conn: AsyncConnection, ledger: str, key: str, fingerprint: str, dry_run: bool
    ) -> WriteResult | None:
        """The stored answer for a replay; None after claiming the key for this write."""
        table = sandbox_idempotency_keys
        stored = (
            await conn.execute(
                select(table.c.hash, table.c.status, table.c.body).where(
                    table.c.ledger == ledger, table.c.key == key
                )
            )
        ).first()
        if stored is not None:
            if stored.hash != fingerprint:
                raise validation(
                    f"invalid idempotency hash when using idempotency key '{key}', "
                    f"has computed '{fingerprint}' but '{stored.hash}' is stored"
                )
            body = None if stored.body is None else json.loads(stored.body)
            return WriteResult(stored.status, body, replayed=True)
        if dry_run:
            return None
        try:
            # On PostgreSQL this blocks while another transaction holds the same key, then
            # fails once that one commits: the retry finds its answer and replays it. (The
            # failed statement spoils the transaction, which is given up as a whole.)
            await conn.execute(
                table.insert().values(
                    ledger=ledger, key=key, hash=fingerprint, status=0, body=None, created_at=now()
                )
            )
        except IntegrityError as exc:
            raise _Retry() from exc
        return None

    async def _lock_volumes(
        self, conn: AsyncConnection, ledger: str, pairs: Iterable[tuple[str, str]]
    ) -> Volumes:
        ordered = sorted(set(pairs))
        if not ordered:
            return {}
        # Rows must exist to be locked: create the missing ones (0/0) first, in the same order.
        await conn.execute(
            self._insert(sandbox_volumes)
            .values(
                [
                    {"ledger": ledger, "address": address, "asset": asset, "input": 0, "output": 0}
                    for address, asset in ordered
                ]
            )
            .on_conflict_do_nothing()
        )
        query = (
            select(sandbox_volumes.c.address, sandbox_volumes.c.asset, sandbox_volumes.c.input, sandbox_volumes.c.output)
            .where(
                sandbox_volumes.c.ledger == ledger,
                tuple_(sandbox_volumes.c.address, sandbox_volumes.c.asset).in_(ordered),
            )
            .order_by(sandbox_volumes.c.address, sandbox_volumes.c.asset)
            .with_for_update()
        )
        rows = (await conn.execute(query)).all()
        return {(row.address, row.asset): (row.input, row.output) for row in rows}

    async def _touch_accounts(
        self,
        conn: AsyncConnection,
        ledger: str,
        addresses: Iterable[str],
        first_usage: datetime,
        metadata: Mapping[str, Mapping[str, str]],
    ) -> None:
        """Create or update account rows; merge metadata key by key (never removing keys)."""
        ordered = sorted(set(addresses) | set(metadata))
        if not ordered:
            return
        moment = now()
        table = sandbox_accounts
        insert = self._insert(table).values(
            [
                {
                    "ledger": ledger,
                    "address": address,
                    "metadata": {},
                    "first_usage": first_usage,
                    "insertion_date": moment,
                    "updated_at": moment,
                }
                for address in ordered
            ]
        )
        await conn.execute(
            insert.on_conflict_do_update(
                index_elements=[table.c.ledger, table.c.address],
                set_={
                    "first_usage": case(
                        (table.c.first_usage > insert.excluded.first_usage, insert.excluded.first_usage),
                        else_=table.c.first_usage,
                    ),
                    "updated_at": insert.excluded.updated_at,
                },
            )
        )
        changed = [address for address in ordered if metadata.get(address)]
        if not changed:
            return
        rows = (
            await conn.execute(
                select(table.c.address, table.c.metadata).where(
                    table.c.ledger == ledger, table.c.address.in_(changed)
                )
            )
        ).all()
        for row in rows:
            merged = {**row.metadata, **metadata[row.address]}
            await conn.execute(
                update(table)
                .where(table.c.ledger == ledger, table.c.address == row.address)
                .values(metadata=merged)
            )

    async def _commit(
        self,
        conn: AsyncConnection,
        ledger: str,
        postings: Sequence[Posting],
        metadata: dict[str, str],
        timestamp: datetime | None,
        reference: str | None,
        account_metadata: Mapping[str, Mapping[str, str]],
        volumes: Volumes,
    ) -> dict[str, Any]:
        """Insert a checked transaction and apply its postings; the rendered transaction."""
        moment = now()
        effective = timestamp or moment
        running = dict(volumes)
        pre: Volumes = {}
        for posting in postings:
            for address in (posting.source, posting.destination):
                key = (address, posting.asset)
                pre.setdefault(key, running.get(key, (0, 0)))
            i, o = running.get((posting.source, posting.asset), (0, 0))
            running[(posting.source, posting.asset)] = (i, o + posting.amount)
            i, o = running.get((posting.destination, posting.asset), (0, 0))
            running[(posting.destination, posting.asset)] = (i + posting.amount, o)
        post = {key: running[key] for key in pre}

        addresses = {p.source for p in postings} | {p.destination for p in postings}
        await self._touch_accounts(conn, ledger, addresses, effective, account_metadata)

        transaction_id = (
            await conn.execute(
                update(sandbox_ledgers)
                .where(sandbox_ledgers.c.name == ledger)
                .values(last_transaction_id=sandbox_ledgers.c.last_transaction_id + 1)
                .returning(sandbox_ledgers.c.last_transaction_id)
            )
        ).scalar_one()
        # Checked under the ledger row's lock, so a concurrent twin has committed or not started.
        if reference is not None and await self._reference_taken(conn, ledger, reference):
            raise StackError(409, CONFLICT, f'duplicate reference "{reference}"')
        row = {
            "ledger": ledger,
            "id": transaction_id,
            "postings": [p.to_json() for p in postings],
            "metadata": metadata,
            "timestamp": effective,
            "reference": reference,
            "inserted_at": moment,
            "updated_at": moment,
            "reverted_at": None,
            "pre_commit_volumes": _nested_volumes(pre),
            "post_commit_volumes": _nested_volumes(post),
        }
        try:
            await conn.execute(sandbox_transactions.insert().values(**row))
        except IntegrityError as exc:
            raise StackError(409, CONFLICT, f'duplicate reference "{reference}"') from exc
        changed = [key for key in post if post[key] != volumes.get(key)]
        for address, asset in changed:
            i, o = post[(address, asset)]
            await conn.execute(
                update(sandbox_volumes)
                .where(
                    sandbox_volumes.c.ledger == ledger,
                    sandbox_volumes.c.address == address,
                    sandbox_volumes.c.asset == asset,
                )
                .values(input=i, output=o)
            )
        return render_transaction(row)

    async def _reference_taken(self, conn: AsyncConnection, ledger: str, reference: str) -> bool:
        query = select(sandbox_transactions.c.id).where(
            sandbox_transactions.c.ledger == ledger, sandbox_transactions.c.reference == reference
        )
        return (await conn.execute(query)).first() is not None

    async def _run(
        self,
        conn: AsyncConnection,
        ledger: str,
        program: Program,
        metadata: dict[str, str],
        timestamp: datetime | None,
        reference: str | None,
        account_metadata: Mapping[str, Mapping[str, str]],
    ) -> dict[str, Any]:
        volumes = await self._lock_volumes(conn, ledger, program.volumes())
        outcome = execute(program, {key: i - o for key, (i, o) in volumes.items()})
        if not outcome.postings:
            raise StackError(400, NO_POSTINGS, "the script produced no postings")
        for key in outcome.transaction_metadata:
            if key in metadata:
                raise StackError(
                    400, METADATA_OVERRIDE, f"cannot override metadata '{key}' set by the script"
                )
        merged_accounts = {a: dict(m) for a, m in account_metadata.items()}
        for address, values in outcome.account_metadata.items():
            merged_accounts.setdefault(address, {}).update(values)
        return await self._commit(
            conn,
            ledger,
            outcome.postings,
            {**metadata, **outcome.transaction_metadata},
            timestamp,
            reference,
            merged_accounts,
            volumes,
        )

    # -- writes -----------------------------------------------------------------------------

    async def create_transaction(
        self,
        ledger: str,
        request: TransactionRequest,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> WriteResult:
        async def operation(conn: AsyncConnection) -> WriteResult:
            transaction = await self._run(
                conn,
                ledger,
                request.program(),
                request.metadata,
                request.timestamp,
                request.reference,
                request.account_metadata,
            )
            return WriteResult(200, transaction)

        return await self._write(ledger, idempotency_key, request.fingerprint(), operation, dry_run)

    async def revert_transaction(
        self,
        ledger: str,
        transaction_id: int,
        metadata: dict[str, str],
        *,
        force: bool = False,
        at_effective_date: bool = False,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> WriteResult:
        fingerprint = _hash(
            {
                "kind": "revert",
                "id": transaction_id,
                "metadata": metadata,
                "force": force,
                "atEffectiveDate": at_effective_date,
            }
        )

        async def operation(conn: AsyncConnection) -> WriteResult:
            table = sandbox_transactions
            original = (
                await conn.execute(
                    select(table.c.postings, table.c.timestamp, table.c.reverted_at)
                    .where(table.c.ledger == ledger, table.c.id == transaction_id)
                    .with_for_update()
                )
            ).first()
            if original is None:
                raise not_found(f"transaction {transaction_id} not found")
            if original.reverted_at is not None:
                raise StackError(400, ALREADY_REVERT, f"transaction {transaction_id} already reverted")
            reversed_postings = [
                Posting(p["destination"], p["source"], int(p["amount"]), p["asset"])
                for p in reversed(original.postings)
            ]
            transaction = await self._run(
                conn,
                ledger,
                postings_program(reversed_postings, force),
                {**metadata, REVERTS_KEY: str(transaction_id)},
                original.timestamp if at_effective_date else None,
                None,
                {},
            )
            moment = now()
            await conn.execute(
                update(table)
                .where(table.c.ledger == ledger, table.c.id == transaction_id)
                .values(reverted_at=moment, updated_at=moment)
            )
            return WriteResult(201, transaction)

        return await self._write(ledger, idempotency_key, fingerprint, operation, dry_run)

    async def add_account_metadata(
        self,
        ledger: str,
        address: str,
        metadata: dict[str, str],
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> WriteResult:
        fingerprint = _hash({"kind": "account-metadata", "address": address, "metadata": metadata})

        async def operation(conn: AsyncConnection) -> WriteResult:
            await self._touch_accounts(conn, ledger, [address], now(), {address: metadata})
            return WriteResult(204)

        return await self._write(ledger, idempotency_key, fingerprint, operation, dry_run)

    # -- reads ------------------------------------------------------------------------------

    async def get_transaction(self, ledger: str, transaction_id: int) -> dict[str, Any] | None:
        query = select(sandbox_transactions).where(
            sandbox_transactions.c.ledger == ledger, sandbox_transactions.c.id == transaction_id
        )
        async with self.db.read() as conn:
            row = (await conn.execute(query)).mappings().first()
        return dict(row) if row else None

    async def list_transactions(
        self, ledger: str, before_id: int | None, limit: int, predicate: Predicate | None
    ) -> tuple[list[dict[str, Any]], bool]:
        """Newest first; rows with an id below `before_id` when paging on."""
        table = sandbox_transactions
        found: list[dict[str, Any]] = []
        cursor = before_id
        async with self.db.read() as conn:
            while True:
                query = select(table).where(table.c.ledger == ledger)
                if cursor is not None:
                    query = query.where(table.c.id < cursor)
                batch = limit + 1 if predicate is None else _SCAN_BATCH
                rows = (await conn.execute(query.order_by(table.c.id.desc()).limit(batch))).mappings().all()
                for row in rows:
                    if predicate is None or predicate(transaction_record(row)):
                        found.append(dict(row))
                if len(found) > limit or len(rows) < batch:
                    break
                cursor = rows[-1]["id"]
        return found[:limit], len(found) > limit

    async def get_account(self, ledger: str, address: str) -> AccountView | None:
        views = await self._accounts(ledger, [address])
        return views[0] if views else None

    async def _accounts(self, ledger: str, addresses: Sequence[str]) -> list[AccountView]:
        accounts = sandbox_accounts
        async with self.db.read() as conn:
            rows = (
                await conn.execute(
                    select(accounts).where(accounts.c.ledger == ledger, accounts.c.address.in_(addresses))
                )
            ).mappings().all()
            volumes = await self._volumes_of(conn, ledger, [row["address"] for row in rows])
        return [_account_view(row, volumes.get(row["address"], {})) for row in rows]

    async def _volumes_of(
        self, conn: Reader, ledger: str, addresses: Sequence[str]
    ) -> dict[str, dict[str, tuple[int, int]]]:
        if not addresses:
            return {}
        table = sandbox_volumes
        rows = (
            await conn.execute(
                select(table.c.address, table.c.asset, table.c.input, table.c.output).where(
                    table.c.ledger == ledger,
                    table.c.address.in_(list(addresses)),
                    # Rows created only to be locked, by a send that moved nothing from them.
                    or_(table.c.input != 0, table.c.output != 0),
                )
            )
        ).all()
        found: dict[str, dict[str, tuple[int, int]]] = {}
        for row in rows:
            found.setdefault(row.address, {})[row.asset] = (row.input, row.output)
        return found

    async def list_accounts(
        self, ledger: str, after: str | None, limit: int, predicate: Predicate | None
    ) -> tuple[list[AccountView], bool]:
        """Ordered by address; only accounts after `after` when paging on."""
        table = sandbox_accounts
        found: list[AccountView] = []
        cursor = after
        async with self.db.read() as conn:
            while True:
                query = select(table).where(table.c.ledger == ledger)
                if cursor is not None:
                    query = query.where(table.c.address > cursor)
                batch = limit + 1 if predicate is None else _SCAN_BATCH
                rows = (await conn.execute(query.order_by(table.c.address).limit(batch))).mappings().all()
                volumes = await self._volumes_of(conn, ledger, [row["address"] for row in rows])
                for row in rows:
                    view = _account_view(row, volumes.get(row["address"], {}))
                    if predicate is None or predicate(view.record()):
                        found.append(view)
                if len(found) > limit or len(rows) < batch:
                    break
                cursor = rows[-1]["address"]
        return found[:limit], len(found) > limit

    async def aggregate_balances(self, ledger: str, predicate: Predicate | None) -> dict[str, int]:
        totals: dict[str, int] = {}
        after: str | None = None
        while True:
            page, more = await self.list_accounts(ledger, after, _SCAN_BATCH, predicate)
            for view in page:
                for asset, balance in view.balances().items():
                    totals[asset] = totals.get(asset, 0) + balance
            if not more:
                return dict(sorted(totals.items()))
            after = page[-1].address


def _account_view(row: Mapping[str, Any] | Row[Any], volumes: dict[str, tuple[int, int]]) -> AccountView:
    mapping: Mapping[str, Any] = row if isinstance(row, Mapping) else row._mapping
    return AccountView(
        address=mapping["address"],
        metadata=mapping["metadata"],
        first_usage=mapping["first_usage"],
        insertion_date=mapping["insertion_date"],
        updated_at=mapping["updated_at"],
        volumes=volumes,
    )
