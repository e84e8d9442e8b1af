"""RFC 3339 dates as the reference reads them (Go's time.RFC3339) and prints them."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from flows.gocompat.timestamps import format_rfc3339, parse_rfc3339


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z", datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05+02:00", datetime(2024, 1, 2, 1, 4, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05-00:30", datetime(2024, 1, 2, 3, 34, 5, tzinfo=UTC)),
        ("2024-01-02T03:04:05.5Z", datetime(2024, 1, 2, 3, 4, 5, 500_000, tzinfo=UTC)),
        ("2024-01-02T03:04:05.123456789Z", datetime(2024, 1, 2, 3, 4, 5, 123_457, tzinfo=UTC)),
        ("2024-12-31T23:59:59.9999999Z", datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_rfc3339_dates_parse_to_utc_microseconds(text: str, expected: datetime) -> None:
    parsed = parse_rfc3339(text)
    assert parsed == expected
    assert parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    [
        "2024-01-02",
        "2024-01-02T03:04:05",  # no zone
        "2024-01-02 03:04:05Z",
        "2024-01-02t03:04:05z",
        "2024-01-02T03:04Z",
        "2024-01-02T03:04:05+0200",
        "2024-01-02T03:04:05+24:00",
        "2024-02-30T03:04:05Z",
        "2024-01-02T24:00:00Z",
        "2024-01-02T23:59:60Z",
        "0000-01-01T00:00:00Z",
        "0001-01-01T00:00:00+01:00",
        "2024-01-02T03:04:05.Z",
        "20240102T030405Z",
        "",
    ],
)
def test_anything_else_is_not_rfc3339(text: str) -> None:
    with pytest.raises(ValueError):
        parse_rfc3339(text)


@pytest.mark.parametrize(
    ("moment", "text"),
    [
        (datetime(2025, 1, 2, 3, 4, 5, 123_456, tzinfo=UTC), "2025-01-02T03:04:05.123456Z"),
        (datetime(2025, 1, 2, 3, 4, 5, 120_000, tzinfo=UTC), "2025-01-02T03:04:05.12Z"),
        (datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC), "2025-01-02T03:04:05Z"),
        (
            datetime(2025, 1, 2, 5, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            "2025-01-02T03:04:05Z",
        ),
        (datetime(1, 1, 1, tzinfo=UTC), "0001-01-01T00:00:00Z"),
    ],
)
def test_dates_print_in_utc_with_trimmed_fractions(moment: datetime, text: str) -> None:
    assert format_rfc3339(moment) == text
