"""End-to-end benchmark: cronhook's api, dispatcher and invoker as OS processes on the real
Redis and RabbitMQ, delivering to a fast loopback receiver in another process.

Per run:

- thundering instant: N schedules (``--burst``, default 1,000 and 10,000) created through
  the API, all due at the same whole second; drain time (last arrival minus the instant)
  and lag (arrival minus the scheduled instant, on the receiver's clock) p50/p90/p99/max,
  with a progress bar while it runs;
- API: schedule-creation throughput and latency percentiles (from creating those);
- sustained: ``--rate`` fires per second (default 1,000) for ``--seconds`` in each
  ``--shape`` (default both): ``aligned``, per-second crons that all fire on the whole
  second (real cron traffic), and ``spread``, ``every 1s`` schedules whose phases are spread
  evenly over the second; lag percentiles after a warm-up;
- CPU per fire: the CPU seconds of every process of the pipeline (api, dispatchers,
  invokers, the Redis and RabbitMQ servers), read from /proc around each case, divided by
  the fires delivered, per process kind and in total;
- raw ceiling: a bare httpx loop and a bare aiohttp loop to the same receiver, and the
  ratio of the burst delivery rate to each.

Prints a table (medians over ``--runs``) and the JSON of every run. The tenant's limits
are raised far above the load. Cleans up its keys and queues.

    .venv/bin/python bench/e2e.py            # 1k and 10k burst; 1,000/s aligned and spread
    .venv/bin/python bench/e2e.py --runs 3 --json out.json
    .venv/bin/python bench/e2e.py --smoke    # tiny and quick (the CI test)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
from e2e_fleet import (
    Created,
    Fleet,
    FleetConfig,
    create_schedules,
    create_tenant,
    delete_schedules,
    scrape,
)
from e2e_receiver import ReceiverProcess, Record
from e2e_report import Progress, bucket_quantiles, load, machine, medians, spread, table
from proc_cpu import listener_pids, total_cpu_seconds

FAR = "0 0 0 1 1 *"  # Jan 1, 00:00:00: schedules that only calibrate the API
TAKE_AHEAD_S = 0.5  # sustained: the warm-up's records are dropped this long before the window
GRACE_S = 2.0  # sustained: a fire of the window not delivered this long after it is behind


def _rfc3339(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def _settle(rx: ReceiverProcess, quiet: float = 1.0) -> None:
    """Wait until the receiver saw nothing new for ``quiet`` seconds."""
    last, since = rx.count(), time.monotonic()
    while time.monotonic() - since < quiet:
        await asyncio.sleep(0.1)
        now = rx.count()
        if now != last:
            last, since = now, time.monotonic()


def _first_per_fire(records: list[Record], keep: Any) -> tuple[dict[str, Record], int]:
    first: dict[str, Record] = {}
    duplicates = 0
    for rec in records:
        if not keep(rec):
            continue
        if rec[1] in first:
            duplicates += 1
        else:
            first[rec[1]] = rec
    return first, duplicates


async def calibrate(fleet: Fleet, key: str, count: int, concurrency: int) -> float:
    """Schedules per second the API creates now (far-future schedules that never fire)."""
    body = {"name": "calibrate", "cron": FAR, "target": {"url": "http://127.0.0.1:9/"}}
    made = await create_schedules(fleet.api_urls, key, [body] * count, concurrency)
    return count / made.elapsed


async def burst(
    fleet: Fleet, rx: ReceiverProcess, key: str, n: int, args: argparse.Namespace
) -> tuple[dict[str, Any], Created]:
    rate = await calibrate(fleet, key, max(20, n // 20), args.api_concurrency)
    # the CPU count starts after the schedules are made: before the dispatchers' lookahead
    lookahead = float(fleet.cfg.env.get("CRONHOOK_LOOKAHEAD_SECONDS", 1))
    lead = n / rate * 1.5 + 2 + lookahead
    at = datetime.fromtimestamp(int(time.time() + lead) + 1, UTC)
    cron = f"{at.second} {at.minute} {at.hour} * * *"
    body = {"name": "burst", "cron": cron, "timezone": "UTC", "target": {"url": rx.url("/b")}}
    made = await create_schedules(fleet.api_urls, key, [body] * n, args.api_concurrency)
    if time.time() > at.timestamp() - 0.2:
        raise SystemExit(f"creating {n} schedules overran the instant; raise the lead")
    await _settle(rx)
    rx.take()
    base = rx.count()
    before = await scrape(fleet.worker_urls)
    cpu_before = await cpu_seconds(fleet)
    progress = Progress(f"{n:>6,} at once", n, enabled=args.progress)
    deadline = at.timestamp() + max(60.0, n / 50)
    while ((seen := rx.count() - base) < n or time.time() < at.timestamp()) and (
        time.time() < deadline
    ):
        progress.show(seen)
        await asyncio.sleep(0.1)
    progress.show(rx.count() - base)
    progress.close()
    await _settle(rx)
    after = await scrape(fleet.worker_urls)
    cpu_after = await cpu_seconds(fleet)
    first, dups = _first_per_fire(rx.take(), lambda r: abs(r[2] - at.timestamp()) < 0.001)
    arrivals = [r[0] for r in first.values()]
    drain = max(arrivals, default=at.timestamp()) - at.timestamp()
    case = {
        "drain_s": round(drain, 3),
        "fires_per_s": round(len(first) / drain, 1) if drain > 0 else 0.0,
        "lag_ms": spread([a - at.timestamp() for a in arrivals]),
        "lost": n - len(first),
        "duplicates": dups,
        "pipeline": _pipeline(before, after),
        "cpu_ms_per_fire": {
            role: round((cpu_after[role] - cpu_before[role]) * 1000 / n, 3) for role in cpu_after
        },
    }
    return case, made


async def cpu_seconds(fleet: Fleet) -> dict[str, float]:
    """CPU seconds used so far by every process of the pipeline, from /proc: each cronhook
    role's processes, the Redis and RabbitMQ servers (found by their listening ports), and
    their sum as ``total``. Unlike wall-clock figures, barely moved by other load on the
    machine (but the services' figures include other clients of the same servers)."""
    out = {
        role: total_cpu_seconds(p.pid for r, p, _ in fleet.procs if r == role)
        for role in ("api", "dispatcher", "invoker")
    }
    for name, url, default in (
        ("redis", fleet.cfg.redis_url, 6379),
        ("rabbitmq", fleet.cfg.amqp_url, 5672),
    ):
        out[name] = total_cpu_seconds(listener_pids(_port_of(url.split(",")[0], default)))
    out["total"] = sum(out.values())
    return out


def _port_of(url: str, default: int) -> int:
    return urlsplit(url).port or default


def _pipeline(before: str, after: str) -> dict[str, dict[str, float]]:
    """Where the lag comes from, from the processes' own histograms (bucket-coarse)."""
    names = {
        "publish_lag_ms": "cronhook_dispatcher_publish_lag_seconds",
        "delivery_lag_ms": "cronhook_invoker_delivery_lag_seconds",
        "attempt_ms": "cronhook_invoker_attempt_duration_seconds",
    }
    return {k: bucket_quantiles(before, after, v) for k, v in names.items()}


async def sustained(
    fleet: Fleet,
    rx: ReceiverProcess,
    key: str,
    args: argparse.Namespace,
    rate: int,
    shape: str,
    api_rate: float,
) -> dict[str, Any]:
    """``rate`` fires/s for ``args.seconds`` after a warm-up. A fleet that cannot keep up
    falls behind: ``behind`` counts the window's fires not delivered within ``GRACE_S`` of
    its end (plus what misfire coalescing folded away); lag is over those delivered."""
    warmup = min(5.0, args.seconds / 2)
    start = datetime.fromtimestamp(time.time() + rate / max(api_rate, 1) * 1.5 + 2, UTC)
    bodies = []
    # whole milliseconds, as start_at carries them: the window's count of instants is exact
    phases_ms = [int(start.timestamp() * 1000) + n * 1000 // rate for n in range(rate)]
    for n, phase_ms in enumerate(phases_ms):
        body: dict[str, Any] = {"name": f"r{n}", "target": {"url": rx.url("/s")}}
        if shape == "spread":
            phase = datetime.fromtimestamp(phase_ms / 1000, UTC)
            body |= {"cron": "every 1s", "start_at": _rfc3339(phase)}
        else:
            body |= {"cron": "* * * * * *", "start_at": _rfc3339(start)}
        bodies.append(body)
    made = await create_schedules(fleet.api_urls, key, bodies, args.api_concurrency)
    w0_ms = int((start.timestamp() + warmup) * 1000)
    window = (w0_ms / 1000, (w0_ms + int(args.seconds * 1000)) / 1000)
    expected = _instants_in(window, phases_ms if shape == "spread" else [0] * rate)
    progress = Progress(f"{rate}/s {shape}", int(args.seconds), enabled=args.progress)
    # drop the warm-up's records well before the window: a take() at its very start reaches
    # the receiver a few ms late and dropped the first instants' deliveries with it (a fleet
    # whose lag is under those few ms showed them as behind); records are kept by instant
    await asyncio.sleep(max(0.0, window[0] - TAKE_AHEAD_S - time.time()))
    rx.take()
    await asyncio.sleep(max(0.0, window[0] - time.time()))
    before, cpu_before = await scrape(fleet.worker_urls), await cpu_seconds(fleet)
    while time.time() < window[1]:
        progress.show(max(0, int(time.time() - window[0])), f"{rx.count():,} received")
        await asyncio.sleep(0.2)
    progress.close()
    after, cpu_after = await scrape(fleet.worker_urls), await cpu_seconds(fleet)
    await asyncio.sleep(GRACE_S)  # the window's last fires are still on their way
    on_time, dups = _first_per_fire(rx.take(), lambda r: window[0] <= r[2] < window[1])
    await delete_schedules(fleet.api_urls[0], key, made.ids, args.api_concurrency)
    await _settle(rx, quiet=2.0)  # the backlog of a fleet that fell behind drains first
    rx.take()
    return {
        "fires_per_s": round(len(on_time) / args.seconds, 1),
        "lag_ms": spread([r[0] - r[2] for r in on_time.values()]),
        "behind": max(0, expected - len(on_time)),
        "duplicates": dups,
        "pipeline": _pipeline(before, after),
        "cpu_ms_per_fire": {
            role: round((cpu_after[role] - cpu_before[role]) * 1000 / max(len(on_time), 1), 3)
            for role in cpu_after
        },
    }


def _instants_in(window: tuple[float, float], phases_ms: list[int]) -> int:
    """How many instants ``phase + k seconds`` of the schedules fall in the window."""
    lo, hi = (round(w * 1000) for w in window)
    return sum((hi - 1 - p) // 1000 - (lo - 1 - p) // 1000 for p in phases_ms)


async def ceiling(url: str, concurrency: int, seconds: float) -> dict[str, float]:
    body = b'{"hello":"world","pad":"' + b"x" * 100 + b'"}'
    headers = {"Content-Type": "application/json", "webhook-signature": "v1," + "A" * 44}
    out: dict[str, float] = {}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits) as hx:
        out["httpx"] = await _loop(
            lambda: hx.post(url, content=body, headers=headers), concurrency, seconds
        )
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> None:
            async with session.post(url, data=body, headers=headers) as r:
                await r.read()

        out["aiohttp"] = await _loop(one, concurrency, seconds)
    return out


async def _loop(send: Any, concurrency: int, seconds: float) -> float:
    done = 0
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < stop_at:
            await send()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return round(done / (time.perf_counter() - started), 1)


ASSUMED_API_RATE = 300.0  # schedules/s, when no burst measured it


async def one_run(fleet: Fleet, rx: ReceiverProcess, args: argparse.Namespace) -> dict[str, Any]:
    tenant = await create_tenant(fleet.api_urls[0], fleet.admin_token)
    key = tenant["api_key"]
    run: dict[str, Any] = {"burst": {}, "load": {"start": load()}}
    latencies: list[float] = []
    elapsed = 0.0
    for n in args.burst:
        run["burst"][str(n)], made = await burst(fleet, rx, key, n, args)
        latencies += made.latencies
        elapsed += made.elapsed
        run["load"][f"after_burst_{n}"] = load()
    # the API rate plans when the sustained window starts; without a burst it was not
    # measured, so only an assumed rate plans it and no API figures are reported
    api_rate = len(latencies) / elapsed if elapsed else ASSUMED_API_RATE
    if latencies:
        run["api"] = {"per_s": round(api_rate, 1), "latency_ms": spread(latencies)}
    run["sustained"] = {}
    for rate in args.rate if args.seconds > 0 else []:
        for shape in args.shape:
            name = f"{rate}/s {shape} {args.seconds:g}s"
            run["sustained"][name] = await sustained(fleet, rx, key, args, rate, shape, api_rate)
            run["load"][f"after_sustained_{rate}_{shape}"] = load()
    raw = await ceiling(rx.url("/raw"), args.ceiling_concurrency, args.ceiling_seconds)
    rx.take()
    raw["ratios"] = {
        n: {c: round(case["fires_per_s"] / raw[c], 2) for c in ("httpx", "aiohttp")}
        for n, case in run["burst"].items()
    }
    run["ceiling"] = raw
    return run


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--burst", type=int, nargs="*", default=[1000, 10000], help="N due at once")
    p.add_argument("--rate", type=int, nargs="*", default=[1000], help="sustained fires/s")
    p.add_argument("--seconds", type=float, default=30, help="sustained window (0 = skip)")
    p.add_argument(
        "--shape",
        nargs="+",
        choices=["aligned", "spread"],
        default=["aligned", "spread"],
        help="sustained shapes: all fires on the whole second, or spread over it",
    )
    p.add_argument("--runs", type=int, default=1)
    p.add_argument("--apis", type=int, default=1)
    p.add_argument("--dispatchers", type=int, default=1)
    p.add_argument("--invokers", type=int, default=2)
    p.add_argument("--concurrency", type=int, default=128, help="per invoker")
    p.add_argument("--api-concurrency", type=int, default=32, help="bench client requests")
    p.add_argument("--ceiling-concurrency", type=int, default=64)
    p.add_argument("--ceiling-seconds", type=float, default=3.0)
    p.add_argument("--log-level", default="INFO", help="of the cronhook processes")
    p.add_argument("--event-loop", default="auto", choices=["auto", "uvloop", "asyncio"])
    p.add_argument(
        "--redis-url", default=os.environ.get("CRONHOOK_REDIS_URL") or "redis://127.0.0.1:6379/0"
    )
    p.add_argument(
        "--amqp-url",
        default=os.environ.get("CRONHOOK_AMQP_URL") or "amqp://guest:guest@127.0.0.1:5672/",
    )
    p.add_argument("--json", help="also write the JSON here")
    p.add_argument("--keep-logs", action="store_true", help="keep the processes' logs")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: when stderr is a terminal)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="CRONHOOK_NAME=VALUE",
        help="a setting for every cronhook process (repeatable)",
    )
    p.add_argument("--smoke", action="store_true", help="tiny sizes: a quick end-to-end check")
    args = p.parse_args(argv)
    if args.smoke:
        args.burst, args.rate, args.seconds = [50], [20], 3.0
        args.shape = ["aligned"]
        args.ceiling_seconds, args.invokers, args.runs = 0.5, 1, 1
    return args


