"""Parsing: which expressions are accepted, and what the error says when they are not."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.cron import CronError, Timing, parse, validate_timezone

ANCHOR = datetime(2025, 1, 1, tzinfo=UTC)

VALID = [
    ("* * * * *", "cron"),
    ("*/5 9-17 * * MON-FRI", "cron"),
    ("0 0 L * ?", "cron"),
    ("0 0 L-3 * *", "cron"),
    ("0 0 15W * *", "cron"),
    ("0 0 LW * *", "cron"),
    ("0 0 ? * MON#2", "cron"),
    ("0 0 ? * 5L", "cron"),
    ("0 0 ? * friL", "cron"),
    ("0 0 1 jan,Jul *", "cron"),
    ("0 0 * * 7", "cron"),
    ("0 0 * * 0-7", "cron"),
    ("H H * * *", "cron"),
    ("H(0-29)/10 H(9-17) * * *", "cron"),
    ("H/15 * * * *", "cron"),
    ("0 0 12 * * ?", "cron"),
    ("*/10 * * * * *", "cron"),
    ("0 30 9 ? * MON-FRI 2030", "cron"),
    ("0 0 0 1 1 ? 1970-2099/10", "cron"),
    ("@yearly", "cron"),
    ("@annually", "cron"),
    ("@monthly", "cron"),
    ("@weekly", "cron"),
    ("@daily", "cron"),
    ("@midnight", "cron"),
    ("@hourly", "cron"),
    ("@HOURLY", "cron"),
    ("  0 0 * * *  ", "cron"),
    ("every 90s", "interval"),
    ("every 5m", "interval"),
    ("every 1h30m", "interval"),
    ("every 1h 30m 5s", "interval"),
    ("every 2d", "interval"),
    ("EVERY 1S", "interval"),
    ("at 2030-01-01T09:00:00Z", "once"),
    ("at 2030-01-01T09:00:00.250+05:30", "once"),
    ("at 2030-01-01 09:00:00-03:00", "once"),
    ("at 2030-01-01T09:00:00", "once"),
    ("at 2030-01-01T09:00", "once"),
]


@pytest.mark.parametrize(("expression", "kind"), VALID)
def test_valid_expressions_parse_to_their_kind(expression: str, kind: str) -> None:
    timing = parse(expression, "Europe/Berlin", seed="sched_1", anchor=ANCHOR)

    assert isinstance(timing, Timing)
    assert timing.kind == kind
    assert timing.expression == expression.strip()
    assert timing.timezone == "Europe/Berlin"


INVALID = [
    ("", "the schedule is empty"),
    ("   ", "the schedule is empty"),
    ("* * * *", "expected 5, 6 or 7 fields"),
    ("* * * * * * * *", "expected 5, 6 or 7 fields, got 8"),
    ("60 * * * *", "field 1 (minute): 60 is out of range 0-59"),
    ("0 24 * * *", "field 2 (hour): 24 is out of range 0-23"),
    ("0 0 25 * * *", "field 3 (hour): 25 is out of range 0-23"),
    ("0 0 0 0 * *", "field 4 (day of month): 0 is out of range 1-31"),
    ("0 0 32 * *", "field 3 (day of month): 32 is out of range 1-31"),
    ("0 0 1 13 *", "field 4 (month): 13 is out of range 1-12"),
    ("0 0 * * 8", "field 5 (day of week): 8 is out of range 0-7"),
    ("0 0 * FOO *", "field 4 (month): 'FOO' is not a number or a month name"),
    ("0 0 * * MONDAY", "field 5 (day of week): 'MONDAY' is not a number or a day of week name"),
    ("x * * * *", "field 1 (minute): 'X' is not a number"),
    ("5-1 * * * *", "field 1 (minute): range 5-1 is reversed"),
    ("*/0 * * * *", "field 1 (minute): step 0 is out of range 1-59"),
    ("*/90 * * * * *", "field 1 (second): step 90 is out of range 1-59"),
    ("1,,2 * * * *", "field 1 (minute): empty item in list"),
    ("? * * * *", "field 1 (minute): ? is allowed only in day of month and day of week"),
    ("0 0 * * L", "field 5 (day of week): L needs a weekday before it"),
    ("0 0 * * MON#6", "field 5 (day of week): MON#6: the occurrence after # is out of range 1-5"),
    ("0 0 L-31 * *", "field 3 (day of month): L-31: the offset is out of range 0-30"),
    ("0 0 32W * *", "field 3 (day of month): 32 is out of range 1-31"),
    ("0 0 0 * * ? 1969", "field 7 (year): 1969 is out of range 1970-2099"),
    ("0 0 0 * * ? 2100", "field 7 (year): 2100 is out of range 1970-2099"),
    ("0 0 30 2 *", "never match a real date"),
    ("0 0 0 31 4 ? *", "never match a real date"),
    ("0 0 0 29 2 ? 2025", "never match a real date in the years given"),
    ("0 0 L W * *", "field 3 (hour): 'L' is not a number"),
    ("@reboot", "unknown macro '@reboot'"),
    ("@every 5m", "unknown macro"),
    ("every 0s", "the interval must be at least 1 second"),
    ("every 5x", "unknown unit 'x'"),
    ("every 30m1h", "units must appear once each, largest first"),
    ("every", "expected 5, 6 or 7 fields"),
    ("at tomorrow", "'at' needs an RFC 3339 instant"),
    ("at 2030-13-01T09:00:00Z", "month must be in 1..12"),
    ("at 2030-01-01T09:00:00+25:00", "offset +25:00 is out of range"),
    ("H(30-10) * * * *", "field 1 (minute): range H(30-10) is reversed"),
    ("H(0-99) * * * *", "field 1 (minute): 99 is out of range 0-59"),
]


@pytest.mark.parametrize(("expression", "message"), INVALID)
def test_invalid_expressions_raise_a_cron_error_naming_the_fault(
    expression: str, message: str
) -> None:
    with pytest.raises(CronError) as caught:
        parse(expression, "UTC", anchor=ANCHOR)

    assert message in str(caught.value)
    assert caught.value.field == "cron"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("europe/berlin", "did you mean 'Europe/Berlin'?"),
        ("+02:00", "use an IANA name"),
        ("", "unknown time zone ''"),
        ("../../etc/passwd", "unknown time zone"),
        ("localtime", "unknown time zone"),
    ],
)
def test_unknown_time_zones_raise_a_timezone_error(name: str, message: str) -> None:
    with pytest.raises(CronError) as caught:
        parse("* * * * *", name)

    assert message in str(caught.value)
    assert caught.value.field == "timezone"


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "Australia/Lord_Howe", "Etc/GMT+5"])
def test_validate_timezone_returns_the_zone(name: str) -> None:
    assert validate_timezone(name).key == name


def test_interval_without_anchor_is_refused() -> None:
    with pytest.raises(CronError, match="needs an anchor"):
        parse("every 90s")


def test_naive_anchor_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        parse("every 90s", anchor=datetime(2025, 1, 1))


def test_parsed_timings_are_cached_and_hashable() -> None:
    first = parse("*/5 * * * *", "Europe/Berlin", seed="a")
    second = parse("*/5 * * * *", "Europe/Berlin", seed="b")

    assert first is second  # no H: the seed does not matter, one cached Timing serves both
    assert hash(first) == hash(second)
    assert parse("H * * * *", seed="a") != parse("H * * * *", seed="b")


def test_interval_timings_with_different_anchors_differ() -> None:
    a = parse("every 90s", anchor=ANCHOR)
    b = parse("every 90s", anchor=datetime(2025, 1, 2, tzinfo=UTC))

    assert a != b
    assert a.anchor == ANCHOR
    assert {a, b} == {a, b}


def test_cron_error_is_a_value_error() -> None:
    assert issubclass(CronError, ValueError)


def test_public_names_are_sorted_and_importable() -> None:
    import app.cron
    import app.misfire

    for module in (app.cron, app.misfire):
        # isort style, as ruff's RUF022 keeps it: CONSTANTS, then Classes, then functions
        order = sorted(module.__all__, key=lambda n: (not n.isupper(), not n[0].isupper(), n))
        assert module.__all__ == order
        assert all(hasattr(module, name) for name in module.__all__)


def test_far_future_instants_end_the_schedule() -> None:
    far = datetime(9999, 12, 31, 23, 0, tzinfo=UTC)

    assert parse("every 1d", anchor=ANCHOR).next_after(far) is None
    assert parse("0 0 1 1 *").next_after(far) is None
