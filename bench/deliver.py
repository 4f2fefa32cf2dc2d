"""End-to-end deliveries per second and lag, next to the raw HTTP ceiling of the same run.

The whole pipeline on the real Redis and RabbitMQ: one-off fires written into the time
index, a ``cronhook dispatcher`` process publishing them, ``--invokers`` ``cronhook invoker``
processes delivering them (signed, limited, recorded) to a fast loopback receiver in its own
process, which notes each arrival. Two shapes:

- ``burst``: ``--fires`` fires all due at the same instant: deliveries/s from the first
  arrival to the last (the pipeline's throughput), and lag = arrival - scheduled instant.
- ``steady``: ``--rate`` fires per second for ``--seconds``: lag p50/p99 at that load.

Beside it, in the same run and against the same receiver, a bare ``httpx.AsyncClient`` loop
and a bare ``aiohttp`` loop at the invoker's concurrency (``bench/http_ceiling.py``): the
ceiling the pipeline is compared with. Each case runs ``--runs`` times; medians are printed,
with the machine's load average before and after (a shared box: say so when quoting).

    .venv/bin/python bench/deliver.py [--fires 5000] [--rate 500] [--seconds 10] [--runs 3]

Needs Redis and RabbitMQ on loopback (``CRONHOOK_TEST_REDIS_URL`` / ``CRONHOOK_TEST_AMQP_URL``
to point elsewhere). Cleans up its keys and queues.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Sequence
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from http_ceiling import RESPONSE, measure_case

from app.bus.rabbitmq import RabbitBus
from app.ids import new_id, new_signing_secret
from app.keys import fire_item
from app.models import (
    Fire,
    RateLimit,
    RetrySettings,
    SigningSecret,
    Target,
    Tenant,
    TenantLimits,
)
from app.payloads import fire_item_payload
from app.store import Store, open_store

REDIS_URL = os.environ.get("CRONHOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
AMQP_URL = os.environ.get("CRONHOOK_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
ROOT = Path(__file__).resolve().parents[1]
BODY = {"type": "bench", "pad": "x" * 120}


# -- the recording receiver (child process) ----------------------------------------------
class _Recording(asyncio.Protocol):
    arrivals: list[tuple[float, bytes]] = []

    def __init__(self) -> None:
        self.buffer = b""
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].lower()
            length = 0
            if (at := head.find(b"\ncontent-length:")) >= 0:
                length = int(head[at + 16 :].split(b"\r\n", 1)[0])
            total = end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            if (at := head.find(b"\ncronhook-scheduled-at:")) >= 0:
                stamp = head[at + 23 :].split(b"\r\n", 1)[0].strip()
                self.arrivals.append((time.time(), stamp))
            assert self.transport is not None
            self.transport.write(RESPONSE)


def _receiver(conn: Connection) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(_Recording, "127.0.0.1", 0, backlog=4096)
        conn.send(server.sockets[0].getsockname()[1])

        def on_command() -> None:
            conn.recv()
            conn.send(list(_Recording.arrivals))
            _Recording.arrivals.clear()

        loop.add_reader(conn.fileno(), on_command)
        await asyncio.Event().wait()

    asyncio.run(main())


def _dump(conn: Connection) -> list[tuple[float, bytes]]:
    conn.send("dump")
    arrivals: list[tuple[float, bytes]] = conn.recv()
    return arrivals


# -- the pipeline (processes) ------------------------------------------------------------
def _env(prefix: str, queue: str, args: argparse.Namespace) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CRONHOOK_")}
    env.update(
        CRONHOOK_REDIS_URL=REDIS_URL,
        CRONHOOK_AMQP_URL=AMQP_URL,
        CRONHOOK_PREFIX=prefix,
        CRONHOOK_QUEUE=queue,
        CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
        CRONHOOK_INVOKER_CONCURRENCY=str(args.concurrency),
        CRONHOOK_LOG_LEVEL=args.log_level,
        PYTHONUNBUFFERED="1",
    )
    return env


def _start(role: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", role],
        env=env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _tenant(store: Store) -> Tenant:
    now = int(time.time() * 1000)
    unlimited = RateLimit(per_second=1e6, burst=1_000_000)
    t = Tenant(
        id=new_id("ten"),
        name="bench",
        created_at=now,
        limits=TenantLimits(rate_limit=unlimited, max_concurrency=1_000_000),
        secrets=(SigningSecret(new_signing_secret(), now),),
    )
    await store.records.put_tenant(t)
    return t


async def _write_fires(store: Store, tenant: Tenant, url: str, dues: Sequence[int]) -> None:
    """One-off fires and their time-index items, pipelined in chunks."""
    now = int(time.time() * 1000)
    target = Target(url=url, body=BODY, timeout_seconds=10)
    for start in range(0, len(dues), 500):
        chunk = dues[start : start + 500]
        fires = [
            Fire(
                new_id("fire"),
                tenant.id,
                None,
                "message",
                d,
                "scheduled",
                now,
                now,
                target,
                RetrySettings(),
            )
            for d in chunk
        ]
        await store.fires.create_many(fires)
        async with store.client.pipeline(transaction=False) as pipe:
            for f in fires:
                item = fire_item(f.id)
                await store.scripts.lua.ti_put(
                    keys=store.keys.shard_for(item).all(),
                    args=[
                        item,
                        fire_item_payload(tenant.id, f.id, 1, f.scheduled_at),
                        f.scheduled_at,
                    ],
                    client=pipe,
                )
            await pipe.execute()


def _lags(arrivals: list[tuple[float, bytes]]) -> list[float]:
    out = []
    for at, stamp in arrivals:
        scheduled = datetime.fromisoformat(stamp.decode().upper().replace("Z", "+00:00"))
        out.append((at - scheduled.timestamp()) * 1000)
    return sorted(out)


def _pct(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


async def _run_once(
    store: Store, conn: Connection, url: str, dues: list[int], within: float
) -> tuple[float, float, float, int]:
    """(deliveries/s first->last arrival, lag p50 ms, lag p99 ms, delivered)."""
    tenant = await _tenant(store)
    await _write_fires(store, tenant, url, dues)
    deadline = time.monotonic() + within
    seen: list[tuple[float, bytes]] = []
    while len(seen) < len(dues) and time.monotonic() < deadline:
        await asyncio.sleep(0.5)
        seen += _dump(conn)
    times = sorted(a for a, _ in seen)
    rate = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    lags = _lags(seen)
    return rate, _pct(lags, 0.5), _pct(lags, 0.99), len(seen)


async def _pipeline(args: argparse.Namespace, conn: Connection, url: str) -> None:
    prefix, queue = f"bench{secrets.token_hex(4)}", f"cronhook.bench.{secrets.token_hex(4)}"
    env = _env(prefix, queue, args)
    store = open_store(REDIS_URL, prefix=prefix, shards=16, retention_s=3600)
    bus = RabbitBus(AMQP_URL, queue)
    await bus.start()
    procs = [_start("dispatcher", env)] + [_start("invoker", env) for _ in range(args.invokers)]
    try:
        await asyncio.sleep(3)  # the processes start and consume
        await _warm(store, conn, url)
        shapes = {
            "burst": _burst_dues(args.fires),
            "steady": _steady_dues(args.rate, args.seconds, args.quantum_ms),
        }
        for shape, make in shapes.items():
            runs = [await _run_once(store, conn, url, make(), 60) for _ in range(args.runs)]
            _report(shape, runs, args)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(30)
        await cleanup(store, bus, prefix)


async def cleanup(store: Store, bus: RabbitBus, prefix: str) -> None:
    """Remove the run's queues and keys, then close both."""
    await bus.purge_and_delete()
    await bus.aclose()
    async for key in store.client.scan_iter(match=f"{prefix}:*", count=1000):
        await store.client.delete(key)
    await store.aclose()


