"""Day-of-week numbering: plain 6- and 7-field crons number days as Spring and Vixie do
(0 or 7 = Sunday, 1 = Monday ... 6 = Saturday); the ``quartz:`` form numbers them as Quartz
does (1 = Sunday ... 7 = Saturday). Names mean the same in both."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app import cron

START = datetime(2030, 1, 1, tzinfo=UTC)


def _instants(expression: str, count: int = 12) -> list[datetime]:
    return [o.utc for o in cron.parse(expression).occurrences(START, count)]


@pytest.mark.parametrize(
    ("quartz", "plain", "weekdays"),
    [
        ("quartz:0 0 12 ? * 6#3", "0 0 12 ? * 5#3", {4}),  # the third Friday
        ("quartz:0 0 12 ? * 1", "0 0 12 ? * 0", {6}),  # Sunday
        ("quartz:0 0 12 ? * 7", "0 0 12 ? * 6", {5}),  # Saturday
        ("quartz:0 0 12 ? * 2-6", "0 0 12 ? * 1-5", {0, 1, 2, 3, 4}),  # Monday to Friday
        ("quartz:0 0 12 ? * 1/2", "0 0 12 ? * 0/2", {6, 1, 3, 5}),  # SUN TUE THU SAT
        ("quartz:0 0 12 ? * 6L", "0 0 12 ? * 5L", {4}),  # the last Friday
        ("quartz:0 0 12 ? * 2,4", "0 0 12 ? * 1,3", {0, 2}),
        ("quartz:0 0 12 ? * MON-FRI", "0 0 12 ? * MON-FRI", {0, 1, 2, 3, 4}),
        ("quartz:0 0 12 ? * FRI#3", "0 0 12 ? * FRI#3", {4}),
        ("QUARTZ:0 0 12 ? * 6#3 2030-2031", "0 0 12 ? * 5#3 2030-2031", {4}),
    ],
)
def test_quartz_day_numbers_name_the_days_quartz_means(
    quartz: str, plain: str, weekdays: set[int]
) -> None:
    got = _instants(quartz)
    assert got == _instants(plain)
    assert {d.weekday() for d in got} == weekdays  # Python: Monday = 0


def test_a_plain_six_field_cron_numbers_days_as_spring() -> None:
    assert {d.weekday() for d in _instants("0 0 12 ? * 6#3")} == {5}  # the third Saturday


@pytest.mark.parametrize(
    ("expression", "words"),
    [
        ("quartz:0 0 12 ? * 0", "0 is out of range 1-7"),
        ("quartz:0 0 12 ? * 8", "8 is out of range 1-7"),
        ("quartz:0 12 * * 1", "quartz: takes 6 or 7 fields"),
        ("quartz:@daily", "quartz: takes 6 or 7 fields"),
    ],
)
def test_quartz_forms_out_of_its_range_are_refused(expression: str, words: str) -> None:
    with pytest.raises(cron.CronError, match=words):
        cron.parse(expression)
