"""Durability of the fleet's state, on real processes: a Redis running with AOF (fsync on
every write) SIGKILLed and started again mid-run loses no schedule and no fire; and the
whole fleet stopped for longer than an interval comes back with each misfire policy's exact
result."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.models import Schedule
from tests.e2e.rig import FAST, TENANT, counts_line, missing, rig
from tests.e2e.services import aof_redis

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]

LEASE = float(FAST["CRONHOOK_LEASE_SECONDS"])


async def test_redis_killed_and_restarted_with_aof_loses_no_schedule_and_no_fire(
    amqp_url: str, prefix: str, queue_name: str
) -> None:
    async with aof_redis() as server, rig(server.url, amqp_url, prefix, queue_name) as r:
        # given two dispatchers on a Redis with AOF, and 24 schedules firing every 1-3 s
        for _ in range(2):
            await r.dispatcher()
        for cron in ("* * * * * *", "*/2 * * * * *", "every 3s"):
            await r.add(cron, 8)
        await asyncio.sleep(5)
        assert len(r.seen) > 0
        # when Redis is SIGKILLed mid-run and started again two seconds later
        server.kill()
        await asyncio.sleep(2)
        server.spawn()
        await server.wait_ready()
        await asyncio.sleep(LEASE + 7)  # backoff, lease expiry, catching up
        until = await r.store.now_ms() - 2000
        # then every schedule is still registered, in the time index ...
        ids = await r.store.client.zrange(r.store.keys.schedules(TENANT), 0, -1)
        assert sorted(ids) == sorted(s.id for s in r.schedules)
        records = await r.store.records.get_schedules([(TENANT, s.id) for s in r.schedules])
        assert [x.id if x else None for x in records] == [s.id for s in r.schedules]
        await r.fleet.stop_all()
        assert await r.leases() == 0
        for s in r.schedules:
            assert await r.due_at(s) is not None, s.id
        # ... and every instant, including those due while Redis was down, was published
        gaps = missing(r, until)
        expected = sum(len(r.grid(s, until)) for s in r.schedules)
        print(counts_line("aof restart", r, expected, ["Redis SIGKILLed once"]))
        assert gaps == {}, gaps
        assert r.foreign(until + 600_000) == []


INTERVAL_S = 6


def _after_instant(offset_s: float) -> float:
    """Seconds to sleep until ``offset_s`` after the next multiple of INTERVAL_S."""
    now = time.time()
    nxt = (int(now) // INTERVAL_S + 1) * INTERVAL_S
    return nxt + offset_s - now


async def test_the_fleet_down_longer_than_an_interval_comes_back_with_each_policy(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str
) -> None:
    async with rig(redis_url, amqp_url, prefix, queue_name) as r:
        # given schedules every 6 s under each misfire policy, and a running fleet
        cron = f"*/{INTERVAL_S} * * * * *"
        await r.add(cron, 1, policy="fire_all")
        await r.add(cron, 1, policy="fire_once", grace_seconds=60)
        await r.add(cron, 1, policy="fire_once", grace_seconds=1)
        await r.add(cron, 1, policy="skip")
        fire_all, once_in_grace, once_past_grace, skip = r.schedules
        for _ in range(2):
            await r.dispatcher()
        # the fleet is stopped half a second after an instant I0 ...
        await asyncio.sleep(_after_instant(0.5))
        i0 = (int(time.time()) // INTERVAL_S) * INTERVAL_S * 1000
        await r.fleet.stop_all()
        assert await r.leases() == 0
        # ... and started again 1.5 s after I2: I1 and I2 were missed, the latest by 1.5 s
        i1, i2, i3 = (i0 + k * INTERVAL_S * 1000 for k in (1, 2, 3))
        await asyncio.sleep((i2 + 1500) / 1000 - time.time())
        for _ in range(2):
            await r.dispatcher()
        assert time.time() * 1000 < i3 - 1000, "the fleet took too long to start again"
        # when I3 has passed
        await asyncio.sleep((i3 + 1500) / 1000 - time.time())

        def window(s: Schedule) -> list[int]:
            return [ms for ms in r.published(s, i3) if ms > i0]

        # then each policy did exactly what it says
        assert window(fire_all) == [i1, i2, i3]  # every missed instant, late
        assert window(once_in_grace) == [i2, i3]  # the latest missed one, within its grace
        assert window(once_past_grace) == [i3]  # the latest was 1.5 s old: past a 1 s grace
        assert window(skip) == [i3]  # nothing missed is fired
        assert r.published(fire_all, i0)[-1] == i0  # and all of them ran before the stop
