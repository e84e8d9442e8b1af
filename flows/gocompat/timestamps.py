"""RFC 3339 dates in stage parameters and in instance history.

The reference parses with Go's `time.RFC3339` layout (zone required, fractional seconds optional,
`T` and `Z` upper-case), keeps microseconds in UTC, and prints RFC 3339 with trailing zeros of
the fraction trimmed. Python's `fromisoformat` accepts far more (no zone, a space, week dates),
hence the explicit pattern.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

_RFC3339 = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"T(?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?"
    r"(?P<zone>Z|[+-][0-9]{2}:[0-9]{2})"
)


def now() -> datetime:
    """Now, in UTC: microseconds, the precision of Go's RFC 3339 times and of the databases."""
    return datetime.now(UTC)


def parse_rfc3339(text: str) -> datetime:
    """An aware UTC datetime, rounded to the microsecond; ValueError when `text` is not RFC 3339."""
    match = _RFC3339.fullmatch(text)
    if match is None:
        raise ValueError(f"not an RFC 3339 date: {text!r}")
    parts = {name: int(value) for name, value in match.groupdict().items() if name not in ("fraction", "zone")}
    try:
        local = datetime(tzinfo=_zone(match.group("zone")), **parts)
        moment = local.astimezone(UTC)
        fraction = match.group("fraction") or ""
        # Nanosecond input is rounded half up to the microsecond, as Go's Round(time.Microsecond).
        nanoseconds = int(fraction.ljust(9, "0")[:9]) if fraction else 0
        return moment + timedelta(microseconds=(nanoseconds + 500) // 1000)
    except (ValueError, OverflowError) as error:  # out-of-range fields, or beyond year 1..9999
        raise ValueError(f"not an RFC 3339 date: {text!r}") from error


def _zone(zone: str) -> timezone:
    if zone == "Z":
        return UTC
    hours, minutes = int(zone[1:3]), int(zone[4:6])
    if hours > 23 or minutes > 59:
        raise ValueError(f"invalid time zone offset {zone!r}")
    offset = timedelta(hours=hours, minutes=minutes)
    return timezone(-offset if zone[0] == "-" else offset)


def format_rfc3339(moment: datetime) -> str:
    """`2025-01-02T03:04:05.123456Z`: UTC, fraction without trailing zeros, none when whole."""
    if moment.tzinfo is not UTC:
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    # isoformat is the fast path: this runs for every timestamp of every API response.
    text = moment.isoformat()[:-6]  # without "+00:00"
    if moment.microsecond:
        return text.rstrip("0") + "Z"
    return text + "Z"
