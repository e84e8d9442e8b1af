"""Telling an outage of a dependency (database, Temporal) from a bug, for every edge: an outage
is answered "retry later" (HTTP 503, a NATS redelivery), a bug is not retried."""

from __future__ import annotations

import sqlite3

from sqlalchemy.exc import DBAPIError
from temporalio.service import RPCError, RPCStatusCode

# SQLite's primary result codes for a database that is there but out of reach right now: busy
# or locked past the busy timeout, I/O error, disk full, file that cannot be opened. Any other
# error (no such table, bad SQL) is a bug, not an outage.
_SQLITE_UNAVAILABLE = {5, 6, 10, 13, 14}


def _sqlite_unavailable(error: BaseException | None) -> bool:
    return isinstance(error, sqlite3.Error) and error.sqlite_errorcode is not None and error.sqlite_errorcode & 0xFF in _SQLITE_UNAVAILABLE


def dependency_down(error: Exception) -> bool:
    """Whether `error` says a dependency is out of reach right now (not a bug)."""
    # Prepared reads raise the driver's errors unwrapped.
    if _sqlite_unavailable(error):
        return True
    if isinstance(error, DBAPIError):
        return (
            error.connection_invalidated
            or isinstance(error.orig, OSError)
            or _sqlite_unavailable(error.orig)
            or "connect" in str(error).lower()
        )
    if isinstance(error, RPCError):
        return error.status in (
            RPCStatusCode.UNAVAILABLE,
            RPCStatusCode.DEADLINE_EXCEEDED,
            RPCStatusCode.RESOURCE_EXHAUSTED,
        )
    return isinstance(error, (ConnectionError, TimeoutError))


def outage_reason(error: BaseException) -> str:
    """The first line of what the driver says (PostgreSQL's hints follow on other lines)."""
    cause = getattr(error, "orig", None) or error
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__
