"""The check at a cron fire's first attempt that its schedule is still the record the fire
was planned from (fire_begin.lua's 'changed', fire_replan.lua), on the embedded store and
on the real Redis: an unchanged schedule goes, any write to it is seen, a later attempt is
not checked, and a skip or a new plan applies only to the fire as it was read."""

from __future__ import annotations

from app.ids import cron_fire_id
from app.models import Attempt, Fire, RetrySettings, Schedule, Target
from app.planning import first_due_ms, plan_schedule, replanned
from app.store import Store
from app.store.fires import LimitArgs

T = "ten_check"


async def _planned(store: Store, *, overlap_marker: bool = False) -> tuple[Schedule, Fire]:
    """A per-second schedule and its next fire, planned from the stored record as the
    dispatcher plans it (the schedule's stamp in the fire)."""
    now = await store.now_ms()
    s = Schedule(
        "sch_check", T, "check", "* * * * * *", "UTC",
        Target("http://127.0.0.1/old", body={"k": 1}), RetrySettings(), now, now,
    )  # fmt: skip
    await store.records.put_schedule(s, None)
    stored = await store.records.get_versioned(T, s.id)
    assert stored is not None
    due = first_due_ms(s, now)
    assert due is not None
    (fire,) = plan_schedule(stored.schedule, due, due, now).fires
    assert await store.fires.create(fire) == "new"
    if overlap_marker:
        await store.client.set(store.keys.active_fire(T, s.id), fire.id)
    return s, fire


async def _begin(store: Store, fire: Fire, attempt: int = 1) -> str:
    answer, _ = await store.fires.begin_read(
        T, fire.id, f"inv:{attempt}", attempt, fire.scheduled_at, LimitArgs(), 1000,
        schedule_id=fire.schedule_id or "",
    )  # fmt: skip
    return answer


async def test_a_fire_of_an_unchanged_schedule_goes(store: Store) -> None:
    s, fire = await _planned(store)
    assert fire.schedule_stamp == f"1:{s.updated_at}"
    assert await _begin(store, fire) == "go"


async def test_any_write_to_the_schedule_after_planning_is_seen(store: Store) -> None:
    s, fire = await _planned(store)
    # when the schedule is written again, even with the same meaning but a new version
    await store.records.put_schedule(s.evolve(version=2, updated_at=s.updated_at + 1), None)
    assert await _begin(store, fire) == "changed"
    # or at the same version (deleted, then made again with the same id)
    await store.records.put_schedule(s.evolve(updated_at=s.updated_at + 2), None)
    # then the fire's first attempt is not begun: nothing taken, the record untouched
    assert await _begin(store, fire) == "changed"
    after = await store.fires.get(T, fire.id)
    assert after is not None and after.status == "dispatched" and after.attempt_count == 0
    assert await store.client.exists(store.keys.inflight(T, fire.id)) == 0


async def test_a_deleted_schedule_is_seen(store: Store) -> None:
    s, fire = await _planned(store)
    await store.records.delete_schedule(T, s.id)
    assert await _begin(store, fire) == "changed"


async def test_a_later_attempt_and_a_message_without_the_schedule_are_not_checked(
    store: Store,
) -> None:
    s, fire = await _planned(store)
    await store.records.delete_schedule(T, s.id)
    # a copy without the schedule (an older dispatcher's message) goes unchecked
    answer, _ = await store.fires.begin_read(T, fire.id, "inv", 1, 1, LimitArgs(), 1000)
    assert answer == "go"
    # once attempted, a retry is not checked either
    await store.fires.finish(
        T, fire.id, "inv", Attempt(1, 1, 1.0, 500, None, "", "retry"), "retrying", 2, 3
    )
    assert await _begin(store, fire, attempt=2) == "go"


async def test_a_skip_applies_to_the_fire_as_read_and_frees_its_overlap_marker(
    store: Store,
) -> None:
    s, fire = await _planned(store, overlap_marker=True)
    await store.records.put_schedule(s.evolve(paused=True, version=2), None)
    assert await _begin(store, fire) == "changed"
    outcome = replanned(fire, await store.records.get_schedule(T, s.id))
    assert outcome == "paused"
    # when the invoker records the skip
    assert await store.fires.replan(fire, 5, outcome) is True
    # then the fire is skipped for that reason, its marker is gone, and begin drops it
    after = await store.fires.get(T, fire.id)
    assert after is not None and after.status == "skipped"
    assert await store.client.hget(store.keys.fire(T, fire.id), "skip_reason") == "paused"
    assert await store.client.exists(store.keys.active_fire(T, s.id)) == 0
    assert await _begin(store, fire) == "done"
    # and a second copy's skip of the same fire changes nothing
    assert await store.fires.replan(fire, 6, outcome) is False


async def test_a_new_plan_takes_the_schedule_as_it_is_now_then_goes(store: Store) -> None:
    s, fire = await _planned(store)
    edited = s.evolve(
        target=Target("http://127.0.0.1/new", "PUT", body="x", timeout_seconds=7.0),
        callback_url="http://127.0.0.1/cb",
        version=2,
    )
    await store.records.put_schedule(edited, None)
    outcome = replanned(fire, await store.records.get_schedule(T, s.id))
    assert isinstance(outcome, Fire) and outcome.id == fire.id
    assert await store.fires.replan(fire, 5, outcome) is True
    # the record has the new target, deadline and callback, and its first attempt goes
    answer, got = await store.fires.begin_read(
        T, fire.id, "inv", 1, 9, LimitArgs(), 1000, schedule_id=s.id
    )
    assert answer == "go" and got is not None
    assert got.target == edited.target and got.callback_url == "http://127.0.0.1/cb"
    assert got.scheduled_at == fire.scheduled_at and got.status == "delivering"
    assert await store.client.hget(store.keys.fire(T, fire.id), "timeout_ms") == "7000"
    # and the plan made from the older read does not apply any more
    assert await store.fires.replan(fire, 6, outcome) is False


async def test_a_plan_drops_what_the_schedule_no_longer_has(store: Store) -> None:
    s = Schedule(
        "sch_cb", T, "cb", "* * * * * *", "UTC", Target("http://127.0.0.1/a"),
        RetrySettings(), 1, 1, callback_url="http://127.0.0.1/cb",
    )  # fmt: skip
    fire = Fire.of_schedule(s, cron_fire_id(s.id, 2000), "cron", 2000, 1, status="dispatched",
                            schedule_stamp="1:1")  # fmt: skip
    await store.fires.create(fire)
    new = replanned(fire, s.evolve(callback_url=None, version=2, updated_at=5))
    assert isinstance(new, Fire)
    assert await store.fires.replan(fire, 5, new) is True
    rec = await store.client.hgetall(store.keys.fire(T, fire.id))
    assert "callback_url" not in rec and rec["ss"] == "2:5"
