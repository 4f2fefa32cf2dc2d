"""Operator commands of the command line: ``cronhook queues`` and ``cronhook shards``."""

from __future__ import annotations

import json

from app.bus.rabbitmq import RabbitBus
from app.runtime import require_services
from app.settings import Settings


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
