"""Long jobs at scale: N one-off job fires (default 10,000) due at one instant, each
endpoint answering 202 and then completing as the job (one progress report, then
`succeeded`) a random moment later; the api, a dispatcher and invokers as OS processes on
the real Redis and RabbitMQ, the endpoint in its own process (bench/jobs_receiver.py).

Prints: how long until every job ran (all 202s in) and until every fire was succeeded,
counted from the instant; how many jobs the `cronhook_jobs_running` gauge counts (its
sorted set in Redis, and the set's bytes per job) when all ran and after all succeeded;
the Redis memory a running job costs (used_memory growth while they all run, and MEMORY
USAGE of job hashes) and what stays after (per job); CPU seconds per role and of Redis
over the run, per job (Redis's own figures count every client of that Redis); the load
average before and after.

    .venv/bin/python bench/jobs.py                 # 10,000 jobs finishing within ~40 s
    .venv/bin/python bench/jobs.py --jobs 500 --spread 5 --json out.json
    .venv/bin/python bench/jobs.py --jobs 50 --spread 2 --lead 5   # a smoke run
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from e2e_fleet import Fleet, FleetConfig, create_tenant
from e2e_report import load, machine
from jobs_receiver import JobsReceiver

from app.keys import Keys

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


async def redis_stats(r: Any) -> tuple[int, float]:
    memory, cpu = await r.info("memory"), await r.info("cpu")
    return int(memory["used_memory"]), float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])


async def send_messages(
    api: str, key: str, url: str, n: int, at: datetime, job: dict[str, Any]
) -> list[str]:
    body = {
        "target": {"url": url, "job": job},
        "deliver_at": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    ids: list[str] = []
    todo = iter(range(n))
    auth = {"Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession(headers=auth) as session:

        async def worker() -> None:
            for _ in todo:
                async with session.post(f"{api}/v1/messages", json=body) as r:
                    text = await r.text()
                    if r.status != 202:
                        raise SystemExit(f"creating a message failed: {r.status} {text[:300]}")
                    ids.append(json.loads(text)["id"])

        await asyncio.gather(*(worker() for _ in range(64)))
    return ids


async def statuses(r: Any, prefix: str, tenant: str, ids: list[str]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for at in range(0, len(ids), 2000):
        async with r.pipeline(transaction=False) as pipe:
            for fid in ids[at : at + 2000]:
                pipe.hget(f"{prefix}:{{t:{tenant}}}:fire:{fid}", "status")
            for s in await pipe.execute():
                counts[s or "missing"] = counts.get(s or "missing", 0) + 1
    return counts


async def attempt_errors(r: Any, prefix: str, tenant: str, ids: list[str]) -> dict[str, int]:
    """Recorded attempts by error class (``ok`` for none)."""
    counts: dict[str, int] = {}
    for at in range(0, len(ids), 2000):
        async with r.pipeline(transaction=False) as pipe:
            for fid in ids[at : at + 2000]:
                pipe.lrange(f"{prefix}:{{t:{tenant}}}:attempts:{fid}", 0, -1)
            for attempts in await pipe.execute():
                for a in attempts:
                    error = json.loads(a).get("error") or "ok"
                    counts[error] = counts.get(error, 0) + 1
    return counts


async def counted_running(r: Any, prefix: str, tenant: str) -> tuple[int, int]:
    """The tenant's jobs as ``cronhook_jobs_running`` counts them (its sorted set), and
    the set's bytes (MEMORY USAGE)."""
    key = Keys(prefix, 1).jobs_running(tenant)
    return int(await r.zcard(key)), int(await r.memory_usage(key, samples=0) or 0)


async def job_hash_bytes(r: Any, prefix: str, tenant: str, ids: list[str]) -> float:
    sample = random.sample(ids, min(200, len(ids)))
    sizes = [await r.memory_usage(f"{prefix}:{{t:{tenant}}}:job:{fid}") or 0 for fid in sample]
    return sum(sizes) / len(sizes)


