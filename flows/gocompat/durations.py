"""Go duration strings (`time.ParseDuration` and `time.Duration.String`), in nanoseconds.

Delay stages take durations the way the Go reference reads them (`5s`, `1h30m`, `1.5h`, `-2m`,
`300ms`, no days), and instance history shows them the way Go prints them (`1h30m0s`, `1.5s`).
Values are kept as integer nanoseconds so that a parsed duration prints back exactly.
"""

from __future__ import annotations

import re

NANOSECOND = 1
MICROSECOND = 1_000 * NANOSECOND
MILLISECOND = 1_000 * MICROSECOND
SECOND = 1_000 * MILLISECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE

_UNITS: dict[str, int] = {
    "ns": NANOSECOND,
    "us": MICROSECOND,
    "\u00b5s": MICROSECOND,  # MICRO SIGN
    "\u03bcs": MICROSECOND,  # GREEK SMALL LETTER MU
    "ms": MILLISECOND,
    "s": SECOND,
    "m": MINUTE,
    "h": HOUR,
}

# A Go duration is an int64 of nanoseconds; anything beyond is rejected like Go does.
_MAX = 2**63 - 1
_MIN = -(2**63)
_MAX_DIGITS = len(str(_MAX))
# Go stops reading a fraction's digits where they would overflow an int64; so do we.
_FRACTION_DIGITS = _MAX_DIGITS

# One `<number><unit>` element. Go takes as the unit every character up to the next digit or dot,
# so "1h 30m" has the unknown unit "h " rather than being split on the space.
_ELEMENT = re.compile(r"([0-9]*)(?:\.([0-9]*))?([^0-9.]*)")


class DurationError(ValueError):
    """A string that Go's time.ParseDuration would reject."""


def parse_duration(text: str) -> int:
    """Return the nanoseconds of a Go duration string; raise DurationError if it is not one."""
    rest = text
    negative = False
    if rest[:1] in ("-", "+"):
        negative = rest[0] == "-"
        rest = rest[1:]
    # Go accepts a bare "0" (and "-0", "+0") as the only unit-less duration.
    if rest == "0":
        return 0
    if rest == "":
        raise DurationError(f"invalid duration {text!r}")
    total = 0
    position = len(text) - len(rest)
    # Matching at a position rather than slicing the rest: linear even for a megabyte of "1s".
    while position < len(text):
        match = _ELEMENT.match(text, position)
        assert match is not None  # every part of the pattern may be empty, so it always matches
        whole, fraction, unit = match.group(1), match.group(2), match.group(3)
        if whole == "" and not fraction:
            raise DurationError(f"invalid duration {text!r}")
        if unit == "":
            raise DurationError(f"missing unit in duration {text!r}")
        if unit not in _UNITS:
            raise DurationError(f"unknown unit {unit!r} in duration {text!r}")
        # Before int(): a hostile "999…9s" must not cost a conversion of its every digit.
        whole = whole.lstrip("0")
        if len(whole) > _MAX_DIGITS:
            raise DurationError(f"duration {text!r} is out of range")
        total += _element_nanoseconds(whole, fraction or "", _UNITS[unit])
        position = match.end()
    total = -total if negative else total
    if not _MIN <= total <= _MAX:
        raise DurationError(f"duration {text!r} is out of range")
    return total


def _element_nanoseconds(whole: str, fraction: str, unit: int) -> int:
    # Exact integer arithmetic; a fraction finer than a nanosecond is truncated, as Go does.
    value = int(whole or "0") * unit
    fraction = fraction[:_FRACTION_DIGITS]
    if fraction:
        value += int(fraction) * unit // 10 ** len(fraction)
    return value


def format_duration(nanoseconds: int) -> str:
    """Print nanoseconds the way Go's time.Duration.String() does: "1h30m0s", "1.5s", "0s"."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    magnitude = abs(nanoseconds)
    if magnitude < SECOND:
        # Below a second Go switches to the largest sub-second unit that keeps an integer part.
        if magnitude < MICROSECOND:
            return f"{sign}{magnitude}ns"
        if magnitude < MILLISECOND:
            return f"{sign}{_decimal(magnitude, MICROSECOND)}\u00b5s"
        return f"{sign}{_decimal(magnitude, MILLISECOND)}ms"
    hours, remainder = divmod(magnitude, HOUR)
    minutes, remainder = divmod(remainder, MINUTE)
    seconds = _decimal(remainder, SECOND) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return f"{sign}{seconds}"


def _decimal(value: int, unit: int) -> str:
    """`value / unit` in decimal, without trailing zeros (nor a dot when it is whole)."""
    whole, fraction = divmod(value, unit)
    if fraction == 0:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{fraction:0{digits}d}".rstrip("0")


def to_seconds(nanoseconds: int) -> float:
    """The duration in (fractional) seconds, as timers take it."""
    return nanoseconds / SECOND
