"""Go's time values as expr-lang's `now()`, `date()`, `duration()` and `timezone()` return them.

A `GoTime` is an instant in nanoseconds since the Unix epoch and the location it is shown in
(Go's `time.Time`), a `GoDuration` an int64 of nanoseconds (`time.Duration`), a `Location` a
named zone (`*time.Location`). They render as Go renders them: `Time.String()`
(`2024-01-02 15:04:05.5 +0100 CET`, without the monotonic clock reading Go appends to `now()`,
which has no meaning outside of the process), `Duration.String()` (`1h30m0s`), JSON as
`encoding/json` writes them (RFC 3339 with nanoseconds, integer nanoseconds, `{}`).

Parsing follows Go's `time.Parse` / `time.ParseInLocation` and their reference-time layouts
(`2006-01-02T15:04:05Z07:00`), with the texts of Go's errors. Layouts with the day-of-year
elements (`002`, `__2`) are refused with a message saying so; zone names with an offset (`GMT+1`,
`+03`) where a layout has `MST` do not parse.

Go's methods on these values (`.Year()`, `.Format()`) are not part of the language here: they
are refused with `method_message`.
"""

from __future__ import annotations

import re
import time
import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flows.gocompat.durations import DurationError, format_duration, parse_duration
from flows.triggers.expr import budget
from flows.triggers.expr.errors import Fail
from flows.triggers.expr.gostrings import as_string, utf8

SECOND = 1_000_000_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def method_message(go_type: str, name: str) -> str:
    return f"{go_type}.{name} is a Go method, which trigger expressions do not support"


# -- values ----------------------------------------------------------------------------------


class Location:
    """A `*time.Location`: an IANA zone, or a fixed offset with its abbreviation."""

    GO_TYPE = "*time.Location"
    __slots__ = ("abbreviation", "fixed", "name", "zone")

    def __init__(self, name: str, zone: zoneinfo.ZoneInfo | None = None, fixed: int = 0, abbreviation: str | None = None):
        self.name = name
        self.zone = zone
        self.fixed = fixed  # seconds east of UTC, when `zone` is None
        self.abbreviation = name if abbreviation is None else abbreviation

    def lookup(self, unix: int) -> tuple[str, int]:
        """The zone abbreviation and offset (seconds east of UTC) in effect at `unix` seconds."""
        if self.zone is None:
            return self.abbreviation, self.fixed
        moment = datetime.fromtimestamp(min(max(unix, _FIRST), _LAST), self.zone)
        offset = moment.utcoffset()
        assert offset is not None
        return moment.tzname() or "", int(offset.total_seconds())

    def offset_of_civil(self, seconds: int) -> tuple[str, int]:
        """The abbreviation and offset of this location for a local wall-clock time (`seconds` as
        if it were UTC), as Go's Date() picks it."""
        if self.zone is None:
            return self.lookup(0)
        civil = datetime(1970, 1, 1) + timedelta(seconds=min(max(seconds, _FIRST), _LAST))
        moment = civil.replace(tzinfo=self.zone)
        offset = moment.utcoffset()
        assert offset is not None
        return moment.tzname() or "", int(offset.total_seconds())

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Location) and (self.name, self.fixed) == (other.name, other.fixed)

    def __hash__(self) -> int:
        return hash((self.name, self.fixed))


UTC_LOCATION = Location("UTC")
_FIRST = int(datetime(1, 1, 2, tzinfo=UTC).timestamp())  # the range zoneinfo can look up
_LAST = int(datetime(9999, 12, 30, tzinfo=UTC).timestamp())


@dataclass(frozen=True, slots=True)
class GoDuration:
    """A `time.Duration`."""

    nanoseconds: int
    GO_TYPE = "time.Duration"

    def __str__(self) -> str:
        return format_duration(self.nanoseconds)


