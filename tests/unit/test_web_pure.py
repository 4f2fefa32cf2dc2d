"""The pages' pure pieces, from tables: a schedule in words, the merge patch that edits a
schedule, the forecast's bars."""

from __future__ import annotations

from typing import Any

import pytest

from app.api.merge import diff_patch, merge_patch
from app.cron.words import describe
from app.web.chart import HEIGHT, PAD, TOP, bars, buckets, forecast_svg


@pytest.mark.parametrize(
    ("expr", "words"),
    [
        ("*/5 * * * *", "every 5 minutes"),
        ("* * * * *", "every minute"),
        ("*/2 * * * * *", "every 2 seconds"),
        ("* * * * * *", "every second"),
        ("0 */2 * * *", "every 2 hours"),
        ("15 * * * *", "every hour at minute 15"),
        ("30 2 * * *", "at 02:30 every day"),
        ("0 9 * * MON-FRI", "at 09:00 on MON-FRI"),
        ("0 30 9 * * *", "at 09:30 every day"),
        ("15 30 9 * * *", "at 09:30:15 every day"),
        ("0 0 12 1 * ?", "at 12:00 on day 1 of the month"),
        ("0 0 1 1 *", "at 00:00 on day 1 of the month in month 1"),
        ("0 0 * * * * 2030", "every hour in 2030"),
        ("0 0 1 15 * MON", "at 01:00 on day 15 of the month or on MON"),
        ("@daily", "every day at 00:00"),
        ("@HOURLY", "every hour at minute 0"),
        ("every 90s", "every 90s"),
        ("at 2030-01-01T09:00:00Z", "once, at 2030-01-01T09:00:00Z"),
        ("1,2 3-4 * * *", "when minute 1,2, hour 3-4"),
        ("H H * * *", "when minute H, hour H"),
        ("not cron", "not cron"),
    ],
)
def test_a_schedule_in_words(expr: str, words: str) -> None:
    assert describe(expr) == words


@pytest.mark.parametrize(
    ("old", "new", "patch"),
    [
        ({"a": 1}, {"a": 1}, {}),
        ({"a": 1}, {"a": 2}, {"a": 2}),
        ({"a": 1, "b": 2}, {"a": 1}, {"b": None}),
        ({"h": {"X": "1"}}, {"h": {"Y": "2"}}, {"h": {"X": None, "Y": "2"}}),
        ({"h": {"X": "1"}}, {"h": {}}, {"h": {"X": None}}),
        ({"body": {"a": 1}}, {"body": "text"}, {"body": "text"}),
        ({"body": "text"}, {"body": {"a": 1}}, {"body": {"a": 1}}),
        ({"body": [1, 2]}, {"body": [2]}, {"body": [2]}),
        ({}, {"t": {"u": 1}}, {"t": {"u": 1}}),
    ],
)
def test_the_patch_that_edits_a_schedule(old: Any, new: Any, patch: Any) -> None:
    assert diff_patch(old, new) == patch
    assert merge_patch(old, patch) == new


def test_bars_bucket_minutes_and_scale_to_the_peak() -> None:
    assert buckets([1] * 60) == (1, [1] * 60)
    assert buckets([1] * 360) == (5, [5] * 72)
    assert buckets([1] * 10, max_bars=4) == (3, [3, 3, 3, 1])
    minutes = [{"at": f"2030-01-01T00:{i:02d}:00.000Z", "fires": i % 3} for i in range(6)]
    size, drawn = bars(minutes)
    assert size == 1 and [b.fires for b in drawn] == [0, 1, 2, 0, 1, 2]
    assert drawn[2].height == HEIGHT - PAD - TOP and drawn[0].height == 0
    assert drawn[1].label == "00:01"


def test_the_chart_is_numbers_and_times_only() -> None:
    minutes = [{"at": "2030-01-01T00:00:00.000Z", "fires": 3}]
    chart = forecast_svg({"minutes": minutes})
    assert chart.minutes_per_bar == 1
    assert str(chart.svg).startswith('<svg class="chart"')
    assert "style=" not in str(chart.svg) and "<script" not in str(chart.svg)
