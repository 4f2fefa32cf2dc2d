"""DST rules, zone by zone, from tables.

Each row: zone, expression, `after` (UTC), and the next fires as "UTC instant | local wall
| dst label" ("-" for no label). Transitions used (UTC):

  America/New_York     2025-03-09 07:00 gap 02:00-03:00   2025-11-02 06:00 fold 01:00-02:00
  Europe/Berlin        2025-03-30 01:00 gap 02:00-03:00   2025-10-26 01:00 fold 02:00-03:00
  Europe/London        2025-03-30 01:00 gap 01:00-02:00   2025-10-26 01:00 fold 01:00-02:00
  Australia/Lord_Howe  2025-10-04 15:30 gap 02:00-02:30   2025-04-05 15:00 fold 01:30-02:00
  America/Santiago     2025-09-07 04:00 gap 00:00-01:00   2025-04-06 03:00 fold 23:00-24:00
  Pacific/Chatham      2025-09-27 14:00 gap 02:45-03:45   2025-04-05 14:00 fold 02:45-03:45
  America/Sao_Paulo    2018-11-04 03:00 gap 00:00-01:00   2019-02-17 02:00 fold 23:00-24:00
  Asia/Tehran          2022-03-21 20:30 gap 00:00-01:00   2022-09-21 19:30 fold 23:00-24:00
  Pacific/Apia         2011-12-30 10:00 gap of a whole day (30 Dec 2011 never happened)
  Africa/Casablanca    2025-04-06 02:00 gap 02:00-03:00   2025-02-23 02:00 fold 02:00-03:00
  Asia/Kolkata         no transitions
"""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from app.cron import parse

