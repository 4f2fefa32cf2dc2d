"""H: hashed values seeded by the schedule id, stable across processes, spread across ranges."""

from __future__ import annotations

import itertools
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.cron import parse

START = datetime(2025, 1, 1, tzinfo=UTC)


def minute_of(expression: str, seed: str) -> int:
    nxt = parse(expression, seed=seed).next_after(START)
    assert nxt is not None
    return nxt.minute


def test_h_is_deterministic_for_a_seed() -> None:
    assert minute_of("H * * * *", "sched_42") == minute_of("H * * * *", "sched_42")


def test_h_is_the_same_in_another_process() -> None:
    # given a fresh interpreter (its own string hash randomisation)
    code = (
        "from datetime import datetime, UTC; from app.cron import parse; "
        "print(parse('H H * * *', seed='sched_42').next_after(datetime(2025,1,1,tzinfo=UTC)))"
    )

    # when it computes the same next fire
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "12345", "PATH": ""},
        cwd=Path(__file__).resolve().parents[2],
    ).stdout.strip()

    # then it agrees with this process
    assert out == str(parse("H H * * *", seed="sched_42").next_after(START))


def test_h_spreads_schedules_over_the_hour() -> None:
    minutes = Counter(minute_of("H * * * *", f"sched_{i}") for i in range(3000))

    assert len(minutes) == 60
    assert max(minutes.values()) < 2 * 3000 / 60


def test_h_differs_between_fields() -> None:
    same = sum(
        1
        for i in range(200)
        if (t := parse("H H * * *", seed=f"s{i}").next_after(START)) and t.minute == t.hour
    )

    assert same < 40  # independent picks agree ~1 time in 24


@pytest.mark.parametrize(
    ("expression", "check"),
    [
        ("H(10-19) * * * *", lambda t: 10 <= t.minute <= 19),
        ("0 H(9-17) * * *", lambda t: 9 <= t.hour <= 17 and t.minute == 0),
        ("0 0 H * *", lambda t: 1 <= t.day <= 28),
        ("0 0 * * H", lambda t: True),
        ("H/15 * * * *", lambda t: t.minute < 15),
        ("H(0-29)/10 * * * *", lambda t: t.minute < 10),
        ("H H H * * *", lambda t: True),
    ],
)
def test_h_stays_inside_its_range(expression: str, check: object) -> None:
    for i in range(100):
        nxt = parse(expression, seed=f"sched_{i}").next_after(START - timedelta(seconds=1))
        assert nxt is not None and callable(check) and check(nxt), (expression, i, nxt)


def test_h_step_keeps_the_step_spacing() -> None:
    timing = parse("H/15 * * * *", seed="sched_7")

    fires = [o.utc for o in timing.occurrences(START, 8)]

    assert {(b - a).total_seconds() for a, b in itertools.pairwise(fires)} == {900.0}
    assert timing.min_gap_seconds() == 900


def test_h_in_day_of_week_counts_as_restricted_for_the_day_rule() -> None:
    # H in day of week is restricted, so with a restricted day of month the days are ORed
    timing = parse("0 0 1 * H", seed="sched_1")

    fires = [o.utc for o in timing.occurrences(START, 10)]

    assert len({f.weekday() for f in fires}) <= 2
    assert any(f.day == 1 for f in fires) and any(f.day != 1 for f in fires)


def test_seed_only_matters_when_the_expression_uses_h() -> None:
    assert parse("0 12 * * THU", seed="a") is parse("0 12 * * THU", seed="b")
    assert parse("H 12 * * THU", seed="a") != parse("H 12 * * THU", seed="b")
