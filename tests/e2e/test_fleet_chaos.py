"""Chaos for the dispatcher fleet, read off the queue: three dispatcher processes, schedules
with second-level crons, one random dispatcher SIGKILLed and restarted every few seconds and
one SIGSTOPped past its lease and resumed. Every (schedule, instant) is published at least
once, only under its own fire id, and no schedule advances twice. The short run is in CI;
``pytest -m slow`` runs the minute-long one."""

from __future__ import annotations

import asyncio
import random
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

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
