"""The acks of one loop turn in one write (app/bus/amqp_acks.py): on a stub channel, what is
written; on the real RabbitMQ, that every ack lands (a consumer whose acks were lost would
stall at its prefetch)."""

from __future__ import annotations

import asyncio
from typing import Any

import pamqp.frame
import pytest
from aiormq.abc import ChannelFrame
from aiormq.exceptions import ChannelInvalidStateError
from pamqp import commands as spec

from app.bus.amqp_acks import AckBatch
from app.bus.base import Requeue
from app.bus.message import FireMessage
from app.bus.rabbitmq import RabbitBus
from app.errors import BusUnavailable
from tests.conftest import eventually, started_rabbit


class StubChannel:
    """The aiormq channel attributes AckBatch uses; a writer that drains every frame."""

    def __init__(self, number: int = 1) -> None:
        self.number = number
        self.is_closed = False
        self.write_queue: asyncio.Queue[ChannelFrame] = asyncio.Queue()
        self.written: list[list[Any]] = []
        self._writer = asyncio.create_task(self._write())

    def create_future(self) -> asyncio.Future[Any]:
        return asyncio.get_running_loop().create_future()

    async def _write(self) -> None:
        while True:
            frame = await self.write_queue.get()
            self.written.append(_frames(frame.payload))
            frame.drain()


def _frames(payload: bytes) -> list[Any]:
    out = []
    while payload:
        used, _channel, frame = pamqp.frame.unmarshal(payload)
        out.append(frame)
        payload = payload[used:]
    return out


async def test_the_acks_of_one_turn_go_out_in_one_write_one_frame_per_tag() -> None:
    channel, acks = StubChannel(), AckBatch()
    # when ten handlers ack in the same loop turn
    await asyncio.gather(*(acks.ack(channel, tag) for tag in range(1, 11)))
    # then one write carries ten single acks, none of them 'multiple'
    assert len(channel.written) == 1
    frames = channel.written[0]
    assert [f.delivery_tag for f in frames] == list(range(1, 11))
    assert all(isinstance(f, spec.Basic.Ack) and not f.multiple for f in frames)
    # and acks of a later turn make a write of their own
    await acks.ack(channel, 11)
    assert [f.delivery_tag for f in channel.written[1]] == [11]


async def test_acks_on_two_channels_go_to_their_own_channel() -> None:
    a, b, acks = StubChannel(1), StubChannel(2), AckBatch()
    await asyncio.gather(acks.ack(a, 1), acks.ack(b, 1), acks.ack(a, 2))
    assert [[f.delivery_tag for f in w] for w in a.written] == [[1, 2]]
    assert [[f.delivery_tag for f in w] for w in b.written] == [[1]]


async def test_an_ack_on_a_closed_channel_fails_like_basic_ack() -> None:
    channel, acks = StubChannel(), AckBatch()
    channel.is_closed = True
    with pytest.raises(ChannelInvalidStateError):
        await acks.ack(channel, 1)
    assert channel.written == []


async def test_a_cancelled_caller_does_not_cancel_the_others_acks() -> None:
    channel, acks = StubChannel(), AckBatch()
    first = asyncio.ensure_future(acks.ack(channel, 1))
    second = asyncio.ensure_future(acks.ack(channel, 2))
    await asyncio.sleep(0)
    first.cancel()
    await second
    assert [f.delivery_tag for f in channel.written[0]] == [1, 2]


@pytest.mark.external_service
async def test_every_ack_lands_with_requeues_in_the_same_turns(rabbit: RabbitBus) -> None:
    # given 60 messages and a consumer allowed 6 unacked at a time, whose handlers finish
    # in groups (together), every fifth asking for a requeue on its first delivery
    seen: list[str] = []
    gate = asyncio.Event()

    async def handler(body: bytes) -> None:
        fire_id = FireMessage.decode(body).fire_id
        first = fire_id not in seen
        seen.append(fire_id)
        if len(seen) % 6 == 0:
            gate.set()
        await gate.wait()
        await asyncio.sleep(0)
        gate.clear()
        if first and int(fire_id.rsplit("_", 1)[1]) % 5 == 0:
            raise Requeue

    await rabbit.publish([FireMessage(f"fire_{i}", "ten_t", 1, 1000 + i) for i in range(60)])
    await rabbit.consume(handler, prefetch=6)
    # then every message is handled (a lost ack would hold a prefetch slot for good and
    # stall the consumer), the requeued ones twice
    releaser = asyncio.create_task(_keep_releasing(gate))
    try:
        await eventually(lambda: len(set(seen)) == 60 and len(seen) == 72, within=20)
    finally:
        releaser.cancel()


async def _keep_releasing(gate: asyncio.Event) -> None:
    """Release a short last group too (fewer than six in flight at the end)."""
    while True:
        await asyncio.sleep(0.05)
        gate.set()


async def _close_broker_side(connection_name: str) -> int:
    """Close every broker connection named ``connection_name`` (rabbitmqctl); how many."""
    listing = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", "list_connections", "pid", "client_properties",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    out, _ = await asyncio.wait_for(listing.communicate(), 60)
    pids = [line.split("\t", 1)[0] for line in out.decode().splitlines() if connection_name in line]
    for pid in pids:
        closing = await asyncio.create_subprocess_exec(
            "rabbitmqctl", "close_connection", pid, "test: broker-side close",
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        await asyncio.wait_for(closing.wait(), 60)
    return len(pids)


@pytest.mark.external_service
@pytest.mark.parametrize("fast_path", [None, False], ids=["fast", "public"])
async def test_the_consumer_resumes_after_the_broker_closes_its_connection(
    amqp_url: str, queue_name: str, fast_path: bool | None
) -> None:
    # given a consumer whose connection has a name of its own
    name = f"cronhook-test-{queue_name}"
    seen: list[str] = []

    async def handler(body: bytes) -> None:
        seen.append(FireMessage.decode(body).fire_id)

    async with started_rabbit(f"{amqp_url}?name={name}", queue_name, fast_path=fast_path) as bus:
        await bus.consume(handler, prefetch=8)
        await bus.publish([FireMessage(f"fire_{i}", "t", 1, 1000 + i) for i in range(20)])
        await eventually(lambda: len(set(seen)) == 20, within=20)
        # when the broker closes that connection (aio-pika reconnects and reopens channels)
        assert await _close_broker_side(name) == 1

        # then messages published afterwards reach the handler again, on the new channel
        async def published() -> bool:
            try:
                await bus.publish(
                    [FireMessage(f"fire_{i}", "t", 1, 1000 + i) for i in range(20, 40)]
                )
            except BusUnavailable:
                return False
            return True

        await eventually(published, within=30, every=0.5)
        await eventually(lambda: {f"fire_{i}" for i in range(40)} <= set(seen), within=30)
