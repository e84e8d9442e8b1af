"""Rows nested in a row: the rows of a correlated subquery as one JSON array of arrays, so that a
record and its children come back in one statement (flows/storage/repository.py reads an
instance and its stages so). On SQLite a second statement is a second pass through the driver
and its conversions; on PostgreSQL, a second round trip.

`nested_rows(*columns)` is the aggregate; its type gives the rows back as lists, each value as
its column's type would: aware UTC times, decoded JSON.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import JSON, ColumnElement, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from flows.storage.database import json_from_sqlite
from flows.storage.tables import UTCDateTime, utc_from_sqlite

Convert = Callable[[Any], Any]


def _utc_from_iso(value: str | None) -> datetime | None:
    # PostgreSQL's JSON spells a naive timestamp in ISO 8601; the column holds UTC.
    return None if value is None else datetime.fromisoformat(value).replace(tzinfo=UTC)


def _as_is(value: Any) -> Any:
    return value


def _converter(column_type: Any, dialect: Dialect) -> Convert:
    if isinstance(column_type, UTCDateTime):
        return utc_from_sqlite if dialect.name == "sqlite" else _utc_from_iso
    if isinstance(column_type, JSON) and dialect.name == "sqlite":
        # SQLite nests a JSON column's text as a string.
        return json_from_sqlite
    return _as_is


class NestedRows(TypeDecorator[list[list[Any]]]):
    """The JSON array of `nested_rows`, back as rows (lists) in the order of their first column
    (an aggregate's order is not the subquery's, and SQLite 3.40 has no ORDER BY inside one)."""

    impl = JSON
    cache_ok = True

    def __init__(self, column_types: tuple[Any, ...]) -> None:
        super().__init__()
        self.column_types = column_types

    def result_processor(self, dialect: Dialect, coltype: Any) -> Convert:
        converters = [_converter(column_type, dialect) for column_type in self.column_types]
        conversions = [(position, convert) for position, convert in enumerate(converters) if convert is not _as_is]
        if dialect.name == "sqlite":
            return lambda value: _rows(json_from_sqlite(value), conversions)
        decode = super().result_processor(dialect, coltype) or _as_is
        return lambda value: _rows(decode(value), conversions)


def _rows(rows: list[list[Any]] | None, conversions: Sequence[tuple[int, Convert]]) -> list[list[Any]]:
    # PostgreSQL aggregates no rows to NULL, SQLite to []. The lists are fresh from the decoder:
    # converted in place.
    if not rows:
        return []
    for row in rows:
        for position, convert in conversions:
            value = row[position]
            if value is not None:
                row[position] = convert(value)
    rows.sort(key=itemgetter(0))
    return rows


class nested_rows(FunctionElement[list[list[Any]]]):
    inherit_cache = True

    def __init__(self, *columns: ColumnElement[Any]) -> None:
        super().__init__(*columns)
        self.type = NestedRows(tuple(column.type for column in columns))


@compiles(nested_rows, "sqlite")
def _nested_rows_sqlite(element: nested_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(nested_rows, "postgresql")
def _nested_rows_postgresql(element: nested_rows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"