DST_TABLE = [
    # America/New_York, spring forward: wall-time schedules fire once at the end of the gap
    ("America/New_York", "30 2 * * *", "2025-03-09T00:00",
     ["2025-03-09T07:00 | 03:00 | gap", "2025-03-10T06:30 | 02:30 | -"]),
    ("America/New_York", "0 2 * * *", "2025-03-09T00:00", ["2025-03-09T07:00 | 03:00 | gap"]),
    ("America/New_York", "*/20 2 * * *", "2025-03-09T00:00",
     ["2025-03-09T07:00 | 03:00 | gap", "2025-03-10T06:00 | 02:00 | -"]),
    ("America/New_York", "0,30 2-3 * * *", "2025-03-09T00:00",
     ["2025-03-09T07:00 | 03:00 | -", "2025-03-09T07:30 | 03:30 | -"]),
    # ... elapsed-time schedules keep real spacing
    ("America/New_York", "0 * * * *", "2025-03-09T05:30",
     ["2025-03-09T06:00 | 01:00 | -", "2025-03-09T07:00 | 03:00 | -",
      "2025-03-09T08:00 | 04:00 | -"]),
    ("America/New_York", "30 * * * *", "2025-03-09T06:00",
     ["2025-03-09T06:30 | 01:30 | -", "2025-03-09T07:30 | 03:30 | -"]),
    ("America/New_York", "0 */2 * * *", "2025-03-09T04:30",
     ["2025-03-09T05:00 | 00:00 | -", "2025-03-09T07:00 | 03:00 | gap",
      "2025-03-09T08:00 | 04:00 | -", "2025-03-09T10:00 | 06:00 | -"]),
    # America/New_York, fall back: wall-time once (first), elapsed-time at every real hour
    ("America/New_York", "30 1 * * *", "2025-11-02T04:00",
     ["2025-11-02T05:30 | 01:30 | fold", "2025-11-03T06:30 | 01:30 | -"]),
    ("America/New_York", "*/30 1 * * *", "2025-11-02T04:00",
     ["2025-11-02T05:00 | 01:00 | fold", "2025-11-02T05:30 | 01:30 | fold",
      "2025-11-03T06:00 | 01:00 | -"]),
    ("America/New_York", "0 * * * *", "2025-11-02T04:30",
     ["2025-11-02T05:00 | 01:00 | fold", "2025-11-02T06:00 | 01:00 | fold",
      "2025-11-02T07:00 | 02:00 | -"]),
    # Europe/Berlin
    ("Europe/Berlin", "30 2 * * *", "2025-03-29T12:00",
     ["2025-03-30T01:00 | 03:00 | gap", "2025-03-31T00:30 | 02:30 | -"]),
    ("Europe/Berlin", "0 9 * * *", "2025-03-29T09:00",
     ["2025-03-30T07:00 | 09:00 | -", "2025-03-31T07:00 | 09:00 | -"]),
    ("Europe/Berlin", "30 2 * * *", "2025-10-25T12:00",
     ["2025-10-26T00:30 | 02:30 | fold", "2025-10-27T01:30 | 02:30 | -"]),
    ("Europe/Berlin", "*/30 * * * *", "2025-10-26T00:00",
     ["2025-10-26T00:30 | 02:30 | fold", "2025-10-26T01:00 | 02:00 | fold",
      "2025-10-26T01:30 | 02:30 | fold", "2025-10-26T02:00 | 03:00 | -"]),
    # Europe/London
    ("Europe/London", "30 1 * * *", "2025-03-29T12:00", ["2025-03-30T01:00 | 02:00 | gap"]),
    ("Europe/London", "30 1 * * *", "2025-10-25T12:00",
     ["2025-10-26T00:30 | 01:30 | fold", "2025-10-27T01:30 | 01:30 | -"]),
    # Australia/Lord_Howe: 30-minute shifts
    ("Australia/Lord_Howe", "15 2 * * *", "2025-10-04T12:00", ["2025-10-04T15:30 | 02:30 | gap"]),
    ("Australia/Lord_Howe", "0 * * * *", "2025-10-04T14:00",
     ["2025-10-04T14:30 | 01:00 | -", "2025-10-04T15:30 | 02:30 | gap",
      "2025-10-04T16:00 | 03:00 | -"]),
    ("Australia/Lord_Howe", "*/15 * * * *", "2025-10-04T15:00",
     ["2025-10-04T15:15 | 01:45 | -", "2025-10-04T15:30 | 02:30 | -",
      "2025-10-04T15:45 | 02:45 | -"]),
    ("Australia/Lord_Howe", "45 1 * * *", "2025-04-05T12:00",
     ["2025-04-05T14:45 | 01:45 | fold", "2025-04-06T15:15 | 01:45 | -"]),
    ("Australia/Lord_Howe", "*/15 * * * *", "2025-04-05T14:15",
     ["2025-04-05T14:30 | 01:30 | fold", "2025-04-05T14:45 | 01:45 | fold",
      "2025-04-05T15:00 | 01:30 | fold", "2025-04-05T15:15 | 01:45 | fold",
      "2025-04-05T15:30 | 02:00 | -"]),
    # America/Santiago: transitions at midnight
    ("America/Santiago", "0 0 * * *", "2025-09-06T05:00",
     ["2025-09-07T04:00 | 01:00 | gap", "2025-09-08T03:00 | 00:00 | -"]),
    ("America/Santiago", "0 0 * * SUN", "2025-09-06T05:00", ["2025-09-07T04:00 | 01:00 | gap"]),
    ("America/Santiago", "30 23 * * *", "2025-04-05T12:00",
     ["2025-04-06T02:30 | 23:30 | fold", "2025-04-07T03:30 | 23:30 | -"]),
    ("America/Santiago", "0 0 * * *", "2025-04-05T12:00", ["2025-04-06T04:00 | 00:00 | -"]),
    # Pacific/Chatham: +12:45 / +13:45
    ("Pacific/Chatham", "0 3 * * *", "2025-09-27T12:00",
     ["2025-09-27T14:00 | 03:45 | gap", "2025-09-28T13:15 | 03:00 | -"]),
    ("Pacific/Chatham", "0 * * * *", "2025-09-27T12:00",
     ["2025-09-27T12:15 | 01:00 | -", "2025-09-27T13:15 | 02:00 | -",
      "2025-09-27T14:15 | 04:00 | -", "2025-09-27T15:15 | 05:00 | -"]),
    ("Pacific/Chatham", "0 3 * * *", "2025-04-05T12:00",
     ["2025-04-05T13:15 | 03:00 | fold", "2025-04-06T14:15 | 03:00 | -"]),
    # America/Sao_Paulo (DST until 2019)
    ("America/Sao_Paulo", "0 0 * * *", "2018-11-03T12:00",
     ["2018-11-04T03:00 | 01:00 | gap", "2018-11-05T02:00 | 00:00 | -"]),
    ("America/Sao_Paulo", "30 23 * * *", "2019-02-16T12:00",
     ["2019-02-17T01:30 | 23:30 | fold", "2019-02-18T02:30 | 23:30 | -"]),
    ("America/Sao_Paulo", "0 0 * * *", "2024-11-02T12:00", ["2024-11-03T03:00 | 00:00 | -"]),
    # Asia/Tehran (DST until 2022)
    ("Asia/Tehran", "30 0 * * *", "2022-03-21T12:00", ["2022-03-21T20:30 | 01:00 | gap"]),
    ("Asia/Tehran", "30 23 * * *", "2022-09-21T12:00",
     ["2022-09-21T19:00 | 23:30 | fold", "2022-09-22T20:00 | 23:30 | -"]),
    # Pacific/Apia: 30 December 2011 was skipped entirely
    ("Pacific/Apia", "0 12 * * *", "2011-12-29T12:00",
     ["2011-12-29T22:00 | 12:00 | -", "2011-12-30T10:00 | 00:00 | gap",
      "2011-12-30T22:00 | 12:00 | -"]),
    ("Pacific/Apia", "0 12 30 12 *", "2011-12-01T00:00",
     ["2011-12-30T10:00 | 00:00 | gap", "2012-12-29T22:00 | 12:00 | -"]),
    # Africa/Casablanca: Ramadan suspends summer time
    ("Africa/Casablanca", "30 2 * * *", "2025-02-22T12:00",
     ["2025-02-23T01:30 | 02:30 | fold", "2025-02-24T02:30 | 02:30 | -"]),
    ("Africa/Casablanca", "30 2 * * *", "2025-04-05T12:00", ["2025-04-06T02:00 | 03:00 | gap"]),
    # Asia/Kolkata: nothing moves
    ("Asia/Kolkata", "30 2 * * *", "2025-03-09T00:00",
     ["2025-03-09T21:00 | 02:30 | -", "2025-03-10T21:00 | 02:30 | -"]),
    # one-offs at local times follow the wall-time rules
    ("America/New_York", "at 2025-03-09T02:30:00", "2025-01-01T00:00",
     ["2025-03-09T07:00 | 03:00 | gap"]),
    ("America/New_York", "at 2025-11-02T01:30:00", "2025-01-01T00:00",
     ["2025-11-02T05:30 | 01:30 | fold"]),
    ("Europe/Berlin", "at 2025-10-26T02:30:00+01:00", "2025-01-01T00:00",
     ["2025-10-26T01:30 | 02:30 | -"]),
    # intervals run on real time, no labels
    ("America/New_York", "every 1h", "2025-11-02T04:30",
     ["2025-11-02T05:00 | 01:00 | -", "2025-11-02T06:00 | 01:00 | -",
      "2025-11-02T07:00 | 02:00 | -"]),
]  # fmt: skip


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(("zone", "expression", "after", "expected"), DST_TABLE)
def test_dst_rules(zone: str, expression: str, after: str, expected: list[str]) -> None:
    timing = parse(expression, zone, anchor=utc("2025-01-01T00:00"))

    got = [
        f"{o.utc:%Y-%m-%dT%H:%M} | {o.local:%H:%M} | {o.dst or '-'}"
        for o in timing.occurrences(utc(after), len(expected))
    ]

    assert got == expected


