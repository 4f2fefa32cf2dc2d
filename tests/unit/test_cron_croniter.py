"""Where croniter 7.0.0 (pinned) and app.cron differ, and why we do not use croniter's answer.

These tests pin croniter's behaviour as found: if an upgrade changes it, they fail and the
decision to keep our own matcher (see app/cron/__init__.py) should be looked at again.
"""

from __future__ import annotations

import warnings
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.cron import parse

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from croniter import croniter

NEW_YORK = ZoneInfo("America/New_York")


def croniter_next(expression: str, start: datetime, count: int) -> list[str]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        it = croniter(expression, start)
        return [it.get_next(datetime).astimezone(UTC).isoformat() for _ in range(count)]


def ours(expression: str, start: datetime, count: int, zone: str = "UTC") -> list[str]:
    return [o.utc.isoformat() for o in parse(expression, zone).occurrences(start, count)]


def test_single_value_range_is_one_value_not_every_value() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)

    assert croniter_next("5-5 * * * *", start, 2)[1] == "2025-01-01T00:02:00+00:00"
    assert ours("5-5 * * * *", start, 2) == [
        "2025-01-01T00:05:00+00:00",
        "2025-01-01T01:05:00+00:00",
    ]


def test_star_step_day_of_month_joins_day_of_week_with_and() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)

    assert croniter_next("0 0 */2 * MON", start, 1) == ["2025-01-03T00:00:00+00:00"]  # a Friday
    assert ours("0 0 */2 * MON", start, 1) == ["2025-01-13T00:00:00+00:00"]  # odd and Monday


def test_fixed_time_job_fires_once_in_a_repeated_hour() -> None:
    start = datetime(2025, 11, 2, tzinfo=NEW_YORK)

    assert croniter_next("30 1 * * *", start, 2) == [
        "2025-11-02T05:30:00+00:00",
        "2025-11-02T06:30:00+00:00",
    ]
    assert ours("30 1 * * *", start, 2, "America/New_York") == [
        "2025-11-02T05:30:00+00:00",
        "2025-11-03T06:30:00+00:00",
    ]


def test_six_fields_put_seconds_first() -> None:
    start = datetime(2025, 3, 1, tzinfo=UTC)

    assert croniter_next("30 0 12 * * *", start, 1) == ["2025-03-12T00:30:00+00:00"]
    assert ours("30 0 12 * * *", start, 1) == ["2025-03-01T12:00:30+00:00"]


def test_last_day_offset_is_supported() -> None:
    with pytest.raises(ValueError), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        croniter("0 0 L-2 * *", datetime(2025, 2, 1, tzinfo=UTC))

    assert ours("0 0 L-2 * *", datetime(2025, 2, 1, tzinfo=UTC), 1) == ["2025-02-26T00:00:00+00:00"]
