"""The sandbox ledger: a double-entry ledger on the service's database (docs/sandbox.md).

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

import json
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import case, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from flows.gocompat.timestamps import now
from flows.sandbox.errors import (
    ALREADY_REVERT,
    CONFLICT,
    LEDGER_ALREADY_EXISTS,
    LEDGER_NOT_FOUND,
    METADATA_OVERRIDE,
    NO_POSTINGS,
    OutOfRange,
    StackError,
    not_found,
    validation,
)
from flows.sandbox.events import Publisher
from flows.sandbox.filters import Predicate
from flows.sandbox.ledger_model import (
    DEFAULT_BUCKET,
    DEFAULT_FEATURES,
    FEATURE_VALUES,
    AccountView,
    TransactionRequest,
    Volumes,
    WriteResult,
    account_view,
    fingerprint,
    nested_volumes,
    render_ledger,
    render_transaction,
    transaction_record,
)
from flows.sandbox.names import MAX_AMOUNT, is_ledger_name
from flows.sandbox.numscript import Posting, Program, execute, postings_program
from flows.sandbox.tables import (
    sandbox_accounts,
    sandbox_idempotency_keys,
    sandbox_ledgers,
    sandbox_transactions,
    sandbox_volumes,
)
from flows.storage.database import Database, Reader

__all__ = ["DEFAULT_BUCKET", "AccountView", "Ledger", "TransactionRequest", "WriteResult", "render_transaction"]

REVERTS_KEY = "com.formance.spec/state/reverts"
# Write attempts when PostgreSQL reports a deadlock or two requests race on one key.
WRITE_ATTEMPTS = 5
# SQLSTATEs worth retrying: serialization_failure, deadlock_detected.
_RETRYABLE_STATES = frozenset({"40001", "40P01"})
# Candidate rows read per step when a list is filtered in Python.
_SCAN_BATCH = 500


class _Retry(Exception):
    """Start the write over: another request committed what this one raced for."""


class _DryRun(Exception):
    def __init__(self, result: WriteResult) -> None:
        super().__init__("dry run")
        self.result = result


class Ledger:
    """The ledger's operations; the HTTP layer (ledger_api) and Wallets both go through here."""

    def __init__(self, database: Database, *, auto_create_ledgers: bool = False, events: Publisher | None = None) -> None:
        self.db = database
        self.auto_create = auto_create_ledgers
        # Events are published once a write has committed, never for a replay or a dry run.
        self.events = events or Publisher()

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
            existing = (await conn.execute(select(sandbox_ledgers.c.name).where(sandbox_ledgers.c.name.in_(list(names))))).scalars().all()
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
            row = (await conn.execute(select(sandbox_ledgers).where(sandbox_ledgers.c.name == name))).mappings().first()
        return render_ledger(row) if row else None

    async def list_ledgers(self, after_id: int, limit: int) -> tuple[list[dict[str, Any]], bool]:
        query = select(sandbox_ledgers).where(sandbox_ledgers.c.id > after_id).order_by(sandbox_ledgers.c.id).limit(limit + 1)
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
        input_hash: str,
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
                        stored = await self._claim_key(conn, ledger, key, input_hash, dry_run)
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

    async def _claim_key(self, conn: AsyncConnection, ledger: str, key: str, input_hash: str, dry_run: bool) -> WriteResult | None:
        """The stored answer for a replay; None after claiming the key for this write."""
        table = sandbox_idempotency_keys
        stored = (
            await conn.execute(select(table.c.hash, table.c.status, table.c.body).where(table.c.ledger == ledger, table.c.key == key))
        ).first()
        if stored is not None:
            if stored.hash != input_hash:
                raise validation(
                    f"invalid idempotency hash when using idempotency key '{key}', "
                    f"has computed '{input_hash}' but '{stored.hash}' is stored"
                )
            body = None if stored.body is None else json.loads(stored.body)
            return WriteResult(stored.status, body, replayed=True)
        if dry_run:
            return None
        try:
            # On PostgreSQL this blocks while another transaction holds the same key, then
            # fails once that one commits: the retry finds its answer and replays it. (The
            # failed statement spoils the transaction, which is given up as a whole.)
            await conn.execute(table.insert().values(ledger=ledger, key=key, hash=input_hash, status=0, body=None, created_at=now()))
        except IntegrityError as exc:
            raise _Retry() from exc
        return None

    async def _lock_volumes(self, conn: AsyncConnection, ledger: str, pairs: Iterable[tuple[str, str]]) -> Volumes:
        ordered = sorted(set(pairs))
        if not ordered:
            return {}
        # Rows must exist to be locked: create the missing ones (0/0) first, in the same order.
        await conn.execute(
            self._insert(sandbox_volumes)
            .values([{"ledger": ledger, "address": address, "asset": asset, "input": 0, "output": 0} for address, asset in ordered])
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
            await conn.execute(select(table.c.address, table.c.metadata).where(table.c.ledger == ledger, table.c.address.in_(changed)))
        ).all()
        for row in rows:
            merged = {**row.metadata, **metadata[row.address]}
            await conn.execute(update(table).where(table.c.ledger == ledger, table.c.address == row.address).values(metadata=merged))

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
        for (address, asset), (received, sent) in post.items():
            if max(received, sent) > MAX_AMOUNT:
                # Checked before anything of this transaction is written (and rolled back).
                raise OutOfRange(f"the volumes of {address} in {asset} would exceed 2^256 - 1")

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
            "pre_commit_volumes": nested_volumes(pre),
            "post_commit_volumes": nested_volumes(post),
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
    ) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
        """The rendered transaction and the account metadata it wrote."""
        volumes = await self._lock_volumes(conn, ledger, program.volumes())
        outcome = execute(program, {key: i - o for key, (i, o) in volumes.items()})
        if not outcome.postings:
            raise StackError(400, NO_POSTINGS, "the script produced no postings")
        for key in outcome.transaction_metadata:
            if key in metadata:
                raise StackError(400, METADATA_OVERRIDE, f"cannot override metadata '{key}' set by the script")
        merged_accounts = {a: dict(m) for a, m in account_metadata.items()}
        for address, values in outcome.account_metadata.items():
            merged_accounts.setdefault(address, {}).update(values)
        transaction = await self._commit(
            conn,
            ledger,
            outcome.postings,
            {**metadata, **outcome.transaction_metadata},
            timestamp,
            reference,
            merged_accounts,
            volumes,
        )
        return transaction, merged_accounts

    # -- writes -----------------------------------------------------------------------------

    async def create_transaction(
        self,
        ledger: str,
        request: TransactionRequest,
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> WriteResult:
        written: dict[str, dict[str, str]] = {}

        async def operation(conn: AsyncConnection) -> WriteResult:
            transaction, accounts = await self._run(
                conn,
                ledger,
                request.program(),
                request.metadata,
                request.timestamp,
                request.reference,
                request.account_metadata,
            )
            written.clear()
            written.update(accounts)
            return WriteResult(200, transaction)

        result = await self._write(ledger, idempotency_key, request.input_hash(), operation, dry_run)
        if not dry_run and not result.replayed:
            await self.events.committed_transaction(ledger, result.body, written)
        return result

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
        input_hash = fingerprint(
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
            reversed_postings = [Posting(p["destination"], p["source"], int(p["amount"]), p["asset"]) for p in reversed(original.postings)]
            transaction, _ = await self._run(
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
                update(table).where(table.c.ledger == ledger, table.c.id == transaction_id).values(reverted_at=moment, updated_at=moment)
            )
            row = (await conn.execute(select(table).where(table.c.ledger == ledger, table.c.id == transaction_id))).mappings().one()
            reverted.clear()
            reverted.update(render_transaction(row))
            return WriteResult(201, transaction)

        reverted: dict[str, Any] = {}
        result = await self._write(ledger, idempotency_key, input_hash, operation, dry_run)
        if not dry_run and not result.replayed:
            await self.events.reverted_transaction(ledger, reverted, result.body)
        return result

    async def add_account_metadata(
        self,
        ledger: str,
        address: str,
        metadata: dict[str, str],
        idempotency_key: str | None = None,
        dry_run: bool = False,
    ) -> WriteResult:
        input_hash = fingerprint({"kind": "account-metadata", "address": address, "metadata": metadata})

        async def operation(conn: AsyncConnection) -> WriteResult:
            await self._touch_accounts(conn, ledger, [address], now(), {address: metadata})
            return WriteResult(204)

        result = await self._write(ledger, idempotency_key, input_hash, operation, dry_run)
        if not dry_run and not result.replayed:
            await self.events.saved_metadata(ledger, "ACCOUNT", address, metadata)
        return result

    # -- reads ------------------------------------------------------------------------------

    async def get_transaction(self, ledger: str, transaction_id: int) -> dict[str, Any] | None:
        query = select(sandbox_transactions).where(sandbox_transactions.c.ledger == ledger, sandbox_transactions.c.id == transaction_id)
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
                (await conn.execute(select(accounts).where(accounts.c.ledger == ledger, accounts.c.address.in_(addresses))))
                .mappings()
                .all()
            )
            volumes = await self._volumes_of(conn, ledger, [row["address"] for row in rows])
        return [account_view(row, volumes.get(row["address"], {})) for row in rows]

    async def _volumes_of(self, conn: Reader, ledger: str, addresses: Sequence[str]) -> dict[str, dict[str, tuple[int, int]]]:
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
                    view = account_view(row, volumes.get(row["address"], {}))
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
