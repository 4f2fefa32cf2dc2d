"""Operator commands of the command line: ``cronhook queues`` and ``cronhook shards``."""

from __future__ import annotations

import json

from app.bus.rabbitmq import RabbitBus
from app.runtime import make_store, require_services
from app.settings import Settings
from app.store.reshard import Resharder


def _bus(settings: Settings) -> RabbitBus:
    require_services(settings)
    return RabbitBus(
        settings.amqp_url,
        settings.queue,
        queues=settings.queues,
        delivery_limit=settings.delivery_limit,
    )


async def queues_status(settings: Settings) -> str:
    """The work queues with the messages ready in each, leftovers of a larger N included."""
    bus = _bus(settings)
    await bus.start()
    try:
        depths = await bus.depths()
        extra = [n for n in depths if n not in bus.queue_names]
        return json.dumps({"queues": settings.queues, "ready": depths, "leftovers": extra})
    finally:
        await bus.aclose()


async def queues_prune(settings: Settings) -> str:
    """Delete the queues a larger N left behind once they are empty and unconsumed."""
    bus = _bus(settings)
    await bus.start()
    try:
        gone = await bus.prune()
        kept = await bus.leftovers()
        return json.dumps({"deleted": gone, "kept": kept})
    finally:
        await bus.aclose()


async def shards_status(settings: Settings) -> str:
    """The time index's shard count, and the one it grows from while a reshard runs."""
    require_services(settings)
    store = make_store(settings)
    try:
        lay = await Resharder(store).status()
        return json.dumps({"shards": lay.shards, "growing_from": lay.moving_from or None})
    finally:
        await store.aclose()


async def shards_grow(settings: Settings, count: int) -> str:
    """Grow the time index to ``count`` shards (or resume a reshard to ``count``)."""
    require_services(settings)
    store = make_store(settings)
    try:
        report = await Resharder(store).grow(count)
        return json.dumps(report.__dict__)
    finally:
        await store.aclose()
