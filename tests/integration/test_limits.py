"""Per-tenant limits in fire_begin.lua, on the embedded store and on the real Redis.

The limiter's clock is pinned (``LimitArgs.clock_ms``) so every answer is exact.
"""

from __future__ import annotations

import pytest

from app.models import Attempt, Fire, RetrySettings, Target
from app.store import Store
from app.store.fires import LimitArgs
from dispatcher.invoke.limits import Admission, parse_admission

T = "ten_limits"
TTL = 10_000


def _fire(fid: str) -> Fire:
    return Fire(
        id=fid,
        tenant_id=T,
        schedule_id=None,
        kind="message",
        scheduled_at=1,
        status="dispatched",
        created_at=1,
        updated_at=1,
        target=Target(url="http://127.0.0.1/x"),
        retry=RetrySettings(),
    )


def _ok(n: int) -> Attempt:
    return Attempt(n, 1, 1.0, 200, None, "ok", "success")


async def _begin(
    store: Store, fid: str, limits: LimitArgs, *, attempt: int = 1, owner: str | None = None
) -> Admission:
    if await store.fires.get(T, fid) is None:
        await store.fires.create(_fire(fid))
    answer = await store.fires.begin(T, fid, owner or f"inv:{fid}", attempt, TTL, 1, limits)
    return parse_admission(answer)


def _rate(clock: int, per_second: float = 10, burst: int = 3) -> LimitArgs:
    return LimitArgs(interval_ms=1000 / per_second, burst=burst, clock_ms=clock)


def _conc(clock: int, n: int = 2, jitter: float = 1.0) -> LimitArgs:
    return LimitArgs(
        max_concurrency=n, recheck_base_ms=100, recheck_cap_ms=5000, jitter=jitter, clock_ms=clock
    )


async def test_a_burst_goes_at_once_and_the_rest_is_deferred_to_exact_moments(
    store: Store,
) -> None:
    # given 10/s with a burst of 3, five fires at the same instant
    got = [await _begin(store, f"fire_{i}", _rate(1_000_000)) for i in range(5)]
    # then three go, and the others are each given their own later moment (reserved)
    assert [a.state for a in got] == ["go", "go", "go", "limit", "limit"]
    assert [(a.reason, a.wait_ms, a.at_ms) for a in got[3:]] == [
        ("rate", 100, 1_000_100),
        ("rate", 200, 1_000_200),
    ]


async def test_a_deferred_fire_goes_at_its_moment_without_a_second_rate_check(
    store: Store,
) -> None:
    for i in range(5):
        await _begin(store, f"fire_{i}", _rate(1_000_000))
    # when the fourth comes back exactly at its moment, it goes
    assert (await _begin(store, "fire_3", _rate(1_000_100))).state == "go"
    # a fifth that comes back early is sent back to its moment, without a new reservation
    early = await _begin(store, "fire_4", _rate(1_000_150))
    assert (early.state, early.wait_ms, early.at_ms) == ("limit", 50, 1_000_200)
    # while a new fire queues behind every reservation
    late = await _begin(store, "fire_new", _rate(1_000_150))
    assert (late.state, late.at_ms) == ("limit", 1_000_300)
    assert (await _begin(store, "fire_4", _rate(1_000_200))).state == "go"


async def test_the_rate_refills_over_time(store: Store) -> None:
    for i in range(3):
        assert (await _begin(store, f"fire_{i}", _rate(1_000_000))).state == "go"
    # a second later the whole burst is available again
    got = [await _begin(store, f"fire_b{i}", _rate(1_001_000)) for i in range(4)]
    assert [a.state for a in got] == ["go", "go", "go", "limit"]


async def test_a_deferral_uses_no_attempt_and_is_counted(store: Store) -> None:
    for i in range(3):
        await _begin(store, f"fire_{i}", _rate(1_000_000))
    await _begin(store, "fire_x", _rate(1_000_000))
    await _begin(store, "fire_x", _rate(1_000_010))  # back too early: deferred again
    fire = await store.fires.get(T, "fire_x")
    assert fire is not None
    assert (fire.attempt_count, fire.deferrals, fire.status) == (0, 2, "dispatched")
    assert fire.first_attempt_at is None and fire.next_attempt_at == 1_000_100
    # and the same attempt number goes later
    assert (await _begin(store, "fire_x", _rate(1_000_100), attempt=1)).state == "go"


async def test_duplicates_and_finished_fires_spend_nothing(store: Store) -> None:
    limits = _rate(1_000_000, burst=2)
    assert (await _begin(store, "fire_a", limits)).state == "go"
    # a copy of the attempt in flight, and a stale copy, leave the budget alone
    assert (await _begin(store, "fire_a", limits, owner="other")).state == "busy"
    await store.fires.finish(T, "fire_a", "inv:fire_a", _ok(1), "succeeded", 2, None)
    assert (await _begin(store, "fire_a", limits, owner="other")).state == "done"
    assert (await _begin(store, "fire_b", limits)).state == "go"  # the burst's second token


