"""A RabbitMQ cluster of three nodes (tests/cluster/rabbit_nodes.py) with the fires spread
over three quorum queues replicated on all three: the node that leads every queue and
serves a publisher and a consumer is SIGKILLed mid-burst and started again. Every fire is
delivered, each under its one id; the publisher and the consumers move to live nodes by
themselves (the AMQP URL lists the three)."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import pytest

from app.bus.base import Handler
from app.bus.message import FireMessage
from app.bus.rabbitmq import RabbitBus
from app.errors import BusUnavailable
from tests.cluster.rabbit_nodes import rabbit_cluster
from tests.conftest import eventually

pytestmark = pytest.mark.external_service

FIRES = 3_000
BATCH = 50
PACE_S = 0.1  # between batches: the burst lasts ~6 s, so the kill lands inside it


async def _publish_all(bus: RabbitBus, fires: list[FireMessage], published: list[int]) -> int:
    """Publish in batches as a dispatcher does: a batch not confirmed is published again
    (at-least-once). Returns how many batches had to be sent again."""
    retried = 0
    for start in range(0, len(fires), BATCH):
        batch = fires[start : start + BATCH]
        while True:
            try:
                await bus.publish(batch)
                break
            except BusUnavailable:
                retried += 1
                await asyncio.sleep(0.2)
        published.append(len(batch))
        await asyncio.sleep(PACE_S)
    return retried


async def test_a_killed_node_loses_no_fire_and_clients_fail_over() -> None:
    async with rabbit_cluster() as cluster:
        queue = "cronhook.cluster.fires"
        # given a publisher and a consumer on node 1 (which leads the three queues it
        # declares), a consumer on node 2, and a burst of 3,000 fires
        publisher = RabbitBus(cluster.url_from(0), queue, queues=3)
        consumers = [RabbitBus(cluster.url_from(i), queue, queues=3) for i in (0, 1)]
        await publisher.start()
        for c in consumers:
            await c.start()
        got: Counter[str] = Counter()
        by_consumer: list[list[float]] = [[], []]

        def handler_of(n: int) -> Handler:
            async def handler(body: bytes) -> None:
                got[FireMessage.decode(body).fire_id] += 1
                by_consumer[n].append(time.monotonic())

            return handler

        for n, c in enumerate(consumers):
            await c.consume(handler_of(n), prefetch=32)
        fires = [FireMessage(f"fire_{i}", f"ten_{i % 10}", 1, 1_000 + i) for i in range(FIRES)]
        published: list[int] = []
        try:
            burst = asyncio.create_task(_publish_all(publisher, fires, published))
            # when node 1 is SIGKILLed a third of the way through the burst, and restarted
            await eventually(lambda: sum(published) >= FIRES // 3, within=60)
            cluster.nodes[0].kill()
            killed_at, at_kill = time.monotonic(), (sum(published), len(got))
            await asyncio.sleep(3)
            cluster.nodes[0].start()
            retried = await asyncio.wait_for(burst, 120)
            # then every fire arrives, each under its own id (a redelivery repeats an id)
            await eventually(lambda: len(got) == FIRES, within=120)
            done_s = time.monotonic() - killed_at
            await cluster.nodes[0].ready()
        finally:
            for b in [*consumers, publisher]:
                await b.aclose()
        assert set(got) == {f.fire_id for f in fires}
        # and both consumers, the one whose node died too, took deliveries after the kill
        assert all(any(t > killed_at for t in times) for times in by_consumer)
        again = sum(n - 1 for n in got.values())
        print(
            f"\n{FIRES} fires; node 1 killed with {at_kill[0]} published, {at_kill[1]} "
            f"delivered; {retried} batch publishes failed and were sent again; {again} "
            f"deliveries repeated an id; all delivered {done_s:.1f} s after the kill"
        )
