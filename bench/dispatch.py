"""How fast the dispatcher fleet moves due schedules onto RabbitMQ, and what a schedule costs
in Redis. Prints figures; not a test.

Scenarios (``--scenario``, default all):

- ``burst``      N schedules (``--burst 10000 100000``) due at the same instant T, written
                 into the time index 2 s before any claim can reach them (as a cron herd
                 sits there long before its instant). Reported: seconds from T until every
                 item is published and completed (completion follows the broker's
                 confirm), fires/s over the dispatchers' whole handling time from their
                 first claim (which the lookahead, or the herd lookahead for a herd,
                 starts before T), and the CPU per fire of the dispatchers, Redis and the
                 broker over that time.
- ``sustained``  ``--rate`` schedules firing every second for ``--seconds``: ``--shape
                 spread`` (default) ``every 1s`` schedules whose phases are spread evenly
                 over the second; ``--shape aligned`` per-second crons (``* * * * * *``: a
                 burst of ``--rate`` fires at every whole second). Publish lag =
                 arrival at a consumer minus the scheduled instant, p50/p99/max (an upper
                 bound of the publish lag: it adds the broker's delivery to the consumer).
- ``memory``     ``--memory-n`` schedules written as the API writes them, in a Redis of
                 their own: used_memory delta per schedule, and MEMORY USAGE of each key a
                 schedule owns; then one fire each: bytes per fire record.

The dispatchers are ``cronhook dispatcher`` processes (``--dispatchers``, default 2) on a
private redis-server on a free loopback port (``--redis`` to use another) and the loopback
RabbitMQ (``--amqp``), with their own key prefix and queue, removed afterwards. Every
scenario runs ``--runs`` times; the median is printed with every run and the machine load.

    .venv/bin/python bench/dispatch.py [--scenario burst sustained memory] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import aio_pika
from e2e_fleet import free_port, scrape
from e2e_report import bucket_quantiles, sample_sum, share_within
from proc_cpu import listener_pids, total_cpu_seconds

from app.bus.queues import MAX_QUEUES, queue_names
from app.keys import schedule_item
from app.models import RetrySettings, Schedule, Target, Tenant, TenantLimits
from app.payloads import schedule_item_payload
from app.planning import first_due_ms
from app.store import Store, open_store
from app.store.records import schedule_record

ROOT = Path(__file__).resolve().parents[1]
TENANT = "ten_bench0000000000000000000"
SHARDS = 16


# -- services -----------------------------------------------------------------------------
@contextlib.contextmanager
def private_redis() -> Iterator[str]:
    port = free_port()
    tmp = tempfile.mkdtemp(prefix="cronhook-bench-redis-")
    proc = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            tmp,
        ],
        stdout=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(tmp, ignore_errors=True)


class Fleet:
    """``cronhook dispatcher`` processes for one run."""

    def __init__(
        self, redis_url: str, amqp_url: str, prefix: str, queue: str, n: int, extra: dict[str, str]
    ) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRONHOOK_")}
        env.update(
            CRONHOOK_REDIS_URL=redis_url,
            CRONHOOK_AMQP_URL=amqp_url,
            CRONHOOK_PREFIX=prefix,
            CRONHOOK_QUEUE=queue,
            CRONHOOK_SHARDS=str(SHARDS),
            CRONHOOK_LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            **extra,
        )
        self.metrics_urls = []
        self.procs = []
        for _ in range(n):
            port = free_port()
            self.metrics_urls.append(f"http://127.0.0.1:{port}")
            self.procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "app.cli", "dispatcher"],
                    env=env | {"CRONHOOK_METRICS_PORT": str(port)},
                    cwd=ROOT,
                )
            )

    def cpu_seconds(self) -> float:
        """User + system CPU of every dispatcher process so far."""
        return total_cpu_seconds(p.pid for p in self.procs)

    def stop(self) -> None:
        for p in self.procs:
            p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()


async def wait_registered(store: Store, n: int, within: float = 30) -> None:
    deadline = time.monotonic() + within
    while len([x for x in await store.nodes.list() if x.data["role"] == "dispatcher"]) < n:
        if time.monotonic() > deadline:
            raise SystemExit(f"{n} dispatchers did not register within {within}s")
        await asyncio.sleep(0.1)


# -- seeding ------------------------------------------------------------------------------
def make_schedule(i: int, now_ms: int, cron: str, start_at: int | None = None) -> Schedule:
    """A schedule shaped like one the API writes (a small JSON body, no extra headers)."""
    return Schedule(
        start_at=start_at,
        id=f"sch_bench{i:019d}",
        tenant_id=TENANT,
        name=f"bench-{i}",
        cron=cron,
        timezone="UTC",
        target=Target(url=f"https://hooks.example.com/bench/{i}", body={"job": "report", "n": i}),
        retry=RetrySettings(),
        created_at=now_ms,
        updated_at=now_ms,
    )


async def seed(
    store: Store,
    n: int,
    cron: str,
    due_ms: int | None,
    chunk: int = 5000,
    phase_from_ms: int | None = None,
) -> None:
    """Write ``n`` schedules (records, the tenant's list, time-index items) in pipelines;
    ``due_ms`` None = each schedule's own next instant. ``phase_from_ms``: schedule i
    starts at that instant + i/n of a second (``every 1s`` phases spread over the second)."""
    k = store.keys
    now = await store.now_ms()
    tenant = Tenant(TENANT, "bench", now, TenantLimits(max_schedules=10**7), ())
    await store.records.put_tenant(tenant)
    for start in range(0, n, chunk):
        batch = [
            make_schedule(
                i, now, cron, None if phase_from_ms is None else phase_from_ms + i * 1000 // n
            )
            for i in range(start, min(n, start + chunk))
        ]
        async with store.client.pipeline(transaction=False) as pipe:
            for s in batch:
                pipe.set(k.schedule(TENANT, s.id), schedule_record(s))
                pipe.zadd(k.schedules(TENANT), {s.id: s.created_at})
            await pipe.execute()
        await store.scripts.many(
            [
                (
                    store.scripts.lua.ti_put,
                    k.shard_for(schedule_item(s.id)).all(),
                    [
                        schedule_item(s.id),
                        schedule_item_payload(s.tenant_id, s.id),
                        due_ms if due_ms is not None else first_due_ms(s, now),
                    ],
                )
                for s in batch
            ]
        )


async def arm(store: Store, n: int, at_ms: int) -> None:
    """Move every seeded item to instant ``at_ms`` at once (one ZADD per shard)."""
    by_shard: dict[int, dict[str, int]] = {}
    for i in range(n):
        item = schedule_item(f"sch_bench{i:019d}")
        by_shard.setdefault(store.keys.shard_of(item), {})[item] = at_ms
    async with store.client.pipeline(transaction=False) as pipe:
        for shard, members in by_shard.items():
            pipe.zadd(store.keys.shard(shard).due, members)
        await pipe.execute()


async def outstanding(store: Store, at_ms: int) -> tuple[int, int]:
    """(items still due at or before ``at_ms``, items claimed right now)."""
    async with store.client.pipeline(transaction=False) as pipe:
        for n in range(SHARDS):
            sk = store.keys.shard(n)
            pipe.zcount(sk.due, "-inf", at_ms)
            pipe.zcard(sk.lease)
        res = await pipe.execute()
    return sum(res[0::2]), sum(res[1::2])


async def redis_cpu(store: Store) -> float:
    info = await store.client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def cleanup(redis_url: str, amqp_url: str, prefix: str, queue: str) -> None:
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(redis_url)
    try:
        async for key in r.scan_iter(match=f"{prefix}:*", count=5000):
            await r.delete(key)
    finally:
        await r.aclose()
    conn = await aio_pika.connect(amqp_url)
    async with conn:
        ch = await conn.channel()
        for name in [*queue_names(queue, MAX_QUEUES), f"{queue}.dlq"]:
            await ch.queue_delete(name)


@contextlib.asynccontextmanager
async def run_env(
    args: argparse.Namespace, redis_url: str
) -> AsyncIterator[tuple[Store, str, str]]:
    prefix, queue = f"bench{uuid.uuid4().hex[:8]}", f"cronhook.bench.{uuid.uuid4().hex[:8]}"
    store = open_store(redis_url, prefix=prefix, shards=SHARDS, retention_s=3600, timeout=10)
    try:
        yield store, prefix, queue
    finally:
        await store.aclose()
        await cleanup(redis_url, args.amqp, prefix, queue)


def fleet_settings(args: argparse.Namespace) -> dict[str, str]:
    return {
        "CRONHOOK_LOOKAHEAD_SECONDS": str(args.lookahead),
        "CRONHOOK_PUBLISH_AHEAD_SECONDS": str(args.publish_ahead),
        "CRONHOOK_HERD_LOOKAHEAD_SECONDS": str(args.herd_lookahead),
        "CRONHOOK_HERD_SIZE": str(args.herd_size),
        "CRONHOOK_LEASE_SECONDS": "30",
        "CRONHOOK_CLAIM_BATCH": str(args.claim_batch),
        "CRONHOOK_HEARTBEAT_SECONDS": "1",
        "CRONHOOK_QUEUES": str(args.queues),
    }


async def collect_lags(store: Store, into: dict[tuple[str, int], dict[str, float]]) -> None:
    """The dispatchers' own publish lag (confirm time minus due instant), one p50/p99/max
    per heartbeat window of each dispatcher, until cancelled."""
    while True:
        for node in await store.nodes.list():
            lag = node.data.get("publish_lag_ms")
            if node.data.get("role") == "dispatcher" and lag:
                into[(node.node_id, node.heartbeat_ms)] = lag
        await asyncio.sleep(0.4)


async def queue_depth(amqp_url: str, queue: str, queues: int = 1) -> int:
    """Messages ready across the ``queues`` work queues named after ``queue``."""
    conn = await aio_pika.connect(amqp_url)
    total = 0
    async with conn:
        ch = await conn.channel()
        for name in queue_names(queue, queues):
            q = await ch.declare_queue(name, passive=True)
            total += int(q.declaration_result.message_count or 0)
    return total


# -- burst --------------------------------------------------------------------------------
async def burst_once(args: argparse.Namespace, redis_url: str, n: int) -> dict[str, float]:
    async with run_env(args, redis_url) as (store, prefix, queue):
        await seed(store, n, "0 0 0 1 1 *", due_ms=4_000_000_000_000)
        fleet = Fleet(redis_url, args.amqp, prefix, queue, args.dispatchers, fleet_settings(args))
        try:
            await wait_registered(store, args.dispatchers)
            beams = listener_pids(urlsplit(args.amqp).port or 5672)  # shared: indicative
            cpu0, redis0 = fleet.cpu_seconds(), await redis_cpu(store)  # again at the 1st claim
            beam0 = total_cpu_seconds(beams)
            # in the time index before any claim reaches it, as a cron herd is
            reach_s = max(args.lookahead, args.herd_lookahead)
            at = await store.now_ms() + 2000 + int(reach_s * 1000)
            await arm(store, n, at)
            first_claim: float | None = None
            while True:
                due, claimed = await outstanding(store, at)
                now = await store.now_ms()
                if first_claim is None and claimed:
                    first_claim = now
                    cpu0, redis0 = fleet.cpu_seconds(), await redis_cpu(store)
                    beam0 = total_cpu_seconds(beams)
                if due == 0 and claimed == 0 and now >= at:
                    break
                await asyncio.sleep(0.01)
            done = now
            cpu = fleet.cpu_seconds() - cpu0
            rcpu = await redis_cpu(store) - redis0
            bcpu = total_cpu_seconds(beams) - beam0
            depth = 0
            for _ in range(100):
                depth = await queue_depth(args.amqp, queue, args.queues)
                if depth >= n:
                    break
                await asyncio.sleep(0.1)
            counters = await scrape(fleet.metrics_urls)
        finally:
            fleet.stop()
    after = (done - at) / 1000
    whole = (done - (first_claim or at)) / 1000
    return {
        "after_instant_s": after,
        "fires_per_s": n / max(whole, 1e-3),
        "handling_s": whole,
        "dispatcher_cpu_ms_per_fire": cpu * 1000 / n,
        "redis_cpu_ms_per_fire": rcpu * 1000 / n,
        "broker_cpu_ms_per_fire": bcpu * 1000 / n,
        "queued": depth,
        "leases_expired": sample_sum(counters, "cronhook_dispatcher_leases_expired_total"),
        "claims_lost": sample_sum(counters, "cronhook_dispatcher_claims_lost_total"),
        "herds_seen": sample_sum(counters, "cronhook_dispatcher_herds_total"),
    }


# -- sustained ----------------------------------------------------------------------------
async def sustained_once(args: argparse.Namespace, redis_url: str) -> dict[str, float]:
    lags: list[float] = []
    async with run_env(args, redis_url) as (store, prefix, queue):
        conn = await aio_pika.connect(args.amqp)
        async with conn:
            ch = await conn.channel()
            await ch.set_qos(prefetch_count=2000)
            fleet = Fleet(
                redis_url, args.amqp, prefix, queue, args.dispatchers, fleet_settings(args)
            )
            try:
                await wait_registered(store, args.dispatchers)
                q = await ch.declare_queue(queue, passive=True)

                async def on_message(m: aio_pika.abc.AbstractIncomingMessage) -> None:
                    lags.append(time.time() * 1000 - json.loads(m.body)["scheduled_at_ms"])

                await q.consume(on_message, no_ack=True)
                warm = 3
                if args.shape == "spread":
                    start = await store.now_ms() + 1000
                    await seed(store, args.rate, "every 1s", due_ms=None, phase_from_ms=start)
                else:
                    await seed(store, args.rate, "* * * * * *", due_ms=None)
                await asyncio.sleep(warm)
                lags.clear()
                windows: dict[tuple[str, int], dict[str, float]] = {}
                collector = asyncio.create_task(collect_lags(store, windows))
                before = await scrape(fleet.metrics_urls)
                await asyncio.sleep(args.seconds)
                after = await scrape(fleet.metrics_urls)
                collector.cancel()
                counted = sorted(lags)
                cpu = fleet.cpu_seconds()
            finally:
                fleet.stop()
    n = len(counted)
    p99s = sorted(w["p99"] for w in windows.values())
    lag = bucket_quantiles(before, after, LAG_METRIC)
    return {
        "fires": n,
        "fires_per_s": n / args.seconds,
        "published_within_100ms_pct": 100 * share_within(before, after, LAG_METRIC, 0.1),
        "dispatcher_all_p99_ms": lag["p99"],
        "dispatcher_window_p50_ms": statistics.median(w["p50"] for w in windows.values()),
        "dispatcher_window_p99_ms": statistics.median(p99s),
        "dispatcher_worst_window_p99_ms": p99s[-1],
        "consumer_p50_ms": counted[n // 2],
        "consumer_p99_ms": counted[min(n - 1, int(n * 0.99))],
        "consumer_max_ms": counted[-1],
        "dispatcher_cpu_cores": cpu / (args.seconds + warm + 2),
    }


LAG_METRIC = "cronhook_dispatcher_publish_lag_seconds"


# -- memory -------------------------------------------------------------------------------
async def memory_once(args: argparse.Namespace) -> dict[str, float]:
    with private_redis() as url:
        store = open_store(url, prefix="mem", shards=SHARDS, retention_s=7 * 86400, timeout=10)
        try:
            r = store.client
            base = int((await r.info("memory"))["used_memory"])
            n = args.memory_n
            await seed(store, n, "0 */5 * * * *", due_ms=None)
            loaded = int((await r.info("memory"))["used_memory"])
            sid = "sch_bench" + f"{7:019d}"
            sk = store.keys.shard_for(schedule_item(sid))
            record = await r.memory_usage(store.keys.schedule(TENANT, sid))
            shares = {
                "tenant schedule list (zset)": store.keys.schedules(TENANT),
                "time index due (zset)": sk.due,
                "time index items (hash)": sk.items,
            }
            out = {"per_schedule_bytes": (loaded - base) / n, "record_bytes": float(record)}
            for label, key in shares.items():
                count = n if "tenant" in label else await r.zcard(sk.due)
                out[label] = (await r.memory_usage(key, samples=0)) / max(count, 1)
            # then one fire each (records as the dispatcher creates them)
            from app.planning import plan_schedule

            schedules = await store.records.get_schedules(
                [(TENANT, f"sch_bench{i:019d}") for i in range(min(n, 20000))]
            )
            now = await store.now_ms()
            fires = [f for s in schedules if s for f in plan_schedule(s, now, now).fires]
            before = int((await r.info("memory"))["used_memory"])
            await store.fires.create_many(fires)
            after = int((await r.info("memory"))["used_memory"])
            out["per_fire_bytes"] = (after - before) / len(fires)
            return out
        finally:
            await store.aclose()


# -- main ---------------------------------------------------------------------------------
def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def report(title: str, runs: list[dict[str, float]]) -> None:
    print(f"\n{title}  ({load()})")
    for i, r in enumerate(runs, 1):
        print(f"  run {i}: " + ", ".join(f"{k}={v:,.3f}" for k, v in r.items()))
    keys = runs[0].keys()
    print(
        "  median: " + ", ".join(f"{k}={statistics.median(r[k] for r in runs):,.3f}" for k in keys)
    )


async def main(args: argparse.Namespace) -> None:
    print(
        f"bench/dispatch.py: {args.dispatchers} dispatcher processes, {args.queues} queues, "
        f"lookahead {args.lookahead}s, publish ahead {args.publish_ahead}s, "
        f"herd lookahead {args.herd_lookahead}s for {args.herd_size:,} items, "
        f"{load()}"
    )
    with contextlib.ExitStack() as stack:
        url = args.redis or stack.enter_context(private_redis())
        if "burst" in args.scenario:
            for n in args.burst:
                runs = [await burst_once(args, url, n) for _ in range(args.runs)]
                report(f"burst: {n:,} schedules due at the same instant", runs)
        if "sustained" in args.scenario:
            runs = [await sustained_once(args, url) for _ in range(args.runs)]
            report(
                f"sustained: {args.rate} fires/s, {args.shape}, for {args.seconds}s "
                "(lag at a consumer)",
                runs,
            )
    if "memory" in args.scenario:
        runs = [await memory_once(args) for _ in range(args.runs)]
        report(f"memory: {args.memory_n:,} schedules in a private Redis", runs)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument(
        "--scenario",
        nargs="+",
        default=["burst", "sustained", "memory"],
        choices=["burst", "sustained", "memory"],
    )
    p.add_argument("--redis", default="", help="Redis URL (default: a private redis-server)")
    p.add_argument("--amqp", default="amqp://guest:guest@127.0.0.1:5672/")
    p.add_argument("--dispatchers", type=int, default=2)
    p.add_argument("--queues", type=int, default=1, help="CRONHOOK_QUEUES")
    p.add_argument("--lookahead", type=float, default=1.0, help="CRONHOOK_LOOKAHEAD_SECONDS")
    p.add_argument(
        "--publish-ahead",
        type=float,
        default=0.3,
        help="CRONHOOK_PUBLISH_AHEAD_SECONDS (at most the lookahead)",
    )
    p.add_argument(
        "--herd-lookahead",
        type=float,
        default=10.0,
        help="CRONHOOK_HERD_LOOKAHEAD_SECONDS (0 = off)",
    )
    p.add_argument("--herd-size", type=int, default=20_000, help="CRONHOOK_HERD_SIZE")
    p.add_argument("--claim-batch", type=int, default=500, help="CRONHOOK_CLAIM_BATCH")
    p.add_argument("--burst", type=int, nargs="+", default=[10_000, 100_000])
    p.add_argument("--rate", type=int, default=1000)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--shape", choices=["spread", "aligned"], default="spread")
    p.add_argument("--memory-n", type=int, default=100_000)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    args.publish_ahead = min(args.publish_ahead, args.lookahead)  # as the dispatcher caps it
    return args


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