def _setting(text: str) -> tuple[str, str]:
    name, eq, value = text.partition("=")
    if not eq or not name.startswith("CRONHOOK_"):
        raise SystemExit(f"--set wants CRONHOOK_NAME=VALUE, got {text!r}")
    return name, value


def fleet_config(args: argparse.Namespace) -> FleetConfig:
    """The fleet the command line asks for (shared with bench/fanout.py)."""
    return FleetConfig(
        redis_url=args.redis_url,
        amqp_url=args.amqp_url,
        apis=args.apis,
        dispatchers=args.dispatchers,
        invokers=args.invokers,
        concurrency=args.concurrency,
        log_level=args.log_level,
        event_loop=args.event_loop,
        env=dict(_setting(s) for s in args.set),
    )


async def on_fleet(
    args: argparse.Namespace,
    cfg: FleetConfig,
    one_run: Callable[[Fleet, ReceiverProcess, argparse.Namespace], Awaitable[dict[str, Any]]],
    result: dict[str, Any],
) -> dict[str, Any]:
    """``args.runs`` runs of ``one_run`` on one fleet and one receiver, started and stopped
    here; ``result`` gains the runs, their medians and the load after (shared with
    bench/fanout.py)."""
    rx, fleet = ReceiverProcess(), Fleet(cfg)
    rx.start()
    fleet.start()
    try:
        await fleet.ready()
        result["runs"] = [await one_run(fleet, rx, args) for _ in range(args.runs)]
    except BaseException:
        print(f"the processes' logs are in {fleet.logdir}", file=sys.stderr)
        raise
    finally:
        await fleet.stop()
        rx.stop()
        try:
            await fleet.cleanup()
        except Exception as e:  # a broker restarted by someone else must not eat the figures
            print(f"cleanup of {fleet.prefix} failed: {e!r}", file=sys.stderr)
    if not args.keep_logs:
        shutil.rmtree(fleet.logdir, ignore_errors=True)
    result["load_after"] = load()
    result["median"] = medians(result["runs"])
    return result


def emit(outcome: dict[str, Any], text_table: str, json_path: str | None) -> None:
    """Print the table and the JSON, and write the JSON to ``json_path`` if given."""
    print(text_table)
    text = json.dumps(outcome, indent=1)
    print(text)
    if json_path:
        with open(json_path, "w") as fh:
            fh.write(text + "\n")


async def main(args: argparse.Namespace) -> dict[str, Any]:
    cfg = fleet_config(args)
    result: dict[str, Any] = {
        "command": "bench/e2e.py " + " ".join(sys.argv[1:]),
        "machine": machine(),
        "config": vars(cfg) | {"redis_url": None, "amqp_url": None},
        "load_before": load(),
    }
    return await on_fleet(args, cfg, one_run, result)


if __name__ == "__main__":
    arguments = parse()
    outcome = asyncio.run(main(arguments))
    emit(outcome, table(outcome), arguments.json)
