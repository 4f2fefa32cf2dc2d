"""Running the roles: api, dispatcher, invoker, each until a stop signal, and drained."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
from collections.abc import AsyncIterator, Coroutine
from typing import Any

from prometheus_client import CollectorRegistry

from app.bus.base import Bus
from app.bus.memory import MemoryBus
from app.bus.rabbitmq import RabbitBus
from app.errors import ConfigError, StoreUnavailable
from app.metrics import DispatcherMetrics, InvokerMetrics, SystemMetrics, new_registry
from app.observe import gauge_loop, load_scripts, ops_app
from app.secretbox import Keyring
from app.settings import Settings
from app.store import Store, memory, open_store
from app.store.errors import DRIVER_ERRORS

log = logging.getLogger("cronhook")


def keyring_for(settings: Settings) -> Keyring | None:
    """The keys that encrypt signing secrets at rest: CRONHOOK_SECRET_KEYS; without it, a
    key of this process's own on the embedded store (gone with it), else none (plain text,
    with a warning)."""
    if settings.secret_keys:
        return Keyring.parse(settings.secret_keys)
    if not settings.redis_url:
        return Keyring.ephemeral()
    log.warning(
        "CRONHOOK_SECRET_KEYS is not set: signing secrets are stored in plain text in Redis"
    )
    return None


def make_store(settings: Settings) -> Store:
    return open_store(
        settings.redis_url,
        prefix=settings.prefix,
        shards=settings.shards,
        retention_s=settings.fire_retention_seconds,
        timeout=settings.redis_timeout,
        keyring=keyring_for(settings),
    )


def make_bus(settings: Settings) -> Bus:
    if not settings.amqp_url:
        return MemoryBus(delivery_limit=settings.delivery_limit)
    return RabbitBus(
        settings.amqp_url,
        settings.queue,
        queues=settings.queues,
        delivery_limit=settings.delivery_limit,
    )


def require_services(settings: Settings) -> None:
    missing = [
        n
        for n, v in (
            ("CRONHOOK_REDIS_URL", settings.redis_url),
            ("CRONHOOK_AMQP_URL", settings.amqp_url),
        )
        if not v
    ]
    if missing:
        raise ConfigError(f"{', '.join(missing)} must be set (only `cronhook dev` embeds them)")


async def check_eviction(store: Store, settings: Settings) -> None:
    """Refuse to start on a Redis that may evict keys (app/store/memory.py); a Redis that
    cannot be reached yet is the process's retry loops' business, not a reason to stop."""
    if store.embedded:
        return
    try:
        await memory.check_policy(
            store.client, cluster=store.cluster, allow_eviction=settings.allow_eviction
        )
    except DRIVER_ERRORS as e:
        log.warning("could not read Redis's maxmemory-policy at start: %r", e)


def stop_event() -> asyncio.Event:
    """Set on SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    return stop


@contextlib.asynccontextmanager
async def opened(settings: Settings, *, need_bus: bool) -> AsyncIterator[tuple[Store, Bus]]:
    store = make_store(settings)
    bus = make_bus(settings)
    try:
        await check_eviction(store, settings)
        if need_bus:
            await bus.start()
        yield store, bus
    finally:
        await bus.aclose()
        await store.aclose()


