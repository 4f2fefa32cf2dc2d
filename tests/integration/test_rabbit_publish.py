"""The batched publish on the real RabbitMQ (app/bus/amqp_batch.py): confirms, mandatory
returns, concurrent batches and a channel closed under a publish, since it drives aiormq's
channel below its public API."""

from __future__ import annotations

import asyncio
from typing import Any

import aio_pika
import pytest

from app.bus.amqp_public import CHUNK
from app.bus.message import FireMessage
from app.bus.rabbitmq import RabbitBus
from app.errors import BusUnavailable
from tests.conftest import eventually


def _msgs(n: int, tag: str = "f") -> list[FireMessage]:
    return [FireMessage(f"fir_{tag}{i:06d}", "ten_t", 1, 1000 + i) for i in range(n)]


async def _drain_queue(amqp_url: str, queue: str, n: int) -> list[tuple[str, FireMessage]]:
    """Fetch ``n`` messages (message id, decoded body) off ``queue``."""
    conn = await aio_pika.connect(amqp_url)
    got: list[tuple[str, FireMessage]] = []
    async with conn:
        ch = await conn.channel()
        q = await ch.declare_queue(queue, passive=True)
        while len(got) < n:
            m = await q.get(no_ack=True, fail=False, timeout=5)
            if m is None:
                await asyncio.sleep(0.05)
                continue
            assert m.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
            got.append((str(m.message_id), FireMessage.decode(m.body)))
    return got


async def _channel_ids(bus: RabbitBus) -> Any:
    channel = await bus._pub.get_underlay_channel()  # type: ignore[union-attr]
    return channel.message_id_delivery_tag


async def test_a_publish_larger_than_a_chunk_arrives_whole_and_in_order(
    rabbit: RabbitBus, amqp_url: str, queue_name: str
) -> None:
    msgs = _msgs(CHUNK * 2 + 37)
    await rabbit.publish(msgs)
    got = await _drain_queue(amqp_url, queue_name, len(msgs))
    assert [mid for mid, _ in got] == [m.fire_id for m in msgs]
    assert [body for _, body in got] == msgs
    assert not await _channel_ids(rabbit)  # nothing left registered for returns


async def test_concurrent_publishes_share_the_channel_without_mixing_confirms(
    rabbit: RabbitBus, amqp_url: str, queue_name: str
) -> None:
    batches = [_msgs(300 + 17 * k, tag=f"b{k}") for k in range(8)]
    await asyncio.gather(*(rabbit.publish(b) for b in batches))
    total = sum(len(b) for b in batches)
    got = await _drain_queue(amqp_url, queue_name, total)
    assert sorted(mid for mid, _ in got) == sorted(m.fire_id for b in batches for m in b)
    for b in batches:  # each batch's own order holds within the queue
        ids = [m.fire_id for m in b]
        assert [mid for mid, _ in got if mid in set(ids)] == ids


async def test_an_unroutable_message_fails_the_publish_and_later_publishes_still_work(
    rabbit: RabbitBus, amqp_url: str, queue_name: str
) -> None:
    conn = await aio_pika.connect(amqp_url)
    async with conn:
        await (await conn.channel()).queue_delete(queue_name)
    with pytest.raises(BusUnavailable, match="fir_f000000"):
        await rabbit.publish(_msgs(3))
    assert not await _channel_ids(rabbit)
    again = RabbitBus(amqp_url, queue_name)
    await again.start()  # declares the queue again
    await again.aclose()
    await rabbit.publish(_msgs(5, tag="again"))
    got = await _drain_queue(amqp_url, queue_name, 5)
    assert [mid for mid, _ in got] == [m.fire_id for m in _msgs(5, tag="again")]


async def test_a_channel_closed_under_a_publish_is_bus_unavailable_then_recovers(
    rabbit: RabbitBus,
) -> None:
    underlay = await rabbit._pub.get_underlay_channel()  # type: ignore[union-attr]
    publishing = asyncio.create_task(rabbit.publish(_msgs(CHUNK * 4, tag="c")))
    await asyncio.sleep(0)  # the first chunk is being written
    await underlay.close()
    with pytest.raises(BusUnavailable):
        await publishing

    async def publishes_again() -> bool:
        try:
            await rabbit.publish(_msgs(1, tag="after"))
        except BusUnavailable:
            return False
        return True

    await eventually(publishes_again, within=20, every=0.5)
