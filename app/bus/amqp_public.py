"""Publishing on aio-pika's public API: the bus's path where the fast one on aiormq's
internals (``app.bus.amqp_batch``) is fenced off (``app.bus.amqp_fence``).

The same contract as ``amqp_batch.publish_chunk``: persistent, mandatory messages through
the default exchange, each message's confirmation or exception in order. Both paths
publish a batch in chunks through ``in_chunks``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aio_pika

CHUNK = 500
CONTENT_TYPE = "application/json"


async def in_chunks(
    messages: Sequence[tuple[str, bytes]],
    publish: Callable[[Sequence[tuple[str, bytes]]], Awaitable[list[Any]]],
    *,
    gate: asyncio.Semaphore,
    chunk_timeout: float,
) -> list[Any]:
    """``publish`` each chunk of ``CHUNK`` messages holding ``gate`` (the publisher's chunks
    awaiting confirms at once), confirmed within ``chunk_timeout`` seconds of taking it
    (``TimeoutError`` otherwise): many concurrent publishes queue for the gate instead of
    racing one deadline. Each message's confirmation or exception, in order."""
    results: list[Any] = []
    for start in range(0, len(messages), CHUNK):
        async with gate, asyncio.timeout(chunk_timeout):
            results += await publish(messages[start : start + CHUNK])
    return results


async def publish_public(
    channel: Any, routing_key: str, chunk: Sequence[tuple[str, bytes]]
) -> list[Any]:
    """Publish ``(message_id, body)`` pairs on ``channel`` (an aio-pika channel with
    publisher confirms and ``on_return_raises``): each one's confirmation or exception."""
    exchange = channel.default_exchange
    return await asyncio.gather(
        *(_one(exchange, routing_key, mid, body) for mid, body in chunk), return_exceptions=True
    )


async def _one(exchange: Any, routing_key: str, message_id: str, body: bytes) -> Any:
    message = aio_pika.Message(
        body,
        delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        message_id=message_id,
        content_type=CONTENT_TYPE,
    )
    return await exchange.publish(message, routing_key, mandatory=True)
