"""Health, readiness and the periodic gauges, shared by every role.

``readiness`` is what ``/readyz`` answers: Redis reachable, every Lua script loaded
(``SCRIPT EXISTS`` on the shas; a missing one is loaded again, e.g. after a Redis
restart or failover) and RabbitMQ reachable (a passive queue declare); under
``cronhook dev`` the checks are named after the embedded store and bus that run instead.
``ops_app`` is the small HTTP app a dispatcher or invoker serves on ``CRONHOOK_METRICS_PORT``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.bus.base import Bus
from app.bus.memory import MemoryBus
from app.errors import CronhookError
from app.metrics import CONTENT_TYPE, SystemMetrics, exposition
from app.store import Store, memory
from app.store.errors import DRIVER_ERRORS

log = logging.getLogger("cronhook.observe")

CHECK_TIMEOUT_S = 2.0
GAUGE_EVERY_S = 5.0
NODE_FRESH_MS = 10_000  # a node whose last heartbeat is older is not counted as live


async def _check(probe: Callable[[], Awaitable[str]]) -> str:
    try:
        return await asyncio.wait_for(probe(), CHECK_TIMEOUT_S)
    except TimeoutError:
        return f"timed out after {CHECK_TIMEOUT_S:g}s"
    except (CronhookError, *DRIVER_ERRORS) as e:
        return f"unreachable: {e}"


async def _redis(store: Store) -> str:
    return "ok" if await store.ping() else "unreachable"


async def _scripts(store: Store) -> str:
    """Every script's sha known to Redis; a missing one is loaded once more."""
    scripts = store.scripts.lua.by_name()
    shas = [s.sha for s in scripts.values()]
    exists = await store.client.script_exists(*shas)
    missing = [n for n, ok in zip(scripts, exists, strict=True) if not ok]
    for name in missing:
        await store.client.script_load(scripts[name].script)
    if missing:
        exists = await store.client.script_exists(*shas)
        if not all(exists):
            return f"not loaded: {', '.join(missing)}"
    return "ok"


async def _bus(bus: Bus) -> str:
    await bus.depth()
    return "ok"


def _bus_embedded(bus: Bus) -> bool:
    return isinstance(bus, MemoryBus)


def backends(store: Store, bus: Bus | None) -> dict[str, str]:
    """What this process really runs on, as ``/readyz`` reports it."""
    out = {"store": "embedded (in-process, lost on exit)" if store.embedded else "redis"}
    if bus is not None:
        out["bus"] = "embedded (in-process queue)" if _bus_embedded(bus) else "rabbitmq"
    return out


async def readiness(store: Store, bus: Bus | None) -> dict[str, str]:
    """One entry per dependency that runs, named after it ("redis" or "embedded_store",
    "rabbitmq" or "embedded_bus"; no bus entry without a bus): "ok" or why not."""
    probes = {
        "embedded_store" if store.embedded else "redis": lambda: _redis(store),
        "scripts": lambda: _scripts(store),
    }
    if bus is not None:
        probes["embedded_bus" if _bus_embedded(bus) else "rabbitmq"] = lambda: _bus(bus)
    results = await asyncio.gather(*(_check(p) for p in probes.values()))
    return dict(zip(probes, results, strict=True))


async def load_scripts(store: Store) -> None:
    """Register every Lua script with Redis at start, so readiness is true from the
    first request (redis-py would otherwise load each on its first use)."""
    with contextlib.suppress(*DRIVER_ERRORS):
        await _scripts(store)


def readiness_response(checks: dict[str, str], runs: dict[str, str]) -> Response:
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks, "backends": runs}
    return JSONResponse(body, status_code=200 if ready else 503)


async def refresh_gauges(
    gauges: SystemMetrics, store: Store, bus: Bus | None, fresh_ms: int = NODE_FRESH_MS
) -> None:
    """Read the shared depths once: O(shards) Redis commands in one round trip, the fleet
    registry (live = a heartbeat within ``fresh_ms``), the running jobs (one round trip,
    a command per tenant whose jobs ever ran), passive declares of the queues."""
    now_ms = await store.now_ms()
    k = store.keys
    shards = (await store.time.current()).shards
    async with store.client.pipeline(transaction=False) as pipe:
        for n in range(shards):
            sk = k.shard(n)
            pipe.zcard(sk.due)
            pipe.zcount(sk.due, "-inf", now_ms)
            pipe.zcard(sk.lease)
            pipe.zrange(sk.due, 0, 0, withscores=True)
        res = await pipe.execute()
    counts = [int(x) for i, x in enumerate(res) if i % 4 != 3]
    waiting, due = sum(counts[0::3]), sum(counts[1::3])
    gauges.time_index.labels("scheduled").set(waiting - due)
    gauges.time_index.labels("due").set(due)
    gauges.time_index.labels("claimed").set(sum(counts[2::3]))
    gauges.oldest_due.set(oldest_due_seconds(res[3::4], now_ms))
    live = Counter(
        str(n.data.get("role", "unknown"))
        for n in await store.nodes.list()
        if n.heartbeat_ms >= now_ms - fresh_ms
    )
    for role in {"dispatcher", "invoker", *live}:
        gauges.fleet.labels(role).set(live.get(role, 0))
    gauges.jobs_running.set(await store.jobs.running(now_ms))
    if bus is not None:
        gauges.queue.set(await bus.depth())
        gauges.dead_letters.set(await bus.dead_letter_depth())
    if not store.embedded:
        masters = await memory.read(store.client, cluster=store.cluster)
        fullest = min(masters, key=lambda m: m.headroom)
        gauges.redis_headroom.set(fullest.headroom)
        gauges.redis_used.set(fullest.used)


def oldest_due_seconds(firsts: list[list[tuple[str, float]]], now_ms: int) -> float:
    """Seconds since the earliest due instant among the shards' first items (0 if none is
    due yet); ``firsts`` holds each shard's ``ZRANGE due 0 0 WITHSCORES`` answer."""
    earliest = min((score for first in firsts for _, score in first), default=None)
    if earliest is None or earliest > now_ms:
        return 0.0
    return (now_ms - earliest) / 1000


async def gauge_loop(
    gauges: SystemMetrics,
    store: Store,
    bus: Bus | None,
    stop: asyncio.Event,
    every: float = GAUGE_EVERY_S,
    fresh_ms: int = NODE_FRESH_MS,
) -> None:
    while not stop.is_set():
        try:
            refresh = refresh_gauges(gauges, store, bus, fresh_ms)
            await asyncio.wait_for(refresh, CHECK_TIMEOUT_S * 2)
        except (TimeoutError, CronhookError, *DRIVER_ERRORS) as e:
            gauges.refresh_errors.inc()
            log.debug("gauge refresh failed: %r", e)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def ops_app(
    registry: CollectorRegistry, store: Store, bus: Bus | None, stopping: asyncio.Event
) -> Starlette:
    """``/metrics``, ``/healthz`` and ``/readyz`` for a dispatcher or invoker; not ready
    once ``stopping`` is set (the process is draining)."""

    async def metrics(request: Request) -> Response:
        return Response(exposition(registry), media_type=CONTENT_TYPE)

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = await readiness(store, bus)
        if stopping.is_set():
            checks["process"] = "shutting down"
        return readiness_response(checks, backends(store, bus))

    return Starlette(
        routes=[
            Route("/metrics", metrics, methods=["GET"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ]
    )
