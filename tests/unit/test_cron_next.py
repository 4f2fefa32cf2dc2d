"""Next fires from tables: field syntax, the day rule, specials, macros, intervals, at."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from app.cron import parse


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def fires(expression: str, after: str, count: int, zone: str = "UTC") -> list[str]:
    timing = parse(expression, zone, seed="sched_1", anchor=utc("2025-01-01T00:00:00"))
    return [o.utc.strftime("%Y-%m-%dT%H:%M:%S") for o in timing.occurrences(utc(after), count)]


NEXT = [
    # (expression, after (UTC), expected next fires (UTC))
    ("* * * * *", "2025-01-01T00:00:00", ["2025-01-01T00:01:00", "2025-01-01T00:02:00"]),
    ("* * * * *", "2025-01-01T00:00:30", ["2025-01-01T00:01:00"]),
    ("*/15 * * * *", "2025-01-01T00:59:59", ["2025-01-01T01:00:00", "2025-01-01T01:15:00"]),
    ("5-5 * * * *", "2025-01-01T00:00:00", ["2025-01-01T00:05:00", "2025-01-01T01:05:00"]),
    ("10-20/5 * * * *", "2025-01-01T00:00:00", ["2025-01-01T00:10:00", "2025-01-01T00:15:00"]),
    ("50/5 * * * *", "2025-01-01T00:00:00", ["2025-01-01T00:50:00", "2025-01-01T00:55:00"]),
    ("0 0 * * *", "2024-12-31T23:59:59", ["2025-01-01T00:00:00", "2025-01-02T00:00:00"]),
    ("0 12 * * MON-FRI", "2025-01-03T12:00:00", ["2025-01-06T12:00:00"]),  # Fri -> Mon
    ("0 0 * * 0", "2025-01-01T00:00:00", ["2025-01-05T00:00:00"]),
    ("0 0 * * 7", "2025-01-01T00:00:00", ["2025-01-05T00:00:00"]),
    ("0 0 * * sun", "2025-01-01T00:00:00", ["2025-01-05T00:00:00"]),
    ("0 0 1 feb *", "2025-01-01T00:00:00", ["2025-02-01T00:00:00", "2026-02-01T00:00:00"]),
    ("0 0 29 2 *", "2025-01-01T00:00:00", ["2028-02-29T00:00:00", "2032-02-29T00:00:00"]),
    # Vixie day rule: both restricted -> OR
    (
        "0 0 13 * FRI",
        "2025-06-01T00:00:00",
        ["2025-06-06T00:00:00", "2025-06-13T00:00:00", "2025-06-20T00:00:00"],
    ),
    # ... one side starts with * -> AND: odd days that are Mondays
    ("0 0 */2 * MON", "2025-01-01T00:00:00", ["2025-01-13T00:00:00", "2025-01-27T00:00:00"]),
    ("0 0 1 * *", "2025-01-01T00:00:00", ["2025-02-01T00:00:00"]),
    ("0 0 1 * ?", "2025-01-01T00:00:00", ["2025-02-01T00:00:00"]),
    ("0 0 ? * MON", "2025-01-01T00:00:00", ["2025-01-06T00:00:00"]),
    # L, L-n, W, LW
    ("0 0 L * *", "2025-01-31T00:00:00", ["2025-02-28T00:00:00", "2025-03-31T00:00:00"]),
    ("0 0 L 2 *", "2027-03-01T00:00:00", ["2028-02-29T00:00:00"]),
    ("0 0 L-2 * *", "2025-02-01T00:00:00", ["2025-02-26T00:00:00", "2025-03-29T00:00:00"]),
    ("0 0 15W * *", "2025-03-01T00:00:00", ["2025-03-14T00:00:00"]),  # 15 Mar 2025 is a Sat
    ("0 0 15W * *", "2025-06-01T00:00:00", ["2025-06-16T00:00:00"]),  # 15 Jun 2025 is a Sun
    ("0 0 1W * *", "2025-03-01T00:00:00", ["2025-03-03T00:00:00"]),  # Sat 1st -> Mon 3rd
    ("0 0 31W * *", "2025-08-01T00:00:00", ["2025-08-29T00:00:00"]),  # Sun 31st -> Fri 29th
    ("0 0 31W * *", "2025-04-01T00:00:00", ["2025-05-30T00:00:00"]),  # no 31 Apr
    ("0 0 LW * *", "2025-05-01T00:00:00", ["2025-05-30T00:00:00", "2025-06-30T00:00:00"]),
    # #, dL
    ("0 0 ? * MON#2", "2025-01-01T00:00:00", ["2025-01-13T00:00:00", "2025-02-10T00:00:00"]),
    ("0 0 ? * 5#5", "2025-01-01T00:00:00", ["2025-01-31T00:00:00", "2025-05-30T00:00:00"]),
    ("0 0 ? * 5L", "2025-01-01T00:00:00", ["2025-01-31T00:00:00", "2025-02-28T00:00:00"]),
    ("0 0 ? * SUNL", "2025-01-01T00:00:00", ["2025-01-26T00:00:00", "2025-02-23T00:00:00"]),
    ("0 0 ? * 7L", "2025-01-01T00:00:00", ["2025-01-26T00:00:00"]),
    # 6 fields: seconds first
    ("*/20 * * * * *", "2025-01-01T00:00:00", ["2025-01-01T00:00:20", "2025-01-01T00:00:40"]),
    ("30 0 12 * * ?", "2025-01-01T12:00:30", ["2025-01-02T12:00:30"]),
    ("0 0 0 L * ?", "2025-01-01T00:00:00", ["2025-01-31T00:00:00"]),
    # 7 fields: with year
    ("0 0 0 1 1 ? 2030", "2025-01-01T00:00:00", ["2030-01-01T00:00:00"]),
    ("0 0 0 1 1 ? 2030", "2030-01-01T00:00:00", []),
    (
        "0 0 0 1 1 ? 2028-2099/2",
        "2025-01-01T00:00:00",
        ["2028-01-01T00:00:00", "2030-01-01T00:00:00"],
    ),
    ("0 0 12 29 2 ? *", "2025-01-01T00:00:00", ["2028-02-29T12:00:00"]),
    ("0 0 0 1 1 ? 2099", "2099-01-01T00:00:00", []),
    # macros
    ("@hourly", "2025-01-01T00:00:00", ["2025-01-01T01:00:00"]),
    ("@daily", "2025-01-01T00:00:00", ["2025-01-02T00:00:00"]),
    ("@weekly", "2025-01-01T00:00:00", ["2025-01-05T00:00:00"]),
    ("@monthly", "2025-01-01T00:00:00", ["2025-02-01T00:00:00"]),
    ("@yearly", "2025-01-01T00:00:00", ["2026-01-01T00:00:00"]),
    # intervals from the anchor 2025-01-01T00:00:00Z
    ("every 90s", "2025-01-01T00:00:00", ["2025-01-01T00:01:30", "2025-01-01T00:03:00"]),
    ("every 90s", "2024-06-01T00:00:00", ["2025-01-01T00:01:30"]),
    ("every 1h30m", "2025-01-01T01:30:00", ["2025-01-01T03:00:00"]),
    ("every 1d", "2025-03-30T12:00:00", ["2025-03-31T00:00:00"]),
    # one-offs
    ("at 2030-01-01T09:00:00Z", "2025-01-01T00:00:00", ["2030-01-01T09:00:00"]),
    ("at 2030-01-01T09:00:00+02:00", "2025-01-01T00:00:00", ["2030-01-01T07:00:00"]),
    ("at 2030-01-01T09:00:00Z", "2030-01-01T09:00:00", []),
]


@pytest.mark.parametrize(("expression", "after", "expected"), NEXT)
def test_next_fires(expression: str, after: str, expected: list[str]) -> None:
    assert fires(expression, after, len(expected) or 1) == expected


@pytest.mark.parametrize(
    ("expression", "zone", "after", "expected"),
    [
        ("0 9 * * *", "Europe/Berlin", "2025-01-01T00:00:00", "2025-01-01T08:00:00"),
        ("0 9 * * *", "Europe/Berlin", "2025-07-01T00:00:00", "2025-07-01T07:00:00"),
        ("0 9 * * *", "Asia/Kolkata", "2025-01-01T00:00:00", "2025-01-01T03:30:00"),
        ("0 9 * * *", "Pacific/Chatham", "2025-01-01T00:00:00", "2025-01-01T19:15:00"),
        ("0 0 1 1 *", "Pacific/Kiritimati", "2025-01-01T00:00:00", "2025-12-31T10:00:00"),
        ("at 2030-01-01T09:00:00", "Asia/Kolkata", "2025-01-01T00:00:00", "2030-01-01T03:30:00"),
    ],
)
def test_fields_are_matched_on_the_zone_wall_clock(
    expression: str, zone: str, after: str, expected: str
) -> None:
    assert fires(expression, after, 1, zone) == [expected]


def test_next_after_is_strict_and_returns_aware_utc() -> None:
    timing = parse("0 * * * *")
    after = utc("2025-01-01T01:00:00")

    nxt = timing.next_after(after)

    assert nxt == utc("2025-01-01T02:00:00")
    assert nxt is not None and nxt.tzinfo is UTC


def test_next_after_accepts_any_zone_and_microseconds() -> None:
    timing = parse("*/10 * * * * *")
    after = datetime(2025, 1, 1, 2, 0, 9, 999_999, tzinfo=timezone(timedelta(hours=2)))

    assert timing.next_after(after) == utc("2025-01-01T00:00:10")


def test_next_after_refuses_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse("* * * * *").next_after(datetime(2025, 1, 1))


def test_occurrences_carry_local_time_in_the_schedule_zone() -> None:
    (first,) = parse("0 9 * * *", "Asia/Kolkata").occurrences(utc("2025-01-01T00:00:00"), 1)

    assert first.local.hour == 9 and first.local.minute == 0
    assert str(first.local.tzinfo) == "Asia/Kolkata"
    assert first.dst is None


def test_occurrences_stop_when_the_schedule_ends() -> None:
    timing = parse("0 0 0 1 1 ? 2098-2099")

    assert len(timing.occurrences(utc("2025-01-01T00:00:00"), 5)) == 2


def test_interval_keeps_the_anchor_fraction_of_a_second() -> None:
    anchor = datetime(2025, 1, 1, 0, 0, 0, 500_000, tzinfo=UTC)
    timing = parse("every 2s", anchor=anchor)

    assert timing.next_after(anchor) == anchor + timedelta(seconds=2)
    assert timing.next_after(anchor + timedelta(seconds=2)) == anchor + timedelta(seconds=4)


@pytest.mark.parametrize(
    ("expression", "zone", "gap"),
    [
        ("* * * * *", "UTC", 60),
        ("*/10 * * * * *", "UTC", 10),
        ("0,59 * * * * *", "UTC", 1),
        ("0 9 * * *", "UTC", 86400),
        ("0 9 * * *", "Asia/Kolkata", 86400),
        ("0 9 * * *", "Europe/Berlin", 82800),  # spring-forward day is 23 h long
        ("0 * * * *", "America/New_York", 3600),  # real hours through both transitions
        ("0 */2 * * *", "Europe/Berlin", 3600),  # 00:00 CET, 03:00 CEST (shifted 02:00), 04:00
        ("0 9 * * MON", "UTC", 7 * 86400),
        ("0 0 1 * *", "UTC", 28 * 86400),
        ("0 0 29 2 *", "UTC", 4 * 365 * 86400 + 86400),
        ("0 0 L * *", "UTC", 28 * 86400),
        ("0 0 L,1 * *", "UTC", 86400),
        ("0 0 0 1 1 ? 2030", "UTC", math.inf),
        ("every 90s", "Europe/Berlin", 90),
        ("at 2030-01-01T00:00:00Z", "UTC", math.inf),
    ],
)
def test_min_gap_seconds(expression: str, zone: str, gap: float) -> None:
    timing = parse(expression, zone, anchor=utc("2025-01-01T00:00:00"))

    assert timing.min_gap_seconds() == gap


@pytest.mark.parametrize(
    ("expression", "after", "until", "count"),
    [
        ("* * * * *", "2025-01-01T00:00:00", "2025-01-01T01:00:00", 60),
        ("* * * * *", "2025-01-01T00:00:00", "2025-01-08T00:00:00", 7 * 1440),
        ("* * * * * *", "2025-01-01T00:00:00", "2025-02-01T00:00:00", 31 * 86400),
        ("0 0 L * *", "2025-01-01T00:00:00", "2026-01-01T00:00:00", 12),
        ("every 90s", "2025-01-01T00:00:00", "2025-01-01T00:30:00", 20),
        ("at 2030-01-01T00:00:00Z", "2025-01-01T00:00:00", "2031-01-01T00:00:00", 1),
        ("at 2030-01-01T00:00:00Z", "2030-01-01T00:00:00", "2031-01-01T00:00:00", 0),
    ],
)
def test_count_between_counts_fires_in_a_half_open_window(
    expression: str, after: str, until: str, count: int
) -> None:
    timing = parse(expression, anchor=utc("2025-01-01T00:00:00"))

    assert timing.count_between(utc(after), utc(until)) == count
