"""The forecast is exact: per-minute counts equal a brute-force count of the same fires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from app.forecast import MINUTE_MS, forecast
from app.models import RetrySettings, Schedule, Target, from_ms, to_ms
from app.planning import timing_of

START = to_ms(datetime(2030, 3, 31, 0, 0, tzinfo=UTC))  # Europe/Berlin springs forward at 01:00


def _schedule(cron: str, tz: str = "UTC", n: int = 0, **kw: object) -> Schedule:
    return Schedule(
        id=f"sch_{n:04d}abc",
        tenant_id="ten_x",
        name=cron,
        cron=cron,
        timezone=tz,
        target=Target("https://example.com/"),
        retry=RetrySettings(),
        created_at=START - 3_600_000 - 123,
        updated_at=START,
        **kw,  # type: ignore[arg-type]
    )


def _matches(field: str, value: int) -> bool:
    """A tiny matcher for `*`, `*/n`, `a`, `a,b` fields (UTC only)."""
    for part in field.split(","):
        if part == "*" or (part.startswith("*/") and value % int(part[2:]) == 0):
            return True
        if part.isdigit() and int(part) == value:
            return True
    return False


def _brute_utc(cron: str, minutes: int) -> list[int]:
    sec, mnt, hour, *_ = cron.split()
    counts = [0] * minutes
    t0 = from_ms(START)
    for s in range(minutes * 60):
        t = t0 + timedelta(seconds=s)
        if _matches(sec, t.second) and _matches(mnt, t.minute) and _matches(hour, t.hour):
            counts[s // 60] += 1
    return counts


@pytest.mark.parametrize(
    "cron", ["*/7 * * * * *", "0,30 */5 * * * *", "15 * * * * *", "0 0 * * * *", "* * * * * *"]
)
def test_utc_crons_match_a_second_by_second_count(cron: str) -> None:
    f = forecast([_schedule(cron)], START, 180)
    assert f.counts == _brute_utc(cron, 180)
    assert f.schedules == 1


def _walk(s: Schedule, minutes: int) -> list[int]:
    """Brute force by enumeration: every fire in the window, one by one."""
    counts = [0] * minutes
    end = START + minutes * MINUTE_MS
    timing = timing_of(s)
    moment = timing.next_after(from_ms(START) - timedelta(microseconds=1))
    while moment is not None and to_ms(moment) < end:
        ms = to_ms(moment)
        if (s.start_at is None or ms >= s.start_at) and (s.end_at is None or ms <= s.end_at):
            counts[(ms - START) // MINUTE_MS] += 1
        moment = timing.next_after(moment)
    return counts


CASES = [
    _schedule("*/20 * * * * *", "Europe/Berlin"),  # dense, across the spring-forward gap
    _schedule("30 2 * * *", "Europe/Berlin"),  # a wall time in the gap: fires once after it
    _schedule("0 * * * *", "America/Santiago"),
    _schedule("H/5 * * * *", "UTC", n=7),
    _schedule("every 90s"),
    _schedule("every 7s", start_at=START + 600_000, end_at=START + 3_000_000),
    _schedule("* * * * *", "Asia/Kolkata", end_at=START + 1_234_567),
    _schedule("at 2030-03-31T01:17:30Z"),
]


@pytest.mark.parametrize("s", CASES, ids=lambda s: f"{s.cron}@{s.timezone}")
def test_zoned_interval_and_bounded_schedules_match_enumeration(s: Schedule) -> None:
    expected = _walk(s, 240)
    assert sum(expected) > 0  # the window holds fires of every case
    assert forecast([s], START, 240).counts == expected


def test_a_set_sums_its_members_and_skips_paused_ones() -> None:
    members = [*CASES, _schedule("* * * * * *", paused=True)]
    f = forecast(members, START, 240)
    expected = [sum(col) for col in zip(*(_walk(s, 240) for s in CASES), strict=True)]
    assert f.counts == expected
    assert f.schedules == len(CASES)


def test_identical_schedules_count_once_each() -> None:
    same = [_schedule("*/15 * * * * *", n=i) for i in range(50)]
    assert forecast(same, START, 10).counts == [200] * 10