async def _warm(store: Store, conn: Connection, url: str) -> None:
    now = int(time.time() * 1000)
    await _run_once(store, conn, url, [now + 500] * 200, 20)


def _burst_dues(n: int) -> object:
    def make() -> list[int]:
        at = int(time.time() * 1000) + 1000 + n // 10
        return [at] * n

    return make


def _steady_dues(rate: float, seconds: float, quantum_ms: int) -> object:
    def make() -> list[int]:
        start = int(time.time() * 1000) + 1500
        dues = [start + int(i * 1000 / rate) for i in range(int(rate * seconds))]
        return [d - d % quantum_ms for d in dues]

    return make


def _report(
    shape: str, runs: list[tuple[float, float, float, int]], args: argparse.Namespace
) -> None:
    rate = statistics.median(r[0] for r in runs)
    p50 = statistics.median(r[1] for r in runs)
    p99 = statistics.median(r[2] for r in runs)
    shown = "  ".join(f"{r[0]:,.0f}/s p50 {r[1]:.0f} p99 {r[2]:.0f} n={r[3]}" for r in runs)
    print(
        f"pipeline {shape:<7} {args.invokers} invoker(s): median {rate:,.0f} deliveries/s, "
        f"lag p50 {p50:,.0f} ms, p99 {p99:,.0f} ms   [{shown}]",
        flush=True,
    )
    _medians[shape] = rate


_medians: dict[str, float] = {}


async def _ceilings(args: argparse.Namespace, url: str) -> dict[str, float]:
    out = {}
    for name in ("httpx", "aiohttp"):
        runs = [await measure_case(name, url, args.concurrency, 2.0, 0.3) for _ in range(args.runs)]
        out[name] = statistics.median(runs)
        shown = " ".join(f"{r:,.0f}" for r in runs)
        line = f"ceiling  {name:<8} concurrency {args.concurrency}: median {out[name]:,.0f} req/s"
        print(f"{line}   [{shown}]", flush=True)
    return out


async def _main(args: argparse.Namespace, conn: Connection, port: int) -> None:
    url = f"http://127.0.0.1:{port}/hook"
    print(f"load average before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} (2 cores)")
    ceilings = await _ceilings(args, url)
    _dump(conn)  # the ceiling loops carry no cronhook headers; nothing recorded
    await _pipeline(args, conn, url)
    burst = _medians.get("burst", 0.0)
    for name, value in ceilings.items():
        print(f"burst pipeline / bare {name}: {burst / value:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--fires", type=int, default=5000, help="fires in a burst")
    parser.add_argument("--rate", type=float, default=500, help="fires/s in the steady shape")
    parser.add_argument("--seconds", type=float, default=10, help="length of the steady shape")
    parser.add_argument(
        "--quantum-ms",
        type=int,
        default=1,
        help="steady instants rounded down to this (1 = every fire its own millisecond)",
    )
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--invokers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=64, help="invoker prefetch")
    parser.add_argument("--log-level", default="WARNING", help="the processes' log level")
    with_receiver(lambda conn, url: _main(parser.parse_args(), conn, url))


def with_receiver(run: Callable[[Connection, int], Coroutine[Any, Any, None]]) -> None:
    """Start the receiver in its own process, run ``run(pipe, receiver port)`` to the end
    on a fresh event loop, then stop the receiver."""
    parent, child = multiprocessing.Pipe()
    server = multiprocessing.Process(target=_receiver, args=(child,), daemon=True)
    server.start()
    try:
        if not parent.poll(10):
            raise SystemExit("receiver did not start")
        asyncio.run(run(parent, parent.recv()))
    finally:
        server.terminate()
        server.join(5)


if __name__ == "__main__":
    main()
