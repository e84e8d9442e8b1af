"""Executing a compiled program on balances: postings, metadata, or INSUFFICIENT_FUND.

Pure: it takes the current balances of the accounts involved (the caller has locked them) and
follows the machine runtime's semantics: sources are drained in order, `world` and unbounded
overdrafts have no limit, an account with a negative balance has nothing to give, funds received
earlier in the same program can be spent, portions are floored then topped up in order.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from flows.ledger_syntax import WORLD
from flows.sandbox.errors import StackError, compilation_failed, insufficient_fund
from flows.sandbox.numscript_model import (
    AccountDestination,
    AccountSource,
    CappedSource,
    InOrderDestination,
    InOrderSource,
    Kept,
    Posting,
    Program,
    Send,
    SetTxMeta,
    Source,
    Target,
    source_accounts,
)


@dataclass
class Outcome:
    postings: list[Posting] = field(default_factory=list)
    transaction_metadata: dict[str, str] = field(default_factory=dict)
    account_metadata: dict[str, dict[str, str]] = field(default_factory=dict)


def allocate(total: int, portions: list[Fraction]) -> list[int]:
    """The machine's split: floor every share, then hand out the rest one unit at a time in order."""
    shares = [total * portion.numerator // portion.denominator for portion in portions]
    left = total - sum(shares)
    for index in range(len(shares)):
        if left <= 0:
            break
        shares[index] += 1
        left -= 1
    return shares


def _resolve_remaining(portions: tuple[Fraction | None, ...]) -> list[Fraction]:
    known = sum((p for p in portions if p is not None), Fraction(0))
    return [p if p is not None else 1 - known for p in portions]


class _Run:
    def __init__(self, balances: Mapping[tuple[str, str], int]) -> None:
        self.balances: dict[tuple[str, str], int] = dict(balances)
        self.taken: dict[str, int] = defaultdict(int)  # within the current send

    def available(self, source: AccountSource, asset: str) -> int | None:
        """What the account can still give in this send; None for no limit."""
        if source.address == WORLD or source.overdraft == "unbounded":
            return None
        balance = self.balances.get((source.address, asset), 0) - self.taken[source.address]
        if source.overdraft == "bounded" and source.bound is not None:
            return max(0, balance + (source.bound.amount or 0))
        return max(0, balance)

    def take(self, source: Source, asset: str, wanted: int | None) -> list[tuple[str, int]]:
        """Funding parts from `source`: up to `wanted`, or all it has when `wanted` is None."""
        if isinstance(source, AccountSource):
            available = self.available(source, asset)
            if available is None:
                if wanted is None:
                    raise compilation_failed(f"cannot send all the funds of @{source.address}: it has an unbounded overdraft")
                amount = wanted
            else:
                amount = available if wanted is None else min(available, wanted)
            self.taken[source.address] += amount
            return [(source.address, amount)]
        if isinstance(source, CappedSource):
            assert source.cap.amount is not None
            cap = source.cap.amount if wanted is None else min(source.cap.amount, wanted)
            return self.take(source.source, asset, cap)
        if isinstance(source, InOrderSource):
            parts: list[tuple[str, int]] = []
            for child in source.sources:
                remaining = None if wanted is None else wanted - sum(a for _, a in parts)
                if remaining == 0:
                    break
                parts.extend(self.take(child, asset, remaining))
            return parts
        if wanted is None:
            raise compilation_failed("cannot send all the funds of an allotment of sources")
        parts = []
        shares = allocate(wanted, _resolve_remaining(source.portions))
        for child, share in zip(source.sources, shares, strict=True):
            got = self.take(child, asset, share)
            if sum(a for _, a in got) < share:
                raise _insufficient(child)
            parts.extend(got)
        return parts

    def give(self, destination: Target, amount: int) -> list[tuple[str | None, int]]:
        """Receiving parts; None is `kept` (the money stays with its source)."""
        if isinstance(destination, Kept):
            return [(None, amount)]
        if isinstance(destination, AccountDestination):
            return [(destination.address, amount)]
        if isinstance(destination, InOrderDestination):
            parts: list[tuple[str | None, int]] = []
            left = amount
            for cap, target in zip(destination.caps, destination.targets, strict=True):
                assert cap.amount is not None
                share = min(cap.amount, left)
                parts.extend(self.give(target, share))
                left -= share
            parts.extend(self.give(destination.remaining, left))
            return parts
        shares = allocate(amount, _resolve_remaining(destination.portions))
        return [part for target, share in zip(destination.targets, shares, strict=True) for part in self.give(target, share)]

    def send(self, send: Send) -> list[Posting]:
        asset = send.monetary.asset
        self.taken.clear()
        funding = self.take(send.source, asset, send.monetary.amount)
        total = sum(amount for _, amount in funding)
        if send.monetary.amount is not None and total < send.monetary.amount:
            raise _insufficient(send.source)
        receiving = self.give(send.destination, total)
        postings = _pair(funding, receiving, asset)
        if total == 0 and not postings:
            # A zero send still records its posting (what the postings API echoes back).
            first_source = funding[0][0] if funding else next(iter(source_accounts(send.source)))
            first_destination = next((a for a, _ in receiving if a is not None), None)
            if first_destination is not None:
                postings = [Posting(first_source, first_destination, 0, asset)]
        for posting in postings:
            self.balances[(posting.source, asset)] = self.balances.get((posting.source, asset), 0) - posting.amount
            self.balances[(posting.destination, asset)] = self.balances.get((posting.destination, asset), 0) + posting.amount
        return postings


def _pair(funding: list[tuple[str, int]], receiving: list[tuple[str | None, int]], asset: str) -> list[Posting]:
    """Match funding parts with receiving parts in order, one posting per overlap; what is
    paired with `kept` never leaves its source."""
    postings: list[Posting] = []
    sources = [address for address, amount in funding if amount > 0]
    left = [amount for _, amount in funding if amount > 0]
    index = 0
    for destination, wanted in receiving:
        while wanted > 0 and index < len(sources):
            moved = min(wanted, left[index])
            if destination is not None:
                postings.append(Posting(sources[index], destination, moved, asset))
            wanted -= moved
            left[index] -= moved
            if left[index] == 0:
                index += 1
    return postings


def _insufficient(source: Source) -> StackError:
    limited = sorted(address for address in source_accounts(source) if address != WORLD)
    names = ", ".join(f"@{a}" for a in limited) or "source"
    return insufficient_fund(f"running numscript: account(s) {names} had/have insufficient funds")


def execute(program: Program, balances: Mapping[tuple[str, str], int]) -> Outcome:
    """Run the program on the given balances (missing pairs are 0)."""
    run = _Run(balances)
    outcome = Outcome()
    for statement in program.statements:
        if isinstance(statement, Send):
            outcome.postings.extend(run.send(statement))
        elif isinstance(statement, SetTxMeta):
            outcome.transaction_metadata[statement.key] = statement.value
        else:
            outcome.account_metadata.setdefault(statement.address, {})[statement.key] = statement.value
    return outcome
