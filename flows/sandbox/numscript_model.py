"""The programs the sandbox ledger runs: a Numscript program after compilation, and the
program a postings request stands for."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from flows.ledger_syntax import WORLD

# -- program model --------------------------------------------------------------------------


@dataclass(frozen=True)
class Monetary:
    asset: str
    amount: int | None  # None: `*`, everything the sources can give


@dataclass(frozen=True)
class AccountSource:
    address: str
    overdraft: Literal["none", "unbounded", "bounded"] = "none"
    bound: Monetary | None = None  # for "allowing overdraft up to [ASSET N]"


@dataclass(frozen=True)
class InOrderSource:
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class CappedSource:
    cap: Monetary
    source: Source


@dataclass(frozen=True)
class AllotmentSource:
    portions: tuple[Fraction | None, ...]  # None: `remaining`
    sources: tuple[Source, ...]


Source = AccountSource | InOrderSource | CappedSource | AllotmentSource


@dataclass(frozen=True)
class Kept:
    pass


@dataclass(frozen=True)
class AccountDestination:
    address: str


@dataclass(frozen=True)
class InOrderDestination:
    caps: tuple[Monetary, ...]
    targets: tuple[Target, ...]
    remaining: Target


@dataclass(frozen=True)
class AllotmentDestination:
    portions: tuple[Fraction | None, ...]
    targets: tuple[Target, ...]


Destination = AccountDestination | InOrderDestination | AllotmentDestination
Target = Destination | Kept


@dataclass(frozen=True)
class Send:
    monetary: Monetary
    source: Source
    destination: Destination


@dataclass(frozen=True)
class SetTxMeta:
    key: str
    value: str


@dataclass(frozen=True)
class SetAccountMeta:
    address: str
    key: str
    value: str


Statement = Send | SetTxMeta | SetAccountMeta


@dataclass(frozen=True)
class Posting:
    source: str
    destination: str
    amount: int
    asset: str

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "destination": self.destination,
            "amount": self.amount,
            "asset": self.asset,
        }


@dataclass(frozen=True)
class Program:
    statements: tuple[Statement, ...]

    def volumes(self) -> set[tuple[str, str]]:
        """Every (account, asset) the program may read or move: what the caller must lock."""
        found: set[tuple[str, str]] = set()
        for statement in self.statements:
            if isinstance(statement, Send):
                asset = statement.monetary.asset
                for address in source_accounts(statement.source) | destination_accounts(statement.destination):
                    found.add((address, asset))
        return found


def postings_program(postings: list[Posting], force: bool) -> Program:
    """What the ledger runs for a postings request: one `send` per posting, in order; `force`
    gives every non-world source an unbounded overdraft."""
    statements: list[Statement] = []
    for posting in postings:
        overdraft: Literal["none", "unbounded"] = "unbounded" if force and posting.source != WORLD else "none"
        statements.append(
            Send(
                Monetary(posting.asset, posting.amount),
                AccountSource(posting.source, overdraft),
                AccountDestination(posting.destination),
            )
        )
    return Program(tuple(statements))


def source_accounts(source: Source) -> set[str]:
    if isinstance(source, AccountSource):
        return {source.address}
    if isinstance(source, CappedSource):
        return source_accounts(source.source)
    return {address for child in source.sources for address in source_accounts(child)}


def destination_accounts(destination: Target) -> set[str]:
    if isinstance(destination, AccountDestination):
        return {destination.address}
    if isinstance(destination, InOrderDestination):
        found: set[str] = set()
        for target in (*destination.targets, destination.remaining):
            found |= destination_accounts(target)
        return found
    if isinstance(destination, AllotmentDestination):
        return {a for target in destination.targets for a in destination_accounts(target)}
    return set()