async def wait_for(check: Any, within: float, note: str) -> float:
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise SystemExit(f"{note}: not within {within}s")
        await asyncio.sleep(0.2)
    return time.time()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    redis_url = os.environ.get("CRONHOOK_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    amqp_url = os.environ.get("CRONHOOK_BENCH_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
    fleet = Fleet(FleetConfig(redis_url, amqp_url, invokers=args.invokers, log_level="WARNING"))
    receiver = JobsReceiver(args.spread)
    receiver.start()
    r = aioredis.Redis.from_url(redis_url, decode_responses=True)
    try:
        fleet._start("api")
        api = fleet.api_urls[0]
        fleet.cfg.env["CRONHOOK_PUBLIC_URL"] = api
        fleet._start("dispatcher")
        for _ in range(args.invokers):
            fleet._start("invoker")
        await fleet.ready()
        tenant = await create_tenant(api, fleet.admin_token)
        lead = args.lead or max(20.0, args.jobs / 150)  # creating them goes first
        instant = datetime.fromtimestamp(int(time.time() + lead), tz=UTC)
        job = {"timeout_seconds": args.spread * 3 + 60, "heartbeat_seconds": args.spread * 2 + 30}
        ids = await send_messages(
            api, tenant["api_key"], receiver.url("/job"), args.jobs, instant, job
        )
        if time.time() > instant.timestamp() - 1:
            raise SystemExit("creating the messages took longer than the lead; raise it")
        pids = {f"{role}-{n}": p.pid for n, (role, p, _) in enumerate(fleet.procs)}
        pids["receiver"] = receiver.pid
        load_before = load()
        await asyncio.sleep(instant.timestamp() - time.time() - 0.5)
        mem0, rcpu0 = await redis_stats(r)
        cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        at = instant.timestamp()

        async def all_running() -> bool:
            return receiver.stats()[0] >= args.jobs

        running_at = await wait_for(all_running, 120, "all deliveries")
        mem_running, _ = await redis_stats(r)
        per_hash = await job_hash_bytes(r, fleet.prefix, tenant["id"], ids)
        counts_running = await statuses(r, fleet.prefix, tenant["id"], ids)
        gauge_running, gauge_bytes = await counted_running(r, fleet.prefix, tenant["id"])

        async def all_done() -> bool:
            counts = await statuses(r, fleet.prefix, tenant["id"], ids)
            return counts.get("succeeded", 0) >= args.jobs

        done_at = await wait_for(all_done, args.spread + 120, "all succeeded")
        mem_done, rcpu1 = await redis_stats(r)
        gauge_after, _ = await counted_running(r, fleet.prefix, tenant["id"])
        cpu1 = {name: cpu_seconds(pid) for name, pid in pids.items()}
        deliveries, completed, other, errors, pairs = receiver.stats()
        attempts = await attempt_errors(r, fleet.prefix, tenant["id"], ids)
        cpu = {name: round(cpu1[name] - cpu0[name], 2) for name in pids}
        return {
            "jobs": args.jobs,
            "spread_s": args.spread,
            "invokers": args.invokers,
            "all_running_after_s": round(running_at - at, 2),
            "all_succeeded_after_s": round(done_at - at, 2),
            "running_when_all_delivered": counts_running.get("running", 0),
            "gauge_running_when_all_delivered": gauge_running,
            "gauge_running_after": gauge_after,
            "gauge_set_bytes_per_running_job": round(gauge_bytes / max(1, gauge_running)),
            "deliveries": deliveries,
            "distinct_fire_attempts_delivered": pairs,
            "attempts_recorded_by_error": attempts,
            "completions_200": completed,
            "completions_other": other,
            "report_errors": errors,
            "redis_bytes_per_running_job": round((mem_running - mem0) / args.jobs),
            "job_hash_bytes_memory_usage": round(per_hash),
            "redis_bytes_per_job_after": round((mem_done - mem0) / args.jobs),
            "cpu_s": cpu,
            "redis_cpu_s": round(rcpu1 - rcpu0, 2),
            "cpu_ms_per_job": {
                name: round(1000 * v / args.jobs, 3)
                for name, v in {**cpu, "redis": rcpu1 - rcpu0}.items()
            },
            "load_before": load_before,
            "load_after": load(),
            "machine": machine(),
        }
    finally:
        await fleet.stop()
        receiver.stop()
        await fleet.cleanup()
        await r.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=40.0, help="jobs end within this (s)")
    parser.add_argument("--invokers", type=int, default=2)
    parser.add_argument(
        "--lead", type=float, default=0.0, help="s from start to the instant (0: by --jobs)"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = asyncio.run(run(args))
    for k, v in result.items():
        if k != "machine":
            print(f"{k:32} {v}")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
