"""Go duration syntax (time.ParseDuration) and printing (time.Duration.String)."""

import pytest

from flows.gocompat.durations import (
    DurationError,
    format_duration,
    parse_duration,
    to_seconds,
)

NS = 1
US = 1_000
MS = 1_000_000
S = 1_000_000_000
M = 60 * S
H = 60 * M


@pytest.mark.parametrize(
    ("text", "nanoseconds"),
    [
        ("0", 0),
        ("-0", 0),
        ("+0", 0),
        ("0s", 0),
        ("5s", 5 * S),
        ("+5s", 5 * S),
        ("-2m", -2 * M),
        ("1h30m", H + 30 * M),
        ("1.5h", H + 30 * M),
        ("1h1m1s1ms1us1ns", H + M + S + MS + US + NS),
        ("1\u00b5s", US),  # MICRO SIGN
        ("1\u03bcs", US),  # GREEK SMALL LETTER MU
        ("300ms", 300 * MS),
        (".5s", 500 * MS),
        ("1.s", S),
        ("1.0000000019s", S + 1),  # below a nanosecond is truncated
        ("2562047h47m16.854775807s", 2**63 - 1),
        ("-2562047h47m16.854775808s", -(2**63)),
        ("3m3m", 6 * M),  # units may repeat, in any order
        ("1s1h", H + S),
        ("0" * 5000 + "1s", S),  # leading zeros, however many, as Go reads them
        ("1." + "0" * 5000 + "1s", S),  # digits far below a nanosecond are dropped
    ],
)
def test_go_durations_parse(text: str, nanoseconds: int) -> None:
    assert parse_duration(text) == nanoseconds


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-",
        "+",
        "s",
        "5",
        "00",
        "1d",
        "1.5",
        ".s",
        "1h 30m",
        " 1s",
        "1s ",
        "1S",
        "1e3s",
        "--1s",
        "1_000s",
        "2562047h47m16.854775808s",
        "9223372036854775808ns",
        "9" * 5000 + "s",  # out of range, not a crash on a huge digit string
        "-" + "9" * 5000 + "ns",
    ],
)
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.mark.parametrize(
    ("nanoseconds", "text"),
    [
        (0, "0s"),
        (1, "1ns"),
        (999, "999ns"),
        (1_500, "1.5\u00b5s"),
        (500 * MS, "500ms"),
        (1_500 * US, "1.5ms"),
        (S, "1s"),
        (1_500 * MS, "1.5s"),
        (90 * S, "1m30s"),
        (H, "1h0m0s"),
        (H + 30 * M, "1h30m0s"),
        (-2 * M, "-2m0s"),
        (-1, "-1ns"),
        (S + 1, "1.000000001s"),
        (100 * H, "100h0m0s"),
        (2**63 - 1, "2562047h47m16.854775807s"),
        (-(2**63), "-2562047h47m16.854775808s"),
    ],
)
def test_durations_print_as_go_prints_them(nanoseconds: int, text: str) -> None:
    assert format_duration(nanoseconds) == text


@pytest.mark.parametrize(
    "text", ["1h30m0s", "1m30s", "1.5s", "500ms", "0s", "-2m0s", "1.5\u00b5s", "7ns"]
)
def test_printed_durations_parse_back(text: str) -> None:
    assert format_duration(parse_duration(text)) == text


def test_durations_in_seconds_for_timers() -> None:
    assert to_seconds(parse_duration("1m30s")) == 90
    assert to_seconds(parse_duration("1.5s")) == 1.5
    assert to_seconds(parse_duration("-2.5s")) == -2.5
