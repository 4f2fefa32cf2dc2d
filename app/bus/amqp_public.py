"""Publishing on aio-pika's public API: the bus's path where the fast one on aiormq's
internals (``app.bus.amqp_batch``) is fenced off (``app.bus.amqp_fence``).

The same contract as ``amqp_batch.publish_batch``: persistent, mandatory messages through
the default exchange, each message's confirmation or exception in order, chunks of
``CHUNK`` holding ``gate`` and confirmed within ``chunk_timeout`` seconds of taking it
(``TimeoutError`` otherwise).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aio_pika

CHUNK = 500
CONTENT_TYPE = "application/json"


async def publish_public(
    channel: Any,
    routing_key: str,
    messages: Sequence[tuple[str, bytes]],
    *,
    gate: asyncio.Semaphore,
    chunk_timeout: float,
) -> list[Any]:
    """Publish ``(message_id, body)`` pairs on ``channel`` (an aio-pika channel with
    publisher confirms and ``on_return_raises``); see the module doc."""
    exchange = channel.default_exchange
    results: list[Any] = []
    for start in range(0, len(messages), CHUNK):
        chunk = messages[start : start + CHUNK]
        async with gate, asyncio.timeout(chunk_timeout):
            results += await asyncio.gather(
                *(_one(exchange, routing_key, mid, body) for mid, body in chunk),
                return_exceptions=True,
            )
    return results


async def _one(exchange: Any, routing_key: str, message_id: str, body: bytes) -> Any:
    message = aio_pika.Message(
        body,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id,
        content_type=CONTENT_TYPE,
    )
    return await exchange.publish(message, routing_key, mandatory=True)