async def test_concurrency_defers_before_a_slot_is_taken(store: Store) -> None:
    # given two deliveries of the tenant in flight (limit 2)
    assert (await _begin(store, "fire_a", _conc(1_000_000))).state == "go"
    assert (await _begin(store, "fire_b", _conc(1_000_000))).state == "go"
    assert await store.fires.in_flight(T) == 2
    # then a third is deferred, backing off per deferral, no marker or slot taken
    waits = [(await _begin(store, "fire_c", _conc(1_000_000))).wait_ms for _ in range(4)]
    assert waits == [100, 200, 400, 800]
    assert await store.fires.in_flight(T) == 2
    assert await store.client.exists(store.keys.inflight(T, "fire_c")) == 0
    # when one finishes, its slot is free and the third goes
    await store.fires.finish(T, "fire_a", "inv:fire_a", _ok(1), "succeeded", 2, None)
    assert (await _begin(store, "fire_c", _conc(1_000_000))).state == "go"


async def test_a_concurrency_wait_never_passes_the_earliest_slot_expiry(store: Store) -> None:
    await _begin(store, "fire_a", _conc(1_000_000, n=1))
    for _ in range(10):  # backoff grows past the 5 s cap
        await _begin(store, "fire_b", _conc(1_000_000 + TTL - 300, n=1))
    last = await _begin(store, "fire_b", _conc(1_000_000 + TTL - 300, n=1))
    assert (last.reason, last.wait_ms) == ("concurrency", 300)


@pytest.mark.parametrize("jitter", [0.5, 0.75])
async def test_concurrency_waits_are_jittered(store: Store, jitter: float) -> None:
    await _begin(store, "fire_a", _conc(1_000_000, n=1))
    got = await _begin(store, "fire_b", _conc(1_000_000, n=1, jitter=jitter))
    assert got.wait_ms == int(100 * jitter)


async def test_a_dead_invokers_slot_frees_itself_at_its_expiry(store: Store) -> None:
    # given an invoker that took a slot and was killed (it never finishes)
    await _begin(store, "fire_a", _conc(1_000_000, n=1))
    assert (await _begin(store, "fire_b", _conc(1_000_000 + TTL - 1, n=1))).state == "limit"
    # then once the slot's ttl has run out, the next fire goes
    assert (await _begin(store, "fire_b", _conc(1_000_000 + TTL, n=1))).state == "go"


async def test_releasing_frees_the_marker_and_the_slot(store: Store) -> None:
    await _begin(store, "fire_a", _conc(1_000_000, n=1))
    assert await store.fires.release(T, "fire_a", "inv:fire_a") is True
    fire = await store.fires.get(T, "fire_a")
    assert fire is not None and fire.status == "dispatched"
    # another invoker may take the attempt at once, and the tenant's slot is free
    assert (await _begin(store, "fire_a", _conc(1_000_000, n=1), owner="inv2")).state == "go"
    assert await store.fires.release(T, "fire_a", "inv:fire_a") is False  # not ours now


async def test_no_limits_means_every_fire_goes(store: Store) -> None:
    got = [await _begin(store, f"fire_{i}", LimitArgs(clock_ms=1)) for i in range(50)]
    assert {a.state for a in got} == {"go"}
    assert await store.client.exists(store.keys.slots(T), store.keys.rate(T)) == 0


async def test_both_limits_together(store: Store) -> None:
    both = LimitArgs(interval_ms=100, burst=5, max_concurrency=2, clock_ms=1_000_000)
    got = [(await _begin(store, f"fire_{i}", both)) for i in range(4)]
    # concurrency refuses before the rate is spent: no reservation for the refused
    assert [(a.state, a.reason) for a in got] == [
        ("go", ""),
        ("go", ""),
        ("limit", "concurrency"),
        ("limit", "concurrency"),
    ]
    assert await store.client.hget(store.keys.fire(T, "fire_2"), "rate_at") is None


async def test_the_marker_lives_for_the_fires_deadline_plus_the_margin(store: Store) -> None:
    await store.fires.create(_fire("fire_new"))  # Target() default: 30 s
    await store.fires.create(_fire("fire_old"))
    await store.client.hdel(store.keys.fire(T, "fire_old"), "timeout_ms")  # written before
    for fid in ("fire_new", "fire_old"):
        answer, fire = await store.fires.begin_read(T, fid, "inv", 1, 5, LimitArgs(), 7000)
        assert answer == "go" and fire is not None and fire.status == "delivering"
        ttl = await store.client.pttl(store.keys.inflight(T, fid))
        assert 36_000 < ttl <= 37_000, fid
