"""Running the roles: api, dispatcher, invoker, each until a stop signal, and drained."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from typing import Any

from app.bus.base import Bus
from app.bus.memory import MemoryBus
from app.bus.rabbitmq import RabbitBus
from app.errors import ConfigError
from app.settings import Settings
from app.store import Store, open_store

log = logging.getLogger("cronhook")

DRAIN_SECONDS = 20.0


def make_store(settings: Settings) -> Store:
    return open_store(
        settings.redis_url,
        prefix=settings.prefix,
        shards=settings.shards,
        retention_s=settings.fire_retention_seconds,
        timeout=settings.redis_timeout,
    )


def make_bus(settings: Settings) -> Bus:
    if not settings.amqp_url:
        return MemoryBus(delivery_limit=settings.delivery_limit)
    return RabbitBus(settings.amqp_url, settings.queue, delivery_limit=settings.delivery_limit)


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
        if need_bus:
            await bus.start()
        yield store, bus
    finally:
        await bus.aclose()
        await store.aclose()


async def serve_api(app: Any, settings: Settings, stop: asyncio.Event) -> None:
    from hypercorn.asyncio import serve
    from hypercorn.config import Config

    config = Config()
    config.bind = [f"{settings.host}:{settings.port}"]
    config.accesslog = None
    config.errorlog = logging.getLogger("hypercorn.error")  # through our handlers, once
    config.graceful_timeout = 10
    await serve(app, config, shutdown_trigger=stop.wait)


async def run_api(settings: Settings) -> None:
    from app.api import create_app

    require_services(settings)
    if not settings.admin_token:
        raise ConfigError("CRONHOOK_ADMIN_TOKEN must be set for `cronhook api`")
    stop = stop_event()
    async with opened(settings, need_bus=True) as (store, bus):
        await serve_api(create_app(store, settings, bus=bus), settings, stop)


async def run_dispatcher(settings: Settings) -> None:
    from dispatcher.dispatcher import Dispatcher

    require_services(settings)
    stop = stop_event()
    async with opened(settings, need_bus=True) as (store, bus):
        await Dispatcher(store, bus, settings).run(stop)


async def run_invoker(settings: Settings) -> None:
    from dispatcher.http_client import WebhookClient
    from dispatcher.invoker import Invoker

    require_services(settings)
    stop = stop_event()
    async with opened(settings, need_bus=True) as (store, bus):
        client = WebhookClient(max_connections=max(settings.invoker_concurrency * 2, 16))
        invoker = Invoker(store, bus, client, settings)
        try:
            await invoker.start()
            log.info("invoker consuming", extra={"node": invoker.node_id})
            await stop.wait()
            left = await bus.drain(DRAIN_SECONDS)
            log.info("invoker drained", extra={"cut_short": left})
        finally:
            await client.aclose()
