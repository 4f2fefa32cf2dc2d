"""CPU per script call through ``Scripts.call``: the Wire connection against redis-py's
pipelines, on the same Redis, in this one process.

``--calls`` fire_begin calls (on fires that do not exist: the script answers 'missing' after
one HGET, so the figure is the client's cost, not Lua's) from ``--tasks`` concurrent tasks,
coalesced as the invoker's are; ``time.process_time`` per call, median of ``--runs``.

    .venv/bin/python bench/script_calls.py [--calls 20000] [--tasks 128] [--runs 3]
        [--loop auto|asyncio|uvloop]   # as CRONHOOK_EVENT_LOOP: auto = uvloop if installed

Needs Redis on loopback (``CRONHOOK_TEST_REDIS_URL`` to point elsewhere); writes no keys.
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

from app.cli import loop_factory
from app.store import open_store
from app.store.scripts import Scripts

REDIS_URL = os.environ.get("CRONHOOK_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def one_run(scripts: Scripts, prefix: str, calls: int, tasks: int) -> float:
    """CPU microseconds per call."""
    per_task = calls // tasks

    async def worker(w: int) -> None:
        for i in range(per_task):
            fire = f"{prefix}:fire:{w}:{i}"
            answer = await scripts.call(
                scripts.lua.fire_begin,
                [fire, f"{fire}:inflight", f"{prefix}:rate", f"{prefix}:slots"],
                ["inv-1", 1, 30000, 1_700_000_000_000, 0, 0, 0, 100, 1000, 1, "", 0, "0"],
            )
            assert answer == "missing", answer

    start = time.process_time()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    return (time.process_time() - start) / (per_task * tasks) * 1e6


async def measure(opts: argparse.Namespace) -> None:
    prefix = f"bench-calls-{secrets.token_hex(4)}"
    store = open_store(REDIS_URL, prefix=prefix, shards=1, retention_s=60)
    try:
        for name, wire in (("redis-py", False), ("wire", True)):
            scripts = Scripts(store.client, wire=wire)
            await one_run(scripts, prefix, opts.tasks * 10, opts.tasks)  # warm: connect, load
            runs = [
                await one_run(scripts, prefix, opts.calls, opts.tasks) for _ in range(opts.runs)
            ]
            await scripts.aclose()
            shown = ", ".join(f"{r:.1f}" for r in runs)
            print(f"{name:9} {statistics.median(runs):6.1f} us CPU per call (runs: {shown})")
    finally:
        await store.aclose()
    print(f"load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=20_000)
    ap.add_argument("--tasks", type=int, default=128)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--loop", choices=["auto", "asyncio", "uvloop"], default="auto")
    opts = ap.parse_args()
    factory = loop_factory(opts.loop)
    with asyncio.Runner(loop_factory=factory) as runner:
        print(f"event loop: {type(runner.get_loop()).__module__}")
        runner.run(measure(opts))


if __name__ == "__main__":
    main()