def test_local_times_are_in_the_schedule_zone_with_the_right_fold() -> None:
    timing = parse("0 * * * *", "America/New_York")

    first, second = timing.occurrences(utc("2025-11-02T04:30"), 2)

    assert (first.local.fold, second.local.fold) == (0, 1)
    assert first.local.utcoffset() != second.local.utcoffset()


@pytest.mark.parametrize(
    ("zone", "year"),
    [
        ("America/New_York", 2025),
        ("Europe/Berlin", 2025),
        ("Australia/Lord_Howe", 2025),
        ("Pacific/Chatham", 2025),
        ("America/Santiago", 2025),
    ],
)
def test_hourly_fires_once_every_real_hour_all_year(zone: str, year: int) -> None:
    # given an hourly schedule in a zone with DST
    timing = parse("0 * * * *", zone)
    start, end = utc(f"{year}-01-01T00:00"), utc(f"{year + 1}-01-01T00:00")

    # when every fire of the year is listed
    fires = timing.occurrences(start, 9000)
    fires = [f for f in fires if f.utc <= end]

    # then whole-hour zones fire every real hour; half-hour zones never fire twice in 30 min
    gaps = {(b.utc - a.utc).total_seconds() for a, b in itertools.pairwise(fires)}
    if zone == "Australia/Lord_Howe":
        assert gaps <= {1800.0, 3600.0, 5400.0}
    else:
        assert gaps == {3600.0}
    assert timing.count_between(start, end) == len(fires)


@pytest.mark.parametrize(
    "zone", ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "America/Santiago"]
)
@pytest.mark.parametrize("expression", ["30 2 * * *", "0 0 * * *", "30 23 * * *", "45 1 * * *"])
def test_daily_wall_time_schedules_fire_exactly_once_per_local_day(
    zone: str, expression: str
) -> None:
    timing = parse(expression, zone)

    fires = timing.occurrences(utc("2025-01-01T00:00"), 365)

    days = [f.local.date() for f in fires]
    assert len(set(days)) == len(days) == 365
