"""Redis memory per schedule, per fire record and per attempt, and at a million schedules.

Runs a private redis-server (a free loopback port, no persistence) so that nothing else's keys
count, writes schedules the way the API does (record, the tenant's list, the time-index
item with its payload, bench/dispatch.py's ``seed``), then fire records (``FireLog
.create_many``, as the dispatcher does) and attempts (the JSON line fire_finish.lua appends
per attempt), and prints ``used_memory`` deltas per item.

    .venv/bin/python bench/memory.py                 # 100,000 schedules, 50,000 fires
    .venv/bin/python bench/memory.py --schedules 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.models import Attempt, Fire, RetrySettings, Target
from app.store import Store, open_store
from bench.dispatch import TENANT, seed

CRON = "0 0 1 1 *"  # nothing due while the dispatcher idles


async def used(store: Store) -> int:
    return int((await store.client.info("memory"))["used_memory"])


def fire(i: int, now: int) -> Fire:
    return Fire(
        id=f"fire_{i:024d}",
        tenant_id=TENANT,
        schedule_id=f"sch_bench{i:019d}",
        kind="cron",
        scheduled_at=now + i,
        status="dispatched",
        created_at=now,
        updated_at=now,
        target=Target(url="https://hooks.example.com/cron/job", body='{"job":"report"}'),
        retry=RetrySettings(),
    )


def attempt_json(n: int, now: int) -> str:
    a = Attempt(n, now, 87.5, 200, None, '{"ok":true}', "success", invoker="invoker-1a2b3c4d")
    return json.dumps(a.to_json())


async def measure(store: Store, schedules: int, fires: int) -> dict[str, float]:
    k = store.keys
    base = await used(store)
    t0 = time.monotonic()
    await seed(store, schedules, CRON, None)
    after_schedules = await used(store)
    seeded_s = time.monotonic() - t0
    now = await store.now_ms()
    for start in range(0, fires, 2000):
        await store.fires.create_many(
            [fire(i, now) for i in range(start, min(fires, start + 2000))]
        )
    after_fires = await used(store)
    for start in range(0, fires, 2000):
        async with store.client.pipeline(transaction=False) as pipe:
            for i in range(start, min(fires, start + 2000)):
                pipe.rpush(k.attempts(TENANT, f"fire_{i:024d}"), attempt_json(1, now))
            await pipe.execute()
    after_attempts = await used(store)
    return {
        "schedules": schedules,
        "seed_seconds": round(seeded_s, 1),
        "bytes_per_schedule": round((after_schedules - base) / schedules),
        "schedules_total_mib": round((after_schedules - base) / 2**20, 1),
        "bytes_per_fire_record": round((after_fires - after_schedules) / fires),
        "bytes_per_attempt": round((after_attempts - after_fires) / fires),
    }


async def idle_dispatcher(store: Store, seconds: float) -> float:
    """CPU of a dispatcher (this process) over ``seconds`` while nothing is due, in % of a
    core: its claims every poll, heartbeats and gauges over every shard."""
    from app.bus.memory import MemoryBus
    from app.settings import Settings
    from dispatcher.dispatch.dispatcher import Dispatcher

    settings = Settings(redis_url=f"redis://127.0.0.1:{PORT}/0", shards=16)
    stop = asyncio.Event()
    task = asyncio.create_task(Dispatcher(store, MemoryBus(), settings).run(stop))
    await asyncio.sleep(2)  # started, first beat done
    cpu, wall = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    cpu, wall = time.process_time() - cpu, time.monotonic() - wall
    stop.set()
    await task
    return round(100 * cpu / wall, 2)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


PORT = free_port()


async def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--schedules", type=int, default=100_000)
    p.add_argument("--fires", type=int, default=50_000)
    p.add_argument("--idle-seconds", type=float, default=20.0)
    args = p.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cronhook-membench-"))
    server = subprocess.Popen(  # noqa: ASYNC220 (started once, before any work)
        ["redis-server", "--port", str(PORT), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(tmp)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    store = open_store(f"redis://127.0.0.1:{PORT}/0", prefix="cronhook", shards=16,
                       retention_s=7 * 86400, timeout=30)  # fmt: skip
    try:
        for _ in range(100):
            if await store.ping():
                break
            await asyncio.sleep(0.1)
        figures = await measure(store, args.schedules, args.fires)
        figures["idle_dispatcher_cpu_percent"] = await idle_dispatcher(store, args.idle_seconds)
        print(json.dumps(figures))
    finally:
        await store.aclose()
        server.terminate()
        server.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
