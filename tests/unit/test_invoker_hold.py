"""The invoker's hold of fires published ahead: until the instant in Redis time, read
through the heartbeat's measure of this clock (skew plus its uncertainty: never early), one
timer per HOLD_STEP_MS step set for the latest instant in it, and a cancelled holder leaves
the others holding."""

from __future__ import annotations

import asyncio
import time

import pytest

from dispatcher.invoke.invoker import HOLD_STEP_MS, Invoker
from dispatcher.registry import SkewReading


def now_ms() -> float:
    return time.time() * 1000


@pytest.mark.parametrize("skew_ms", [0.0, 150.0, -150.0])
async def test_a_hold_ends_at_the_instant_read_through_the_measured_skew(
    invoker: Invoker, skew_ms: float
) -> None:
    # given this clock measured skew_ms ahead of Redis TIME, give or take 5 ms
    invoker.skew = lambda: SkewReading(redis_ms=0, skew_ms=skew_ms, uncertainty_ms=5.0)
    instant = now_ms() + 300  # in Redis time
    # when a fire due at that instant is held
    await invoker.hold(int(instant))
    # then it is let go no earlier than the instant on this clock, and not much later
    ended = now_ms()
    assert ended >= int(instant) + skew_ms + 5.0
    assert ended < int(instant) + skew_ms + 5.0 + HOLD_STEP_MS + 100
    assert invoker.stats.held == 1


async def test_an_instant_already_past_is_not_held(invoker: Invoker) -> None:
    started = time.monotonic()
    await invoker.hold(int(now_ms()) - 1000)
    assert time.monotonic() - started < 0.05
    assert invoker.stats.held == 0


async def test_fires_held_for_instants_a_step_apart_share_one_timer_and_outlive_a_cancelled_one(
    invoker: Invoker,
) -> None:
    # given 200 fires held for instants within one step of each other
    start = (int(now_ms()) // HOLD_STEP_MS + 60) * HOLD_STEP_MS + 1
    instants = [start + i % (HOLD_STEP_MS - 1) for i in range(200)]
    instant = max(instants)
    holders = [asyncio.create_task(invoker.hold(at)) for at in instants]
    await asyncio.sleep(0.05)
    # then they wait on one timer, set for the latest of their instants (not the step's end)
    (held,) = invoker._holds.values()
    assert held.at_ms == instant
    # when one of them is cancelled (its invoker stopping, say)
    holders[0].cancel()
    await asyncio.gather(*holders, return_exceptions=True)
    # then the others were let go at the instant, not before
    assert holders[0].cancelled()
    assert all(h.done() and not h.cancelled() for h in holders[1:])
    assert now_ms() >= instant
    assert invoker._holds == {}
    assert invoker.stats.held == 200
