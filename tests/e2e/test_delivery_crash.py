"""Crash safety of delivery, with invokers and dispatchers as separate OS processes on the
real Redis and RabbitMQ: SIGKILL mid-delivery, SIGTERM draining, poison messages, copies of
one fire racing through several invokers."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator

import aio_pika
import pytest

from app.bus.message import FireMessage
from tests.delivery.world import now_ms
from tests.e2e.plant import Plant, duplicates, plant, wait_exit
from tests.receiver import Receiver

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]


@pytest.fixture
async def p(redis_url: str, amqp_url: str, prefix: str, queue_name: str) -> AsyncIterator[Plant]:
    async with plant(redis_url, amqp_url, prefix, queue_name) as running:
        yield running


@pytest.fixture
async def rx() -> AsyncIterator[Receiver]:
    async with Receiver() as receiver:
        yield receiver


async def test_an_invoker_killed_mid_delivery_loses_nothing(p: Plant, rx: Receiver) -> None:
    # given an invoker in the middle of a delivery (the endpoint takes 1.5 s)
    victim = await p.invoker()
    await p.dispatcher()
    tenant = await p.w.tenant()
    fire = await p.w.message(tenant, rx.url("/slow/1.5"), deadline=2)
    await rx.wait_for(1, path="/slow/1.5", within=10)
    # when it is killed with SIGKILL and another invoker takes over
    victim.kill(signal.SIGKILL)
    await p.invoker()
    # then the message is redelivered: the endpoint sees the same webhook-id again
    hits = await rx.wait_for(2, path="/slow/1.5", within=20)
    assert [h.headers["webhook-id"] for h in hits] == [fire.id, fire.id]
    assert [h.headers["cronhook-attempt"] for h in hits] == ["1", "1"]
    [done] = await p.w.settled(tenant.id, [fire.id], within=20)
    # and the record holds the one attempt that finished
    assert done.status == "succeeded"
    assert [(a.number, a.status_code) for a in done.attempts] == [(1, 200)]


async def test_sigterm_lets_the_attempt_in_flight_finish(p: Plant, rx: Receiver) -> None:
    inv = await p.invoker(CRONHOOK_SHUTDOWN_SECONDS="5")
    await p.dispatcher()
    tenant = await p.w.tenant()
    fire = await p.w.message(tenant, rx.url("/slow/1.5"), deadline=3)
    [hit] = await rx.wait_for(1, path="/slow/1.5", within=10)
    # when the invoker is asked to stop mid-delivery
    inv.kill(signal.SIGTERM)
    code = await wait_exit(inv, within=10)
    exited = time.monotonic()
    # then it finished and recorded the attempt before exiting, cleanly
    assert code == 0, inv.output()[-2000:]
    assert exited - hit.arrived_monotonic >= 1.5
    done = await p.w.fire(tenant.id, fire.id)
    assert done.status == "succeeded" and len(done.attempts) == 1
    await asyncio.sleep(0.5)
    assert len(rx.requests_to("/slow/1.5")) == 1


async def test_sigterm_past_the_grace_requeues_the_attempt_at_once(p: Plant, rx: Receiver) -> None:
    # given an invoker with a 1 s grace, mid-way through a 4 s delivery (deadline 10 s),
    # and a second invoker waiting
    first = await p.invoker(CRONHOOK_SHUTDOWN_SECONDS="1")
    await p.dispatcher()
    tenant = await p.w.tenant()
    fire = await p.w.message(tenant, rx.url("/slow/4"), deadline=10)
    await rx.wait_for(1, path="/slow/4", within=10)
    await p.invoker()
    # when the first is stopped
    stopped = time.monotonic()
    first.kill(signal.SIGTERM)
    assert await wait_exit(first, within=10) == 0, first.output()[-2000:]
    # then its attempt was abandoned and requeued, not rejected: the second invoker sends
    # it again at once, not after the 13 s in-flight marker
    hits = await rx.wait_for(2, path="/slow/4", within=10)
    assert hits[1].headers["webhook-id"] == fire.id
    assert hits[1].arrived_monotonic - stopped < 5
    [done] = await p.w.settled(tenant.id, [fire.id], within=15)
    assert done.status == "succeeded" and [a.number for a in done.attempts] == [1]


async def test_a_poison_message_is_dead_lettered_and_the_invoker_carries_on(
    p: Plant, rx: Receiver, amqp_url: str
) -> None:
    inv = await p.invoker()
    await p.dispatcher()
    tenant = await p.w.tenant()
    # given garbage on the queue, ahead of a real fire
    conn = await aio_pika.connect(amqp_url)
    async with conn:
        ch = await conn.channel()
        for body in (b"\x00not json", b'{"v": 99}', b'{"v": 1, "fire_id": 7}'):
            await ch.default_exchange.publish(
                aio_pika.Message(body), routing_key=p.w.settings.queue
            )
    fire = await p.w.message(tenant, rx.url("/ok"))
    # then the fire is delivered, the garbage is in the dead-letter queue, the invoker lives
    await p.w.settled(tenant.id, [fire.id])
    for _ in range(50):
        if await p.w.bus.dead_letter_depth() == 3:
            break
        await asyncio.sleep(0.1)
    assert await p.w.bus.dead_letter_depth() == 3
    assert inv.popen.poll() is None
    assert "poison" in inv.output()


async def test_copies_of_a_fire_racing_through_three_invokers_make_one_attempt(
    p: Plant, rx: Receiver
) -> None:
    # given three invoker processes, and ten copies of each of twenty fires at once
    for _ in range(3):
        await p.invoker()
    tenant = await p.w.tenant()
    later = now_ms() + 600_000  # not through the time index: only the copies exist
    fires = [await p.w.message(tenant, rx.url("/slow/0.2"), due_ms=later) for _ in range(20)]
    await p.w.bus.publish(
        [FireMessage(f.id, tenant.id, 1, f.scheduled_at) for _ in range(10) for f in fires]
    )
    done = await p.w.settled(tenant.id, [f.id for f in fires], within=30)
    await asyncio.sleep(0.5)
    # then each fire reached the endpoint exactly once, and one attempt is on record
    hits = rx.requests_to("/slow/0.2")
    assert duplicates(hits) == {}
    assert {h.headers["webhook-id"] for h in hits} == {f.id for f in fires}
    assert [len(f.attempts) for f in done] == [1] * 20
