"""Work spread over several quorum queues, and changing their number on a running
deployment: every message published before or after the change is consumed once, queues a
larger N left behind are drained by invokers of a smaller N, and only empty ones are
pruned."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator

import pytest

from app.bus.message import FireMessage
from app.bus.rabbitmq import RabbitBus
from tests.conftest import eventually

pytestmark = pytest.mark.external_service


def _msgs(start: int, n: int) -> list[FireMessage]:
    return [FireMessage(f"fire_{i}", f"ten_{i % 7}", 1, 1000 + i) for i in range(start, start + n)]


@contextlib.asynccontextmanager
async def _buses(url: str, queue: str) -> AsyncIterator[list[RabbitBus]]:
    made: list[RabbitBus] = []
    try:
        yield made
    finally:
        for b in made:
            await b.drain(1)
        if made:
            await made[-1].purge_and_delete()
        for b in made:
            await b.aclose()


async def _started(made: list[RabbitBus], url: str, queue: str, n: int) -> RabbitBus:
    b = RabbitBus(url, queue, queues=n)
    await b.start()
    made.append(b)
    return b


async def test_fires_spread_over_three_queues_and_one_invoker_takes_them_all(
    amqp_url: str, queue_name: str
) -> None:
    async with _buses(amqp_url, queue_name) as made:
        # given three queues and 300 fires published
        pub = await _started(made, amqp_url, queue_name, 3)
        await pub.publish(_msgs(0, 300))
        await eventually(_holding(pub, 300))
        depths = await pub.depths()
        assert list(depths) == [queue_name, f"{queue_name}.1", f"{queue_name}.2"]
        assert min(depths.values()) > 60, depths
        # when one consumer of the same N consumes
        got: Counter[str] = Counter()

        async def handler(body: bytes) -> None:
            got[FireMessage.decode(body).fire_id] += 1

        sub = await _started(made, amqp_url, queue_name, 3)
        await sub.consume(handler, prefetch=9)
        # then each fire arrives once
        await eventually(lambda: len(got) == 300)
        await asyncio.sleep(0.3)
        assert set(got.values()) == {1}
        await eventually(_empty(pub))


def _empty(bus: RabbitBus) -> object:
    return _holding(bus, 0)


def _holding(bus: RabbitBus, n: int) -> object:
    async def check() -> bool:
        return await bus.depth() == n

    return check


async def test_shrinking_n_drains_the_old_queues_before_they_are_pruned(
    amqp_url: str, queue_name: str
) -> None:
    async with _buses(amqp_url, queue_name) as made:
        # given a deployment on three queues with work waiting in all three
        old = await _started(made, amqp_url, queue_name, 3)
        await old.publish(_msgs(0, 200))
        # when dispatchers move to one queue and publish more
        new = await _started(made, amqp_url, queue_name, 1)
        await new.publish(_msgs(200, 100))
        assert await new.prune() == []  # the old queues still hold work: nothing goes
        # then an invoker with N = 1 consumes the leftovers too, each fire once
        got: Counter[str] = Counter()

        async def handler(body: bytes) -> None:
            got[FireMessage.decode(body).fire_id] += 1

        invoker = await _started(made, amqp_url, queue_name, 1)
        await invoker.consume(handler, prefetch=8)
        await eventually(lambda: len(got) == 300)
        await asyncio.sleep(0.3)
        assert set(got.values()) == {1}
        # and once drained and no longer consumed, the leftovers are pruned, the last first
        await invoker.drain(1)
        await eventually(_empty(old))
        assert await new.prune() == [f"{queue_name}.2", f"{queue_name}.1"]
        assert await new.leftovers() == {}


async def test_growing_n_keeps_what_waits_in_the_first_queue(
    amqp_url: str, queue_name: str
) -> None:
    async with _buses(amqp_url, queue_name) as made:
        # given one queue with work waiting
        old = await _started(made, amqp_url, queue_name, 1)
        await old.publish(_msgs(0, 100))
        # when the deployment grows to four queues and publishes more
        new = await _started(made, amqp_url, queue_name, 4)
        await new.publish(_msgs(100, 200))
        # then invokers of N = 4 consume both, each fire once
        got: Counter[str] = Counter()

        async def handler(body: bytes) -> None:
            got[FireMessage.decode(body).fire_id] += 1

        invoker = await _started(made, amqp_url, queue_name, 4)
        await invoker.consume(handler, prefetch=8)
        await eventually(lambda: len(got) == 300)
        await asyncio.sleep(0.3)
        assert set(got.values()) == {1}


async def test_a_prune_never_removes_a_queue_with_a_consumer(
    amqp_url: str, queue_name: str
) -> None:
    async with _buses(amqp_url, queue_name) as made:
        # given a leftover queue with work, consumed by an invoker of the smaller N
        old = await _started(made, amqp_url, queue_name, 2)
        await old.publish(_msgs(0, 40))
        invoker = await _started(made, amqp_url, queue_name, 1)
        got: set[str] = set()

        async def handler(body: bytes) -> None:
            got.add(FireMessage.decode(body).fire_id)

        await invoker.consume(handler, prefetch=4)
        await eventually(lambda: len(got) == 40)
        # then the drained queue stays while consumed, and goes once it is not
        shrunk = await _started(made, amqp_url, queue_name, 1)
        assert await shrunk.prune() == []
        await invoker.drain(1)
        assert await shrunk.prune() == [f"{queue_name}.1"]


async def test_an_invoker_leaves_an_empty_leftover_queue_alone(
    amqp_url: str, queue_name: str
) -> None:
    async with _buses(amqp_url, queue_name) as made:
        await _started(made, amqp_url, queue_name, 3)
        invoker = await _started(made, amqp_url, queue_name, 1)

        async def handler(body: bytes) -> None:
            return None

        await invoker.consume(handler, prefetch=4)
        # the drained leftovers have no consumer, so they can go while the invoker runs
        shrunk = await _started(made, amqp_url, queue_name, 1)
        assert await shrunk.prune() == [f"{queue_name}.2", f"{queue_name}.1"]
