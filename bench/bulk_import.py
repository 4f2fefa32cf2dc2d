"""Onboarding speed: schedules created per second through ``POST /v1/schedules`` one at a
time (``--concurrency`` requests in flight) against ``POST /v1/schedules:bulk`` (1,000 per
request, ``--bulk-concurrency`` in flight), same API process, same Redis, same run.

    .venv/bin/python bench/bulk_import.py                 # 5,000 each way, 3 runs
    .venv/bin/python bench/bulk_import.py --count 20000 --runs 1

Prints the rate of each path per run, their medians and the ratio. Far-future schedules
(they never fire); the run's keys are removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from typing import Any

import aiohttp
from e2e_fleet import Fleet, FleetConfig, create_schedules, create_tenant
from e2e_report import load

FAR = "0 0 0 1 1 *"
PER_REQUEST = 1000


def _bodies(n: int, tag: str) -> list[dict[str, Any]]:
    return [
        {"name": f"{tag}-{i}", "cron": FAR, "target": {"url": "http://127.0.0.1:9/"}}
        for i in range(n)
    ]


async def bulk(api: str, key: str, bodies: list[dict[str, Any]], concurrency: int) -> float:
    chunks = iter(range(0, len(bodies), PER_REQUEST))
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {key}"}) as session:

        async def worker() -> None:
            for at in chunks:
                items = bodies[at : at + PER_REQUEST]
                async with session.post(f"{api}/v1/schedules:bulk", json={"items": items}) as r:
                    result = await r.json()
                if r.status != 200 or result["failed"]:
                    raise SystemExit(f"bulk create failed: {r.status} {str(result)[:300]}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return len(bodies) / (time.perf_counter() - started)


async def main(args: argparse.Namespace) -> None:
    cfg = FleetConfig(args.redis_url, args.amqp_url, dispatchers=0, invokers=0)
    fleet = Fleet(cfg)
    fleet.start()
    singles: list[float] = []
    bulks: list[float] = []
    try:
        await fleet.ready()
        api = fleet.api_urls[0]
        for run in range(args.runs):
            key = (await create_tenant(api, fleet.admin_token))["api_key"]
            made = await create_schedules(
                [api], key, _bodies(args.count, f"s{run}"), args.concurrency
            )
            singles.append(args.count / made.elapsed)
            bulks.append(
                await bulk(api, key, _bodies(args.count, f"b{run}"), args.bulk_concurrency)
            )
            print(
                f"run {run + 1}: one at a time {singles[-1]:,.0f}/s, "
                f"bulk {bulks[-1]:,.0f}/s (load {load()})"
            )
    finally:
        await fleet.stop()
        await fleet.cleanup()
    single, many = statistics.median(singles), statistics.median(bulks)
    print(
        f"median of {args.runs}: one at a time {single:,.0f}/s, bulk {many:,.0f}/s, "
        f"bulk/single {many / single:.2f}x ({args.count:,} schedules each way per run)"
    )


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=5000)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--concurrency", type=int, default=32)
    p.add_argument("--bulk-concurrency", type=int, default=2)
    p.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    p.add_argument("--amqp-url", default="amqp://guest:guest@127.0.0.1:5672/")
    return p.parse_args()


if __name__ == "__main__":
    asyncio.run(main(parse()))
