"""The bus contract, on the in-process bus and on the real RabbitMQ."""

from __future__ import annotations

import asyncio

from app.bus.base import Bus, Requeue
from app.bus.message import FireMessage
from app.errors import PoisonMessage
from tests.conftest import eventually


def _msgs(n: int) -> list[FireMessage]:
    return [FireMessage(f"fire_{i}", "ten_t", 1, 1000 + i) for i in range(n)]


async def test_every_published_message_is_delivered_and_acked(bus: Bus) -> None:
    got: list[str] = []

    async def handler(body: bytes) -> None:
        got.append(FireMessage.decode(body).fire_id)

    await bus.publish(_msgs(50))
    await bus.consume(handler, prefetch=8)
    await eventually(lambda: len(got) == 50)
    assert sorted(got) == sorted(m.fire_id for m in _msgs(50))
    await eventually(lambda: _depth_is_zero(bus))


async def test_depth_follows_the_queue_after_start(bus: Bus) -> None:
    # given a started bus whose queue was empty when it declared it
    assert await bus.depth() == 0
    # when messages arrive and nobody consumes them
    await bus.publish(_msgs(7))
    # then the depth counts them (not the count the queue had at start)
    await eventually(lambda: _depth_is(bus, 7))


async def _depth_is(bus: Bus, n: int) -> bool:
    return await bus.depth() == n


async def _depth_is_zero(bus: Bus) -> bool:
    return await bus.depth() == 0


async def test_a_requeued_message_comes_back(bus: Bus) -> None:
    calls: list[int] = []

    async def handler(body: bytes) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise Requeue

    await bus.publish(_msgs(1))
    await bus.consume(handler, prefetch=1)
    await eventually(lambda: len(calls) == 2)


async def test_a_poison_message_is_dead_lettered_not_retried(bus: Bus) -> None:
    calls: list[int] = []

    async def handler(body: bytes) -> None:
        calls.append(1)
        FireMessage.decode(b"not json")

    await bus.publish(_msgs(1))
    await bus.consume(handler, prefetch=1)
    await eventually(lambda: _dead(bus, 1))
    await asyncio.sleep(0.2)
    assert len(calls) == 1


async def _dead(bus: Bus, n: int) -> bool:
    return await bus.dead_letter_depth() == n


async def test_a_message_failing_forever_is_dead_lettered_at_the_delivery_limit(bus: Bus) -> None:
    calls: list[int] = []

    async def handler(body: bytes) -> None:
        calls.append(1)
        raise RuntimeError("endpoint exploded")

    await bus.publish(_msgs(1))
    await bus.consume(handler, prefetch=1)
    await eventually(lambda: _dead(bus, 1), within=15)
    assert 3 <= len(calls) <= 4  # delivery limit 3 in the fixture


async def test_drain_finishes_handlers_in_flight_then_stops(bus: Bus) -> None:
    started, finished = asyncio.Event(), []

    async def handler(body: bytes) -> None:
        started.set()
        await asyncio.sleep(0.3)
        finished.append(body)

    await bus.publish(_msgs(1))
    await bus.consume(handler, prefetch=4)
    await asyncio.wait_for(started.wait(), 5)
    assert await bus.drain(5) == 0
    assert len(finished) == 1


async def test_drain_requeues_a_handler_that_outlives_the_grace(bus: Bus) -> None:
    started = asyncio.Event()
    seen: list[bytes] = []

    async def stuck(body: bytes) -> None:
        started.set()
        await asyncio.sleep(60)

    async def fine(body: bytes) -> None:
        seen.append(body)

    await bus.publish(_msgs(1))
    await bus.consume(stuck, prefetch=1)
    await asyncio.wait_for(started.wait(), 5)
    assert await bus.drain(0.2) == 1
    # the message was not lost: the next consumer gets it
    await bus.consume(fine, prefetch=1)
    await eventually(lambda: len(seen) == 1)


def test_a_message_round_trips_and_garbage_is_poison() -> None:
    m = FireMessage("fire_x", "ten_t", 3, 1234, replay=True)
    assert FireMessage.decode(m.encode()) == m
    for bad in (
        b"",
        b"[]",
        b'{"v":2}',
        b'{"v":1,"fire_id":"x"}',
        b'{"v":1,"fire_id":"x","tenant_id":"t","attempt":0,"scheduled_at_ms":1}',
        b'{"v":1,"fire_id":"","tenant_id":"t","attempt":1,"scheduled_at_ms":1}',
        b"\xff\xfe",
    ):
        try:
            FireMessage.decode(bad)
        except PoisonMessage:
            continue
        raise AssertionError(f"accepted {bad!r}")
