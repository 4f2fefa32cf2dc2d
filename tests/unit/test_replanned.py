"""app.planning.replanned: what a cron fire becomes when its schedule changed between its
planning and its first attempt."""

from __future__ import annotations

from app.ids import cron_fire_id
from app.models import Fire, RetrySettings, Schedule, Target
from app.planning import plan_schedule, replanned, schedule_stamp

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def _schedule(**changes: object) -> Schedule:
    s = Schedule(
        "sch_1", "ten_1", "s", "* * * * * *", "UTC", Target("http://127.0.0.1/a"),
        RetrySettings(), T0 - 60_000, T0 - 60_000,
    )  # fmt: skip
    return s.evolve(**changes)


def _fire(s: Schedule, at: int = T0 + 5000) -> Fire:
    (fire,) = plan_schedule(s, at, at, created_ms=at - 800).fires
    return fire


def test_a_fire_keeps_the_stamp_of_the_schedule_it_was_planned_from() -> None:
    s = _schedule(version=4, updated_at=T0 - 7)
    assert _fire(s).schedule_stamp == schedule_stamp(s) == f"4:{T0 - 7}"


def test_a_deleted_or_paused_schedule_skips_the_fire() -> None:
    s = _schedule()
    assert replanned(_fire(s), None) == "deleted"
    assert replanned(_fire(s), s.evolve(paused=True, version=2)) == "paused"


def test_a_schedule_that_no_longer_fires_at_the_instant_skips_it() -> None:
    s = _schedule()
    fire = _fire(s)
    assert replanned(fire, s.evolve(cron="0 0 0 1 1 *", version=2)) == "edited"
    assert replanned(fire, s.evolve(end_at=fire.scheduled_at - 1, version=2)) == "edited"
    assert replanned(fire, s.evolve(start_at=fire.scheduled_at + 1, version=2)) == "edited"
    assert replanned(fire, s.evolve(timezone="Asia/Kolkata", cron="0 * * * * *")) == "edited"


def test_a_schedule_that_still_fires_then_gives_the_fire_its_new_settings() -> None:
    s = _schedule()
    fire = _fire(s)
    edited = s.evolve(
        cron="*/5 * * * * *",  # T0 + 5 s is still one of its instants
        target=Target("http://127.0.0.1/b", "PUT", body="x"),
        retry=RetrySettings(max_attempts=2),
        failure_callback_url="http://127.0.0.1/dead",
        version=3,
        updated_at=T0,
    )
    new = replanned(fire, edited)
    assert isinstance(new, Fire)
    assert (new.id, new.scheduled_at, new.kind, new.status) == (
        cron_fire_id(s.id, T0 + 5000),
        fire.scheduled_at,
        "cron",
        "dispatched",
    )
    assert (new.target, new.retry, new.failure_callback_url) == (
        edited.target,
        edited.retry,
        "http://127.0.0.1/dead",
    )
    assert new.schedule_stamp == f"3:{T0}" and new.created_at == fire.created_at