@dataclass(frozen=True, slots=True)
class GoTime:
    """A `time.Time`; `==` between two of them (reflect.DeepEqual) also compares the location,
    the operators compare instants (`instant`)."""

    instant: int  # nanoseconds since 1970-01-01T00:00:00Z
    location: Location
    GO_TYPE = "time.Time"

    def __str__(self) -> str:
        zone, offset = self.location.lookup(self.instant // SECOND)
        fraction = self._fraction()
        shown = zone or _numeric_offset(offset, "")
        return f"{self._civil(offset, ' ')}{fraction} {_numeric_offset(offset, '')} {shown}"

    def rfc3339(self) -> str:
        """RFC 3339 with nanoseconds, as Go's MarshalJSON writes it."""
        _, offset = self.location.lookup(self.instant // SECOND)
        year = _civil_fields(self.instant // SECOND + offset)[0]
        if not 0 <= year <= 9999:
            raise Fail("json: error calling MarshalJSON for type time.Time: Time.MarshalJSON: year outside of range [0,9999]")
        zone = "Z" if offset == 0 else _numeric_offset(offset, ":")
        return f"{self._civil(offset, 'T')}{self._fraction()}{zone}"

    def _civil(self, offset: int, separator: str) -> str:
        year, month, day, hour, minute, second = _civil_fields(self.instant // SECOND + offset)
        sign = "-" if year < 0 else ""
        return f"{sign}{abs(year):04d}-{month:02d}-{day:02d}{separator}{hour:02d}:{minute:02d}:{second:02d}"

    def _fraction(self) -> str:
        nanoseconds = self.instant % SECOND
        return f".{nanoseconds:09d}".rstrip("0") if nanoseconds else ""


TIME_VALUES = (GoTime, GoDuration, Location)


def _numeric_offset(offset: int, colon: str) -> str:
    sign = "-" if offset < 0 else "+"
    minutes = abs(offset) // 60
    return f"{sign}{minutes // 60:02d}{colon}{minutes % 60:02d}"


def _civil_fields(seconds: int) -> tuple[int, int, int, int, int, int]:
    """Proleptic Gregorian date and time of `seconds` since the epoch, for any year (Go's range
    is wider than datetime's)."""
    days, rest = divmod(seconds, 86_400)
    # Days to civil date (the era-based algorithm of H. Hinnant's "chrono-compatible" dates).
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (day_of_era - day_of_era // 1460 + day_of_era // 36_524 - day_of_era // 146_096) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    shifted_month = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * shifted_month + 2) // 5 + 1
    month = shifted_month + 3 if shifted_month < 10 else shifted_month - 9
    year = year_of_era + era * 400 + (month <= 2)
    return year, month, day, rest // 3600, rest // 60 % 60, rest % 60


def _days_from_civil(year: int, month: int, day: int) -> int:
    year -= month <= 2
    era = year // 400
    year_of_era = year - era * 400
    day_of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146_097 + day_of_era - 719_468


# -- the builtins ----------------------------------------------------------------------------


def now(*location: Any) -> GoTime:
    """`now()` (or `now(timezone(...))`): the wall clock when the expression runs, the event's
    time for triggers; in UTC, Go's Local in the reference's containers."""
    if not location:
        return GoTime(time.time_ns(), UTC_LOCATION)
    if len(location) == 1 and type(location[0]) is Location:
        return GoTime(time.time_ns(), location[0])
    raise Fail(f"invalid number of arguments (expected 0, got {len(location)})")


def duration(value: Any) -> GoDuration:
    text = as_string(value)
    try:
        return GoDuration(parse_duration(text))
    except DurationError as error:
        raise Fail(_duration_message(text, str(error))) from None


def _duration_message(text: str, reason: str) -> str:
    """time.ParseDuration's text for the reason flows.gocompat.durations gives."""
    if reason.startswith("missing unit"):
        return f"time: missing unit in duration {quote(text)}"
    if reason.startswith("unknown unit"):
        unsigned = text[1:] if text[:1] in "+-" else text
        unit = next(unit for unit in _UNIT.findall(unsigned) if unit not in _UNITS)
        return f"time: unknown unit {quote(unit)} in duration {quote(text)}"
    return f"time: invalid duration {quote(text)}"


_UNIT = re.compile(r"[^0-9.]+")
_UNITS = {"ns", "us", "\u00b5s", "\u03bcs", "ms", "s", "m", "h"}


def timezone(name: Any) -> Location:
    return load_location(as_string(name))


def load_location(name: str) -> Location:
    """Go's time.LoadLocation (Local is UTC, as in the reference's containers)."""
    if name in ("", "UTC"):
        return UTC_LOCATION
    if name == "Local":
        return Location("Local", abbreviation="UTC")
    if ".." in name or name[0] in "/\\":
        raise Fail("time: invalid location name")
    try:
        return Location(name, zoneinfo.ZoneInfo(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        raise Fail(f"unknown time zone {name}") from None


_DEFAULT_LAYOUTS = (
    "2006-01-02",
    "15:04:05",
    "2006-01-02 15:04:05",
    "2006-01-02T15:04:05Z07:00",  # RFC3339
    "02 Jan 06 15:04 MST",  # RFC822
    "Monday, 02-Jan-06 15:04:05 MST",  # RFC850
    "Mon, 02 Jan 2006 15:04:05 MST",  # RFC1123
)


def date(*args: Any) -> GoTime:
    """`date(text[, layout[, timezone]])`, or with a location first (`date(timezone(...), ...)`)."""
    location: Location | None = None
    if args and type(args[0]) is Location:
        location, args = args[0], args[1:]
    text = as_string(args[0])
    if len(args) == 2:
        return parse(as_string(args[1]), text, location or UTC_LOCATION)
    if len(args) == 3:
        return parse(as_string(args[1]), text, load_location(as_string(args[2])))
    for layout in _DEFAULT_LAYOUTS:
        try:
            return _parse(layout, text, location or UTC_LOCATION)
        except ParseError:
            continue
    raise Fail(f"invalid date {text}")


def quote(text: str) -> str:
    """Go's time package quoting: double quotes, non-ASCII and control bytes as \\x escapes."""
    if text.isascii() and text.isprintable() and '"' not in text and "\\" not in text:
        return f'"{text}"'
    return '"' + utf8(text).decode("latin-1").translate(_QUOTED) + '"'


_QUOTED = {
    **{byte: f"\\x{byte:02x}" for byte in [*range(0x20), *range(0x80, 0x100)]},
    ord('"'): '\\"',
    ord("\\"): "\\\\",
}


# -- Go's layouts ----------------------------------------------------------------------------

# The elements of Go's reference time, longest first where one is a prefix of another.
_ELEMENTS = (
    "January", "Jan", "Monday", "Mon", "MST",
    "2006", "_2006", "__2", "_2", "002", "01", "02", "03", "04", "05", "06", "15", "1", "2", "3", "4", "5",
    "PM", "pm",
    "-07:00:00", "-070000", "-07:00", "-0700", "-07",
    "Z07:00:00", "Z070000", "Z07:00", "Z0700", "Z07",
)  # fmt: skip
_UNSUPPORTED = {"__2": "day of year", "002": "day of year"}
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December")
_DAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def _next_element(layout: str, start: int) -> tuple[int, str]:
    """Where the next reference-time element of `layout` starts from `start`, and the element
    ("" when there is none)."""
    for index in range(start, len(layout)):
        rest = layout[index:]
        if rest[0] in ".,":
            digits = rest[1:2]
            if digits in ("0", "9"):
                end = 1
                while end < len(rest) and rest[end] == digits:
                    end += 1
                if not rest[end : end + 1].isdigit():
                    return index, rest[:end]
            continue
        for element in _ELEMENTS:
            if rest.startswith(element):
                if element == "_2006":
                    return index + 1, "2006"  # a literal `_` before the year
                return index, element
    return len(layout), ""


@dataclass
class _Fields:
    year: int = 0
    month: int = -1
    day: int = -1
    hour: int = 0
    minute: int = 0
    second: int = 0
    nanosecond: int = 0
    pm: bool | None = None
    utc: bool = False
    offset: int | None = None
    zone_name: str = ""


class _Bad(Exception):
    """The value does not match the element (Go's errBad)."""


class _OutOfRange(Exception):
    """A field out of its range (Go's rangeErrString)."""


class ParseError(Exception):
    """Go's time.ParseError; its text is only made when shown (a value may be megabytes long)."""

    def __init__(self, value: str, message: str = "", layout: str = "", value_element: str = "", layout_element: str = ""):
        super().__init__()
        self.value, self.message, self.layout = value, message, layout
        self.value_element, self.layout_element = value_element, layout_element

    def text(self) -> str:
        if self.message:
            extra = quote(self.value_element) if self.value_element else ""
            return f"parsing time {quote(self.value)}{self.message}{extra}"
        return (
            f"parsing time {quote(self.value)} as {quote(self.layout)}: "
            f"cannot parse {quote(self.value_element)} as {quote(self.layout_element)}"
        )


def parse(layout: str, value: str, location: Location) -> GoTime:
    """Go's time.ParseInLocation (time.Parse when `location` is UTC)."""
    try:
        return _parse(layout, value, location)
    except ParseError as error:
        raise Fail(error.text()) from None


def _parse(layout: str, value: str, location: Location) -> GoTime:
    fields = _Fields()
    rest = value
    position = 0
    step = budget.current().step  # each element copies the rest of a value that may be long
    while True:
        step()
        start, element = _next_element(layout, position)
        prefix = layout[position:start]
        rest = _skip(rest, prefix, layout, value)
        if not element:
            break
        position = start + len(element)
        if element in _UNSUPPORTED:
            raise Fail(f"date layouts with the {_UNSUPPORTED[element]} ({element}) are not supported")
        try:
            rest = _read(element, rest, fields, layout[position:])
        except _OutOfRange as problem:
            raise ParseError(value, f": {problem} out of range") from None
        except _Bad:
            raise ParseError(value, "", layout, rest, element) from None
    if rest:
        raise ParseError(value, ": extra text: ", value_element=rest)
    return _assemble(fields, value, location)


def _skip(value: str, prefix: str, layout: str, original: str) -> str:
    """`value` after the literal `prefix` of the layout; spaces match runs of spaces."""
    rest, literal = value, prefix
    while literal:
        if literal[0] == " ":
            if rest and rest[0] != " ":
                break
            literal, rest = literal.lstrip(" "), rest.lstrip(" ")
            continue
        if not rest or rest[0] != literal[0]:
            break
        literal, rest = literal[1:], rest[1:]
        budget.current().step()
    else:
        return rest
    raise ParseError(original, "", layout, rest, prefix)


def _number(value: str, fixed: bool) -> tuple[int, str]:
    """Go's getnum: one or two digits (exactly two when `fixed`)."""
    if not value[:1].isdigit() or not value[:1].isascii():
        raise _Bad
    if not (value[1:2].isdigit() and value[1:2].isascii()):
        if fixed:
            raise _Bad
        return int(value[0]), value[1:]
    return int(value[:2]), value[2:]


def _checked(number: int, low: int, high: int, name: str) -> int:
    if not low <= number <= high:
        raise _OutOfRange(name)
    return number


def _name(value: str, names: tuple[str, ...], length: int | None) -> tuple[int, str]:
    for index, name in enumerate(names):
        name = name[:length] if length else name
        if value[: len(name)].lower() == name.lower():
            return index, value[len(name) :]
    raise _Bad


def _read(element: str, value: str, fields: _Fields, layout_rest: str) -> str:
    """Read one element from `value` into `fields`; the rest of the value."""
    if element == "2006":
        if len(value) < 4 or not value[:4].isascii() or not value[:4].isdigit():
            raise _Bad
        fields.year = int(value[:4])
        return value[4:]
    if element == "06":
        if len(value) < 2 or not value[:2].isascii() or not value[:2].isdigit():
            raise _Bad
        year = int(value[:2])
        fields.year = year + (1900 if year >= 69 else 2000)
        return value[2:]
    if element in ("January", "Jan"):
        index, rest = _name(value, _MONTHS, None if element == "January" else 3)
        fields.month = index + 1
        return rest
    if element in ("Monday", "Mon"):
        return _name(value, _DAYS, None if element == "Monday" else 3)[1]
    if element in ("01", "1"):
        month, rest = _number(value, element == "01")
        fields.month = _checked(month, 1, 12, "month")
        return rest
    if element in ("02", "2", "_2"):
        if element == "_2" and value[:1] == " ":
            value = value[1:]
        fields.day, rest = _number(value, element == "02")
        return rest
    if element == "15":
        hour, rest = _number(value, False)
        fields.hour = _checked(hour, 0, 23, "hour")
        return rest
    if element in ("03", "3"):
        hour, rest = _number(value, element == "03")
        fields.hour = _checked(hour, 0, 12, "hour")
        return rest
    if element in ("04", "4"):
        minute, rest = _number(value, element == "04")
        fields.minute = _checked(minute, 0, 59, "minute")
        return rest
    if element in ("05", "5"):
        second, rest = _number(value, element == "05")
        fields.second = _checked(second, 0, 59, "second")
        # A fraction the layout does not spell out is read too, unless one comes next.
        if len(rest) >= 2 and rest[0] in ".," and rest[1].isdigit() and not _next_is_fraction(layout_rest):
            end = _DIGITS.match(rest, 2).end()  # type: ignore[union-attr]
            fields.nanosecond = _nanoseconds(rest[:end])
            rest = rest[end:]
        return rest
    if element in ("PM", "pm"):
        marker = value[:2]
        expected = ("PM", "AM") if element == "PM" else ("pm", "am")
        if marker not in expected:
            raise _Bad
        fields.pm = marker == expected[0]
        return value[2:]
    if element[0] in "-Z":
        return _read_offset(element, value, fields)
    if element == "MST":
        return _read_zone_name(value, fields)
    return _read_fraction(element, value, fields)


_DIGITS = re.compile("[0-9]*")


def _next_is_fraction(layout_rest: str) -> bool:
    start, element = _next_element(layout_rest, 0)
    return start == 0 and element[:1] in (".", ",")


def _nanoseconds(text: str) -> int:
    """A `.ddd` fraction as nanoseconds (Go reads at most nine digits)."""
    digits = text[1:10]
    if not digits.isascii() or not digits.isdigit():
        raise _Bad
    return int(digits.ljust(9, "0"))


def _read_fraction(element: str, value: str, fields: _Fields) -> str:
    if element[1] == "0":  # `.000`: exactly that many digits
        if len(value) < len(element) or value[0] not in ".,":
            raise _Bad
        fields.nanosecond = _nanoseconds(value[: len(element)])
        return value[len(element) :]
    # `.999`: any number of digits, or none at all
    if len(value) < 2 or value[0] not in ".," or not ("0" <= value[1] <= "9"):
        return value
    end = _DIGITS.match(value, 1).end()  # type: ignore[union-attr]
    fields.nanosecond = _nanoseconds(value[:end])
    return value[end:]


def _read_offset(element: str, value: str, fields: _Fields) -> str:
    if element[0] == "Z" and value[:1] == "Z":
        fields.utc = True
        return value[1:]
    shape = element[1:]  # 07:00:00, 070000, 07:00, 0700, 07
    if len(value) < len(shape) + 1 or any(mark == ":" and value[1 + i] != ":" for i, mark in enumerate(shape)):
        raise _Bad
    digits = value[1 : len(shape) + 1].replace(":", "") if ":" in shape else value[1 : len(shape) + 1]
    hours, minutes, seconds = _number(digits[0:2], True)[0], 0, 0
    if len(digits) >= 4:
        minutes = _number(digits[2:4], True)[0]
    if len(digits) >= 6:
        seconds = _number(digits[4:6], True)[0]
    for number, limit, name in ((hours, 24, "hour"), (minutes, 60, "minute"), (seconds, 60, "second")):
        if number > limit:
            raise _OutOfRange(f"time zone offset {name}")
    if value[0] not in "+-":
        raise _Bad
    offset = (hours * 60 + minutes) * 60 + seconds
    fields.offset = -offset if value[0] == "-" else offset
    return value[len(shape) + 1 :]


def _read_zone_name(value: str, fields: _Fields) -> str:
    if value[:3] == "UTC":
        fields.utc = True
        return value[3:]
    if value[:4] in ("ChST", "MeST"):
        length = 4
    elif value[:3] == "GMT":
        length = 3
    else:
        upper = 0
        while upper < min(len(value), 6) and "A" <= value[upper] <= "Z":
            upper += 1
        if upper == 3 or (upper == 4 and (value[3] == "T" or value[:4] == "WITA")) or (upper == 5 and value[4] == "T"):
            length = upper
        else:
            raise _Bad
    fields.zone_name = value[:length]
    return value[length:]


def _days_in(month: int, year: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _assemble(fields: _Fields, value: str, location: Location) -> GoTime:
    if fields.pm and fields.hour < 12:
        fields.hour += 12
    elif fields.pm is False and fields.hour == 12:
        fields.hour = 0
    month = 1 if fields.month < 0 else fields.month
    day = 1 if fields.day < 0 else fields.day
    if day < 1 or day > _days_in(month, fields.year):
        raise ParseError(value, ": day out of range")
    days = _days_from_civil(fields.year, month, day)
    local = days * 86_400 + fields.hour * 3600 + fields.minute * 60 + fields.second  # as if UTC

    def at(seconds: int, where: Location) -> GoTime:
        return GoTime(seconds * SECOND + fields.nanosecond, where)

    if fields.utc:
        return at(local, UTC_LOCATION)
    if fields.offset is not None:
        unix = local - fields.offset
        name, offset = location.lookup(unix)
        if offset == fields.offset and (not fields.zone_name or name == fields.zone_name):
            return at(unix, location)
        return at(unix, Location(fields.zone_name, fixed=fields.offset))
    if fields.zone_name:
        name, offset = location.offset_of_civil(local)
        if name == fields.zone_name:
            return at(local - offset, location)
        return at(local, Location(fields.zone_name))
    _, offset = location.offset_of_civil(local)
    return at(local - offset, location)


# -- operators (vm/runtime: Add, Subtract, Multiply, the comparisons) ------------------------


def _wrap(value: int) -> int:
    return (value - INT64_MIN) % 2**64 + INT64_MIN


def add(a: Any, b: Any) -> Any:
    """`a + b` for time values; NotImplemented when expr-lang does not define it."""
    ta, tb = type(a), type(b)
    if ta is GoTime and tb is GoDuration:
        return GoTime(a.instant + b.nanoseconds, a.location)
    if ta is GoDuration and tb is GoTime:
        return GoTime(b.instant + a.nanoseconds, b.location)
    if ta is GoDuration and tb is GoDuration:
        return GoDuration(_wrap(a.nanoseconds + b.nanoseconds))
    return NotImplemented


def sub(a: Any, b: Any) -> Any:
    ta, tb = type(a), type(b)
    if ta is GoTime and tb is GoTime:
        # Time.Sub saturates at the bounds of a Duration.
        return GoDuration(min(max(a.instant - b.instant, INT64_MIN), INT64_MAX))
    if ta is GoTime and tb is GoDuration:
        return GoTime(a.instant - b.nanoseconds, a.location)
    if ta is GoDuration and tb is GoDuration:
        return GoDuration(_wrap(a.nanoseconds - b.nanoseconds))
    return NotImplemented


def mul(a: Any, b: Any) -> Any:
    """A duration times an int is a duration; times a float, a float64 (the generated tables)."""
    ta, tb = type(a), type(b)
    if ta is GoDuration and (tb is GoDuration or tb is int):
        return GoDuration(_wrap(a.nanoseconds * (b.nanoseconds if tb is GoDuration else b)))
    if tb is GoDuration and ta is int:
        return GoDuration(_wrap(a * b.nanoseconds))
    if ta is GoDuration and tb is float:
        return float(a.nanoseconds) * b
    if tb is GoDuration and ta is float:
        return a * float(b.nanoseconds)
    return NotImplemented


def ordering_key(a: Any, b: Any) -> tuple[int, int] | None:
    """The numbers to compare for `a < b` and the like, when both are times or both durations."""
    ta = type(a)
    if ta is not type(b):
        return None
    if ta is GoTime:
        return a.instant, b.instant
    if ta is GoDuration:
        return a.nanoseconds, b.nanoseconds
    return None
