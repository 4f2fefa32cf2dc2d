"""The invoker alone: CPU ms per delivery and deliveries/s of one ``cronhook invoker`` process.

No dispatcher and no API: fire records are written straight into Redis and their messages
published straight onto the queue, so the only cronhook process working is the invoker
(plus a fast loopback receiver in its own process). Per run, ``--fires`` fires are published
at once; the invoker's CPU time (``/proc/<pid>/stat``, user + system) is read before the
publish and after the last fire is recorded, minus what it burns idle over the same wall
time (heartbeats, gauges), and divided by the deliveries. Medians over ``--runs``, with the
load average (a shared box: quote it).

    .venv/bin/python bench/invoker_cpu.py [--fires 5000] [--runs 3] [--log-level INFO]
    .venv/bin/python bench/invoker_cpu.py --profile out.raw   # py-spy raw stacks of the runs

Needs Redis and RabbitMQ on loopback (``CRONHOOK_TEST_REDIS_URL`` / ``CRONHOOK_TEST_AMQP_URL``
to point elsewhere). Cleans up its keys and queues.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from deliver import (
    AMQP_URL,
    BODY,
    REDIS_URL,
    ROOT,
    _dump,
    _env,
    _tenant,
    cleanup,
    with_receiver,
)
from proc_cpu import cpu_seconds

from app.bus.message import FireMessage
from app.bus.rabbitmq import RabbitBus
from app.ids import new_id
from app.models import Fire, RetrySettings, Target, Tenant
from app.store import Store, open_store


async def _fires(store: Store, tenant: Tenant, url: str, n: int) -> list[FireMessage]:
    now = int(time.time() * 1000)
    target = Target(url=url, body=BODY, timeout_seconds=10)
    fires = [
        Fire(new_id("fire"), tenant.id, None, "message", now, "dispatched", now, now, target,
             RetrySettings())
        for _ in range(n)
    ]  # fmt: skip
    for at in range(0, n, 1000):
        await store.fires.create_many(fires[at : at + 1000])
    return [FireMessage(f.id, tenant.id, 1, f.scheduled_at) for f in fires]


async def _run(
    store: Store, bus: RabbitBus, conn: Connection, url: str, pid: int, n: int, idle: float
) -> tuple[float, float]:
    """(CPU ms per delivery, deliveries/s first to last arrival)."""
    tenant = await _tenant(store)
    messages = await _fires(store, tenant, url, n)
    _dump(conn)
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    await bus.publish(messages)
    seen: list[float] = []
    deadline = time.monotonic() + 120
    while len(seen) < n and time.monotonic() < deadline:
        await asyncio.sleep(0.2)
        seen += [at for at, _ in _dump(conn)]
    await _recorded(store, tenant, messages[-64:])
    cpu = cpu_seconds(pid) - cpu0 - idle * (time.monotonic() - wall0)
    seen.sort()
    rate = (len(seen) - 1) / (seen[-1] - seen[0]) if len(seen) > 1 else 0.0
    if len(seen) != n:
        print(f"  warning: {len(seen)} of {n} delivered")
    return cpu * 1000 / max(len(seen), 1), rate


async def _recorded(store: Store, tenant: Tenant, messages: list[FireMessage]) -> None:
    """Wait until the last fires' outcomes are recorded (fire_finish is part of the cost)."""
    for _ in range(100):
        fires = await store.fires.get_many(tenant.id, [m.fire_id for m in messages])
        if all(f.status == "succeeded" for f in fires):
            return
        await asyncio.sleep(0.05)


def _spawn(args: argparse.Namespace, prefix: str, queue: str) -> subprocess.Popen[bytes]:
    env = _env(prefix, queue, args) | {"CRONHOOK_EVENT_LOOP": args.event_loop}
    log = open(args.log, "wb") if args.log else subprocess.DEVNULL  # noqa: SIM115
    return subprocess.Popen(
        [sys.executable, "-m", "app.cli", "invoker"], env=env, cwd=ROOT, stdout=log, stderr=log
    )


def _profiler(args: argparse.Namespace, pid: int) -> subprocess.Popen[bytes] | None:
    if not args.profile:
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    cmd = [spy, "record", "--pid", str(pid), "--rate", "500", "--format", "raw"]
    cmd += ["-o", args.profile, "--nonblocking"]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def _main(args: argparse.Namespace, conn: Connection, port: int) -> None:
    url = f"http://127.0.0.1:{port}/hook"
    prefix, queue = f"bench{secrets.token_hex(4)}", f"cronhook.bench.{secrets.token_hex(4)}"
    store = open_store(REDIS_URL, prefix=prefix, shards=16, retention_s=3600)
    bus = RabbitBus(AMQP_URL, queue)
    await bus.start()
    proc = _spawn(args, prefix, queue)
    try:
        await asyncio.sleep(3)  # it starts and consumes
        await _run(store, bus, conn, url, proc.pid, 300, 0.0)  # warm: connections, caches
        idle0 = cpu_seconds(proc.pid)
        await asyncio.sleep(2)
        idle = (cpu_seconds(proc.pid) - idle0) / 2
        load = os.getloadavg()
        spy = _profiler(args, proc.pid)
        runs = [
            await _run(store, bus, conn, url, proc.pid, args.fires, idle) for _ in range(args.runs)
        ]
        if spy is not None:
            spy.send_signal(2)
            spy.wait(30)
        _report(args, runs, idle, load)
    finally:
        proc.terminate()
        proc.wait(30)
        await cleanup(store, bus, prefix)


def _report(
    args: argparse.Namespace, runs: list[tuple[float, float]], idle: float, load: tuple[float, ...]
) -> None:
    cpu = statistics.median(r[0] for r in runs)
    rate = statistics.median(r[1] for r in runs)
    shown = "  ".join(f"{c:.3f} ms {r:,.0f}/s" for c, r in runs)
    print(
        f"invoker ({args.log_level}, loop {args.event_loop}, prefetch {args.concurrency}): "
        f"median {cpu:.3f} CPU ms/delivery, {rate:,.0f} deliveries/s   [{shown}]   "
        f"idle {idle * 1000:.1f} ms/s; load {load[0]:.2f} before, {os.getloadavg()[0]:.2f} after",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--fires", type=int, default=5000, help="fires per run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=128, help="invoker prefetch")
    parser.add_argument("--log-level", default="INFO", help="the invoker's log level")
    parser.add_argument("--event-loop", default="auto", choices=["auto", "uvloop", "asyncio"])
    parser.add_argument("--log", help="write the invoker's output here (default: discarded)")
    parser.add_argument("--profile", help="py-spy raw stacks of the measured runs, to this file")
    args = parser.parse_args()
    with_receiver(lambda conn, url: _main(args, conn, url))


if __name__ == "__main__":
    main()