def _hypercorn_config(host: str, port: int, grace: float) -> Any:
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{host}:{port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # through our handlers, once
    config.graceful_timeout = grace
    return config


async def serve_api(app: Any, settings: Settings, stop: asyncio.Event) -> None:
    """Serve until ``stop``; then refuse new connections and let requests in flight
    finish for up to ``shutdown_seconds``."""
    from hypercorn.asyncio import serve

    config = _hypercorn_config(settings.host, settings.port, settings.shutdown_seconds)
    await serve(app, config, shutdown_trigger=stop.wait)


@contextlib.asynccontextmanager
async def background(*coros: Coroutine[Any, Any, None]) -> AsyncIterator[None]:
    """Run ``coros`` beside the body; cancel whatever is left when it ends."""
    tasks = [asyncio.create_task(c) for c in coros]
    try:
        yield
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


@contextlib.asynccontextmanager
async def observed(
    settings: Settings, registry: CollectorRegistry, store: Store, bus: Bus, stop: asyncio.Event
) -> AsyncIterator[None]:
    """The periodic gauges, and for a worker role the ops port (``/metrics``, ``/healthz``,
    ``/readyz``) until the role has finished shutting down."""
    from hypercorn.asyncio import serve

    await load_scripts(store)
    fresh_ms = int(settings.heartbeat_seconds * 3000)  # three missed beats: not live
    jobs = [gauge_loop(SystemMetrics(registry), store, bus, stop, fresh_ms=fresh_ms)]
    done = asyncio.Event()
    if settings.metrics_port:
        config = _hypercorn_config(settings.host, settings.metrics_port, 1.0)
        ops: Any = ops_app(registry, store, bus, stop)
        jobs.append(serve(ops, config, shutdown_trigger=done.wait))
        log.info("metrics on http://%s:%s/metrics", settings.host, settings.metrics_port)
    async with background(*jobs):
        try:
            yield
        finally:
            done.set()
            await asyncio.sleep(0)


async def until_stopped(work: Coroutine[Any, Any, None], stop: asyncio.Event, grace: float) -> None:
    """Run ``work`` (which ends by itself once ``stop`` is set) and give it ``grace``
    seconds after ``stop`` to finish; then cancel it. Its own failure propagates."""
    task = asyncio.create_task(work)
    stopping = asyncio.create_task(stop.wait())
    await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
    stopping.cancel()
    if not task.done():
        try:
            await asyncio.wait_for(asyncio.shield(task), grace)
        except TimeoutError:
            log.warning("still working %gs after the stop signal; cancelling", grace)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            return
    task.result()


async def run_api(settings: Settings) -> None:
    from app.api import create_app

    require_services(settings)
    if not settings.admin_token:
        raise ConfigError("CRONHOOK_ADMIN_TOKEN must be set for `cronhook api`")
    stop = stop_event()
    registry = new_registry(process=True)
    api_settings = settings.with_(metrics_port=0)  # the API serves /metrics itself
    async with (
        opened(settings, need_bus=True) as (store, bus),
        observed(api_settings, registry, store, bus, stop),
    ):
        app = create_app(store, settings, bus=bus, registry=registry)
        await serve_api(app, settings, stop)
        log.info("api stopped")


GC_THRESHOLD0 = 7_000  # allocations between young collections (CPython's default: 700)


def tune_gc() -> None:
    """For a long-running worker, once started: what startup allocated (modules, clients)
    leaves the collector's view, and young collections come ten times less often. A burst
    allocates objects by the ten thousand (schedules, fires, messages) that mostly die
    without cycles: with CPython's defaults a dispatcher spent ~18 % of a 10,000-fire
    burst's CPU in ~300 collections (two of them full) scanning them and the startup
    objects again; with this, ~9 % in ~30 (measured with ``gc.callbacks``)."""
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(GC_THRESHOLD0, gen1, gen2)


async def run_dispatcher(settings: Settings) -> None:
    from dispatcher.dispatch.dispatcher import Dispatcher

    require_services(settings)
    stop = stop_event()
    registry = new_registry(process=True)
    async with (
        opened(settings, need_bus=True) as (store, bus),
        observed(settings, registry, store, bus, stop),
    ):
        dispatcher = Dispatcher(store, bus, settings, metrics=DispatcherMetrics(registry))
        tune_gc()
        await until_stopped(dispatcher.run(stop), stop, settings.shutdown_seconds)


async def run_invoker(settings: Settings) -> None:
    from dispatcher.http.client import WebhookClient
    from dispatcher.invoke.invoker import Invoker
    from dispatcher.registry import beating, invoker_heartbeat

    require_services(settings)
    stop = stop_event()
    registry = new_registry(process=True)
    metrics = InvokerMetrics(registry, tenants=settings.metrics_tenant_ids())
    async with (
        opened(settings, need_bus=True) as (store, bus),
        observed(settings, registry, store, bus, stop),
    ):
        client = WebhookClient(max_connections=max(settings.invoker_concurrency * 2, 16))
        invoker = Invoker(store, bus, client, settings, metrics=metrics)
        heartbeat = invoker_heartbeat(store, settings, invoker)
        try:
            with contextlib.suppress(StoreUnavailable):
                await heartbeat.beat()  # the clock is read before the first held fire
            async with beating(heartbeat):
                tune_gc()  # before consuming: no delivery's objects are frozen
                await invoker.start()
                log.info("invoker consuming", extra={"node": invoker.node_id})
                await stop.wait()
                left = await bus.drain(settings.shutdown_seconds)
                log.info("invoker drained", extra={"node": invoker.node_id, "requeued": left})
        finally:
            await client.aclose()


async def run_rewrap(settings: Settings) -> None:
    """`cronhook rewrap-secrets`: every tenant's secrets under the current key, then exit."""
    if not settings.redis_url or not settings.secret_keys:
        raise ConfigError("CRONHOOK_REDIS_URL and CRONHOOK_SECRET_KEYS must be set")
    store = make_store(settings)
    try:
        done = await store.records.rewrap_secrets()
    finally:
        await store.aclose()
    log.info("rewrapped the signing secrets of %d tenants", done)
    print(f"rewrapped the signing secrets of {done} tenants")
