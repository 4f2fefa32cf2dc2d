"""Chaos for the dispatcher fleet, read off the queue: three dispatcher processes, schedules
with second-level crons, one random dispatcher SIGKILLed and restarted every few seconds and
one SIGSTOPped past its lease and resumed. Every (schedule, instant) is published at least
once, only under its own fire id, and no schedule advances twice. The short run is in CI;
``pytest -m slow`` runs the minute-long one. A dispatcher SIGKILLed while it holds a herd
it claimed and prepared ahead loses none of it."""

from __future__ import annotations

import asyncio
import contextlib
import random
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from app.ids import cron_fire_id
from tests.conftest import eventually
from tests.e2e.plant import wait_log
from tests.e2e.procs import Proc
from tests.e2e.rig import FAST, Rig, counts_line, missing, next_after, rig

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]

LEASE = float(FAST["CRONHOOK_LEASE_SECONDS"])
CRONS = ("* * * * * *", "*/2 * * * * *", "every 3s")


@pytest.fixture
async def r(redis_url: str, amqp_url: str, prefix: str, queue_name: str) -> AsyncIterator[Rig]:
    async with rig(redis_url, amqp_url, prefix, queue_name) as running:
        yield running


@dataclass
class Chaos:
    procs: list[Proc]
    stopped: set[int] = field(default_factory=set)  # pids under SIGSTOP
    kills: int = 0
    stops: int = 0


async def _killer(r: Rig, c: Chaos, until: float, every: float) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < until:
        await asyncio.sleep(random.uniform(0.5 * every, 1.5 * every))
        candidates = [i for i, p in enumerate(c.procs) if p.popen.pid not in c.stopped]
        if loop.time() >= until or not candidates:
            return
        i = random.choice(candidates)
        c.procs[i].kill(signal.SIGKILL)
        await asyncio.to_thread(c.procs[i].popen.wait, 10)
        c.kills += 1
        c.procs[i] = await r.dispatcher()


async def _stopper(c: Chaos, start: float, seconds: float) -> None:
    await asyncio.sleep(random.uniform(0.2, 0.4) * seconds)
    victim = random.choice(c.procs)
    c.stopped.add(victim.popen.pid)
    victim.kill(signal.SIGSTOP)
    c.stops += 1
    await asyncio.sleep(LEASE + 1.5)  # past its lease: its claims go to the others
    victim.kill(signal.SIGCONT)
    c.stopped.discard(victim.popen.pid)


async def run_chaos(r: Rig, *, seconds: float, per_cron: int, kill_every: float) -> None:
    # given three dispatchers and schedules firing every one, two and three seconds
    c = Chaos([await r.dispatcher() for _ in range(3)])
    for cron in CRONS:
        await r.add(cron, per_cron, policy="fire_all")
    # when one is SIGKILLed and restarted every few seconds, and one is stopped past its lease
    loop = asyncio.get_running_loop()
    start = loop.time()
    await asyncio.gather(_killer(r, c, start + seconds, kill_every), _stopper(c, start, seconds))
    chaos_end = await r.store.now_ms()
    await asyncio.sleep(LEASE + 3)  # the healthy fleet picks up what the chaos left behind
    # then every instant up to the end of the chaos was published, under its own fire id
    gaps = missing(r, chaos_end)
    expected = sum(len(r.grid(s, chaos_end)) for s in r.schedules)
    line = counts_line(
        "fleet chaos", r, expected, [f"{c.kills} SIGKILLs", f"{c.stops} SIGSTOPs past the lease"]
    )
    print(line)
    assert gaps == {}, f"{sum(map(len, gaps.values()))} instants never published; {line}"
    assert r.foreign(chaos_end + 600_000) == [], "a fire id outside every schedule's grid"
    assert c.kills >= seconds / kill_every / 2 and c.stops == 1
    # and after a clean stop, no claim is left and each schedule's next instant is the one
    # right after the last it published: none was advanced twice
    await r.fleet.stop_all()
    await asyncio.sleep(0.5)  # the last confirmed messages reach the consumer
    assert await r.leases() == 0
    far = await r.store.now_ms() + 60_000
    for s in r.schedules:
        last = r.published(s, far)[-1]
        assert await r.due_at(s) == next_after(r, s, last), s.cron


async def test_fleet_chaos_short(r: Rig) -> None:
    await run_chaos(r, seconds=25, per_cron=12, kill_every=3.0)


@pytest.mark.slow
async def test_fleet_chaos_a_minute(r: Rig) -> None:
    await run_chaos(r, seconds=60, per_cron=40, kill_every=3.0)


@pytest.fixture
async def herd_rig(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str
) -> AsyncIterator[Rig]:
    herd = {"CRONHOOK_HERD_SIZE": "50", "CRONHOOK_HERD_LOOKAHEAD_SECONDS": "6"}
    async with rig(redis_url, amqp_url, prefix, queue_name, **herd) as running:
        yield running


async def test_a_dispatcher_killed_holding_a_herd_claimed_ahead_loses_none_of_it(
    herd_rig: Rig,
) -> None:
    r = herd_rig
    # given 120 yearly schedules all due at T, 8 s from now (a herd: 50 or more within 6 s)
    now = await r.store.now_ms()
    at = now + 8000
    await r.add("0 0 0 1 1 *", 120, due_ms=at)
    # and a dispatcher A, which claims all of it ahead (6 s ahead, or as it starts)
    a = await r.dispatcher()
    await wait_log(a, "a herd is due", within=5)

    async def all_claimed() -> bool:
        return await r.leases() == 120

    await eventually(all_claimed, within=3)
    # when A is SIGKILLed before publishing any of it, and dispatcher B runs
    assert await r.store.now_ms() < at - 1000
    a.kill(signal.SIGKILL)
    await asyncio.to_thread(a.popen.wait, 10)
    await r.dispatcher()
    # then B publishes every fire of the herd once its lease is over (T + 3 s), each once
    ids = {cron_fire_id(s.id, at) for s in r.schedules}
    wait_s = (at - await r.store.now_ms()) / 1000 + LEASE + 10
    with contextlib.suppress(AssertionError):
        await eventually(lambda: set(r.seen) == ids, within=wait_s)
    await asyncio.sleep(0.5)  # a second copy, were there one, would have arrived
    assert set(r.seen) == ids, f"{len(ids - set(r.seen))} of the herd never published"
    assert r.duplicates() == 0
    # and after a clean stop no claim is left, every schedule moved on to its next instant
    await r.fleet.stop_all()
    assert await r.leases() == 0
    for s in r.schedules:
        assert await r.due_at(s) == next_after(r, s, at)
