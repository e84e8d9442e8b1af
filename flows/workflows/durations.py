"""Go duration strings: parse (`time.ParseDuration`) and print (`time.Duration.String`).

The nanosecond implementation lives in `flows.stages.durations` (the delay stage needs it and
stages sit below this package); this module adds timedelta and seconds views of it.
"""

from __future__ import annotations

from datetime import timedelta

from flows.stages.durations import (
    MICROSECOND,
    DurationError,
    format_duration,
    parse_duration,
    to_seconds,
    to_timedelta,
)


def parse_timedelta(text: str) -> timedelta:
    """A Go duration string as a timedelta (below a microsecond dropped); DurationError if bad."""
    return to_timedelta(parse_duration(text))


def parse_seconds(text: str) -> float:
    """A Go duration string in seconds; DurationError if invalid."""
    return to_seconds(parse_duration(text))


def format_timedelta(value: timedelta) -> str:
    """A timedelta printed as Go prints durations: "1h30m0s", "1.5s", "0s"."""
    microseconds = (value.days * 86_400 + value.seconds) * 1_000_000 + value.microseconds
    return format_duration(microseconds * MICROSECOND)


__all__ = [
    "DurationError",
    "format_duration",
    "format_timedelta",
    "parse_duration",
    "parse_seconds",
    "parse_timedelta",
    "to_seconds",
    "to_timedelta",
]
