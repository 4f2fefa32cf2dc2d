"""The misfire planner, from tables, plus invariants checked against plain enumeration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.cron import Timing, parse
from app.misfire import MisfirePlan, Policy, plan_misfire, still_fires

T0 = datetime(2025, 1, 1, tzinfo=UTC)


def at(minutes: float = 0, seconds: float = 0, days: int = 0) -> datetime:
    return T0 + timedelta(days=days, minutes=minutes, seconds=seconds)


EVERY_MINUTE = parse("* * * * *")
EVERY_SECOND = parse("* * * * * *")
EVERY_90S = parse("every 90s", anchor=T0)
ONCE = parse("at 2025-01-01T00:00:00Z")

TABLE: list[tuple[str, Timing, datetime, datetime, Policy, dict[str, float], MisfirePlan]] = [
    # (case, timing, due_at, now, policy, options, expected plan)
    *[
        (
            f"released at its instant, {policy}",
            EVERY_MINUTE,
            at(),
            at(),
            policy,
            {"grace_seconds": 0, "max_fire_all": 0},
            MisfirePlan((at(),), 0, at(1)),
        )
        for policy in ("fire_once", "skip", "fire_all")
    ],
    (
        "released at an instant the timing no longer has (an edit): trusted",
        EVERY_MINUTE,
        at(seconds=20),
        at(seconds=20),
        "fire_once",
        {},
        MisfirePlan((at(seconds=20),), 0, at(1)),
    ),
    (
        "released at its instant, given in another zone: fired in UTC",
        EVERY_MINUTE,
        at().astimezone(ZoneInfo("America/New_York")),
        at(),
        "fire_once",
        {},
        MisfirePlan((at(),), 0, at(1)),
    ),
    (
        "on time",
        EVERY_MINUTE,
        at(),
        at(seconds=0.5),
        "fire_once",
        {},
        MisfirePlan((at(),), 0, at(1)),
    ),
    (
        "on time at the tolerance",
        EVERY_MINUTE,
        at(),
        at(seconds=1),
        "skip",
        {},
        MisfirePlan((at(),), 0, at(1)),
    ),
    (
        "on time with a wider tolerance",
        EVERY_MINUTE,
        at(),
        at(seconds=5),
        "skip",
        {"late_tolerance_seconds": 10},
        MisfirePlan((at(),), 0, at(1)),
    ),
    (
        "fire_once: late, within grace",
        EVERY_MINUTE,
        at(),
        at(seconds=30),
        "fire_once",
        {},
        MisfirePlan((at(),), 0, at(1)),
    ),
    (
        "fire_once: two missed coalesce into the latest",
        EVERY_MINUTE,
        at(),
        at(1.5),
        "fire_once",
        {},
        MisfirePlan((at(1),), 1, at(2)),
    ),
    (
        "fire_once: latest beyond grace",
        EVERY_MINUTE,
        at(),
        at(10.5),
        "fire_once",
        {"grace_seconds": 20},
        MisfirePlan((), 11, at(11)),
    ),
    (
        "fire_once: grace boundary is inclusive",
        EVERY_MINUTE,
        at(),
        at(10, 20),
        "fire_once",
        {"grace_seconds": 20},
        MisfirePlan((at(10),), 10, at(11)),
    ),
    (
        "skip: everything late",
        EVERY_MINUTE,
        at(),
        at(10.5),
        "skip",
        {},
        MisfirePlan((), 11, at(11)),
    ),
    (
        "skip: the newest is on time",
        EVERY_MINUTE,
        at(),
        at(10, 0.5),
        "skip",
        {},
        MisfirePlan((at(10),), 10, at(11)),
    ),
    (
        "skip: late only a little",
        EVERY_MINUTE,
        at(),
        at(seconds=2),
        "skip",
        {},
        MisfirePlan((), 1, at(1)),
    ),
    (
        "fire_all: every missed instant",
        EVERY_MINUTE,
        at(),
        at(3.5),
        "fire_all",
        {},
        MisfirePlan((at(), at(1), at(2), at(3)), 0, at(4)),
    ),
    (
        "fire_all: the newest max_fire_all",
        EVERY_MINUTE,
        at(),
        at(10.5),
        "fire_all",
        {"max_fire_all": 3},
        MisfirePlan((at(8), at(9), at(10)), 8, at(11)),
    ),
    (
        "fire_all: max 0 fires nothing",
        EVERY_MINUTE,
        at(),
        at(10.5),
        "fire_all",
        {"max_fire_all": 0},
        MisfirePlan((), 11, at(11)),
    ),
    ("not due yet", EVERY_MINUTE, at(5), at(4), "fire_once", {}, MisfirePlan((), 0, at(5))),
    (
        "due_at off the schedule (edited) is still fired",
        EVERY_MINUTE,
        at(seconds=30),
        at(2, 10),
        "fire_all",
        {},
        MisfirePlan((at(seconds=30), at(1), at(2)), 0, at(3)),
    ),
    (
        "interval: coalesce",
        EVERY_90S,
        at(1.5),
        at(seconds=490),
        "fire_once",
        {},
        MisfirePlan((at(seconds=450),), 4, at(9)),
    ),
    (
        "interval: fire_all",
        EVERY_90S,
        at(1.5),
        at(seconds=490),
        "fire_all",
        {},
        MisfirePlan(tuple(at(seconds=s) for s in (90, 180, 270, 360, 450)), 0, at(9)),
    ),
    (
        "one-off within grace",
        ONCE,
        at(),
        at(seconds=30),
        "fire_once",
        {},
        MisfirePlan((at(),), 0, None),
    ),
    ("one-off beyond grace", ONCE, at(), at(120), "fire_once", {}, MisfirePlan((), 1, None)),
    (
        "one-off, fire_all ignores grace",
        ONCE,
        at(),
        at(120),
        "fire_all",
        {},
        MisfirePlan((at(),), 0, None),
    ),
    (
        "a week of seconds, coalesced",
        EVERY_SECOND,
        at(),
        at(days=7, seconds=0.5),
        "fire_once",
        {},
        MisfirePlan((at(days=7),), 7 * 86400, at(days=7, seconds=1)),
    ),
    (
        "a week of seconds, fire_all",
        EVERY_SECOND,
        at(),
        at(days=7, seconds=2.5),
        "fire_all",
        {"max_fire_all": 2},
        MisfirePlan(
            (at(days=7, seconds=1), at(days=7, seconds=2)), 7 * 86400 + 1, at(days=7, seconds=3)
        ),
    ),
]


@pytest.mark.parametrize(
    ("timing", "due_at", "now", "policy", "options", "expected"),
    [pytest.param(*row[1:], id=row[0]) for row in TABLE],
)
def test_misfire_plan(
    timing: Timing,
    due_at: datetime,
    now: datetime,
    policy: Policy,
    options: dict[str, float],
    expected: MisfirePlan,
) -> None:
    plan = plan_misfire(timing, due_at, now, policy=policy, **options)  # type: ignore[arg-type]

    assert plan == expected


def test_instants_are_planned_in_utc_whatever_zone_they_come_in() -> None:
    ny = ZoneInfo("America/New_York")
    for now in (at(), at(seconds=0.5), at(5)):  # at the instant, on time, late
        plan = plan_misfire(EVERY_MINUTE, at().astimezone(ny), now.astimezone(ny))
        assert plan.fires and all(f.tzinfo is UTC for f in plan.fires)
        assert plan.next_at is not None and plan.next_at.tzinfo is UTC


def test_default_policy_is_fire_once_with_a_60_second_grace() -> None:
    assert plan_misfire(EVERY_MINUTE, at(), at(1, 0)) == MisfirePlan((at(1),), 1, at(2))
    assert plan_misfire(EVERY_MINUTE, at(), at(2, 59)) == MisfirePlan((at(2),), 2, at(3))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"policy": "sometimes"}, "unknown misfire policy 'sometimes'"),
        ({"grace_seconds": -1}, "must be >= 0"),
        ({"max_fire_all": -1}, "must be >= 0"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict[str, object], message: str) -> None:
    for now in (at(5), at()):  # late, and released at its instant
        with pytest.raises(ValueError, match=message):
            plan_misfire(EVERY_MINUTE, at(), now, **kwargs)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        plan_misfire(EVERY_MINUTE, datetime(2025, 1, 1), at(5))


def _missed(timing: Timing, due_at: datetime, now: datetime) -> list[datetime]:
    found = [due_at]
    moment = timing.next_after(due_at)
    while moment is not None and moment <= now:
        found.append(moment)
        moment = timing.next_after(moment)
    return found


TIMINGS = [
    EVERY_MINUTE,
    parse("*/7 * * * * *"),
    parse("0,30 * * * *", "America/New_York"),
    parse("every 45s", anchor=T0),
    parse("30 1 * * *", "America/New_York"),
]


@settings(max_examples=150, deadline=None)
@given(
    timing=st.sampled_from(TIMINGS),
    due_offset=st.integers(0, 3 * 86400),
    late=st.one_of(st.floats(0, 90), st.floats(0, 4 * 3600)),  # within a period, and not
    policy=st.sampled_from(["fire_once", "skip", "fire_all"]),
    grace=st.sampled_from([0.0, 30.0, 600.0]),
    max_fire_all=st.integers(0, 20),
)
def test_every_missed_instant_is_fired_or_skipped_exactly_once(
    timing: Timing,
    due_offset: int,
    late: float,
    policy: Policy,
    grace: float,
    max_fire_all: int,
) -> None:
    # given: a due instant of the schedule near the fall-back night, claimed `late` seconds late
    start = datetime(2024, 11, 2, tzinfo=UTC) + timedelta(seconds=due_offset)
    due_at = timing.next_after(start)
    assert due_at is not None
    now = due_at + timedelta(seconds=late)

    # when
    plan = plan_misfire(
        timing, due_at, now, policy=policy, grace_seconds=grace, max_fire_all=max_fire_all
    )

    # then
    missed = _missed(timing, due_at, now)
    assert len(plan.fires) + plan.skipped == len(missed)
    assert list(plan.fires) == sorted(set(plan.fires))
    assert set(plan.fires) <= set(missed)
    assert plan.next_at == timing.next_after(now)
    assert plan.next_at is None or plan.next_at > now
    if policy == "fire_all" and late > 1:
        assert list(plan.fires) == missed[len(missed) - min(len(missed), max_fire_all) :]


@pytest.mark.parametrize(
    ("timing", "published", "policy", "grace", "fires"),
    [
        (EVERY_MINUTE, at(seconds=0.9), "skip", 60, True),  # within the tolerance: on time
        (EVERY_MINUTE, at(seconds=1.5), "skip", 60, False),
        (EVERY_MINUTE, at(seconds=5), "fire_once", 60, True),  # the latest instant, in grace
        (EVERY_MINUTE, at(seconds=90), "fire_once", 300, False),  # 00:01 came meanwhile
        (EVERY_MINUTE, at(seconds=50), "fire_once", 30, False),  # past grace
        (EVERY_SECOND, at(seconds=2.5), "fire_once", 60, False),  # the next claim coalesces
        (EVERY_SECOND, at(seconds=2.5), "fire_all", 0, True),
        (ONCE, at(seconds=50), "fire_once", 60, True),  # no later instant to coalesce into
        (ONCE, at(seconds=50), "skip", 60, False),
    ],
)
def test_a_fire_published_late_still_fires_only_as_its_policy_says(
    timing: Timing, published: datetime, policy: Policy, grace: float, fires: bool
) -> None:
    assert still_fires(timing, at(), published, policy=policy, grace_seconds=grace) is fires
