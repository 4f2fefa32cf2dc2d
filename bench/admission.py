"""Redis CPU per admission: ``fire_begin.lua`` as the invoker calls it at a held cron fire's
instant (``FireLog.begin_prepared``: the tenant's version, the fire's plan and its
schedule checked, the in-flight marker, a rate limit and a concurrency slot taken), read
from Redis's own ``used_cpu_user + used_cpu_sys``. Not a test: it prints figures.

``--fires`` cron fires of one schedule are made, then admitted ``--batch`` at a time (the
calls of one batch go out coalesced, as the invoker's of one instant do); median of
``--runs``, each on fresh records under its own key prefix, removed afterwards.

    .venv/bin/python bench/admission.py [--fires 5000] [--batch 500] [--runs 3]

Needs Redis on loopback (``CRONHOOK_TEST_REDIS_URL`` to point elsewhere). The Redis CPU
figure includes any other client's work on that Redis: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis.asyncio as aredis

from app.models import (
    RateLimit,
    RetrySettings,
    Schedule,
    SigningSecret,
    Target,
    Tenant,
    TenantLimits,
)
from app.planning import plan_schedule
from app.store import open_store
from dispatcher.invoke.limits import limit_args

REDIS_URL = os.environ.get("CRONHOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _redis_cpu_s(r: aredis.Redis) -> float:
    info = await r.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def one_run(fires: int, batch: int) -> tuple[float, float]:
    """(Redis CPU us, wall us) per admission."""
    prefix = f"benchadm{secrets.token_hex(4)}"
    store = open_store(REDIS_URL, prefix=prefix, shards=4, retention_s=3600, timeout=10)
    r = aredis.Redis.from_url(REDIS_URL)
    try:
        now = await store.now_ms()
        limits = TenantLimits(
            rate_limit=RateLimit(per_second=1_000_000, burst=1_000_000),
            max_concurrency=1_000_000,
        )
        tenant = Tenant(
            "ten_bench", "bench", now, limits, (SigningSecret("whsec_" + "A" * 43, now),)
        )
        await store.records.put_tenant(tenant)
        s = Schedule(
            "sch_bench", tenant.id, "bench", "* * * * * *", "UTC",
            Target("http://127.0.0.1/hook", body={"n": 1}), RetrySettings(), now, now,
        )  # fmt: skip
        await store.records.put_schedule(s, None)
        planned = []
        for i in range(fires):
            at = now + 1000 * (i + 1)
            planned += plan_schedule(s, at, at, now).fires
        for at in range(0, fires, 500):
            await store.fires.create_many(planned[at : at + 500])
        version = await store.records.tenant_version(tenant.id)
        args = limit_args(limits)
        cpu0, wall0 = await _redis_cpu_s(r), time.perf_counter()
        for at in range(0, fires, batch):
            answers = await asyncio.gather(
                *(
                    store.fires.begin_prepared(
                        f,
                        f"bench:{f.id}",
                        1,
                        now,
                        args,
                        7000,
                        schedule_id=s.id,
                        tenant_version=version,
                    )
                    for f in planned[at : at + batch]
                )
            )
            assert set(answers) == {"go"}, set(answers)
        cpu1, wall1 = await _redis_cpu_s(r), time.perf_counter()
        return (cpu1 - cpu0) / fires * 1e6, (wall1 - wall0) / fires * 1e6
    finally:
        keys = [k async for k in r.scan_iter(f"{prefix}*", count=1000)]
        for at in range(0, len(keys), 500):
            await r.delete(*keys[at : at + 500])
        await r.aclose()
        await store.aclose()


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fires", type=int, default=5000)
    p.add_argument("--batch", type=int, default=500)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    load = os.getloadavg()
    print(f"admission: {args.fires} fires, {args.batch} per batch, {args.runs} runs; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")  # fmt: skip
    results = [await one_run(args.fires, args.batch) for _ in range(args.runs)]
    for i, (cpu, wall) in enumerate(results, 1):
        print(f"  run {i}: Redis CPU {cpu:.1f} us per admission, wall {wall:.1f} us")
    cpu = statistics.median(c for c, _ in results)
    wall = statistics.median(w for _, w in results)
    print(f"  median: Redis CPU {cpu:.1f} us per admission, wall {wall:.1f} us")


if __name__ == "__main__":
    asyncio.run(main())
