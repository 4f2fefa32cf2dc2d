"""Work spread over several quorum queues: their names and which one a fire goes to.

A deployment has ``N`` work queues (``CRONHOOK_QUEUES``). Queue 0 keeps the base name
(``cronhook.fires``), so a deployment with one queue is exactly the single-queue
deployment; queue ``i > 0`` is ``<base>.<i>``. They all dead-letter into one queue,
``<base>.dlq``.

The choice is per fire and stable: ``crc32(fire id) % N``. A tenant's herd spreads over
every queue (and so over every queue's Raft leader), and a fire published again (a retry,
a re-publish after a lost confirm) goes to the queue it went to before as long as ``N`` is
unchanged. Nothing depends on it for correctness: invokers consume from every queue, and
the per-tenant limits and the duplicate checks live in Redis, keyed by tenant and fire id.

Changing ``N`` leaves messages where they were published: an invoker consumes from its
``N`` queues and from every queue past ``N`` that still exists (``leftover_names``), so a
shrunk deployment drains its old queues before ``cronhook queues prune`` removes them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

MAX_QUEUES = 64
LEFTOVER_PROBE = MAX_QUEUES  # how far past N an invoker looks for queues left behind


def queue_name(base: str, index: int) -> str:
    return base if index == 0 else f"{base}.{index}"


def queue_names(base: str, count: int) -> list[str]:
    return [queue_name(base, i) for i in range(count)]


def leftover_names(base: str, count: int) -> Iterator[str]:
    """Names past the first ``count``, in order: where a larger ``N`` left messages."""
    for i in range(count, count + LEFTOVER_PROBE):
        yield queue_name(base, i)


def dead_letter_name(base: str) -> str:
    return f"{base}.dlq"


def queue_index(fire_id: str, count: int) -> int:
    return 0 if count == 1 else zlib.crc32(fire_id.encode()) % count


def split(ids: Sequence[str], count: int) -> dict[int, list[int]]:
    """Positions of fire ids by queue index (the order within each queue kept)."""
    out: dict[int, list[int]] = {}
    for pos, fire_id in enumerate(ids):
        out.setdefault(queue_index(fire_id, count), []).append(pos)
    return out


def per_consumer_prefetch(prefetch: int, consumers: int) -> int:
    """RabbitMQ applies a channel's prefetch to each consumer (quorum queues refuse the
    channel-wide form): ``prefetch`` shared out keeps one invoker's deliveries in flight
    near ``prefetch`` whatever the number of queues."""
    return max(1, -(-prefetch // max(1, consumers)))
