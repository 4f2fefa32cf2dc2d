"""The RabbitMQ bus on aio-pika.

Topology: a durable quorum queue (``x-delivery-limit``, dead-lettering to ``<queue>.dlq``),
persistent messages published through the default exchange with publisher confirms,
``mandatory`` and ``on_return_raises`` (an unroutable message is an error, not a silent
drop). Consumers ack manually after the handler returns (the acks of one loop turn in one write:
``app.bus.amqp_acks``); prefetch bounds what is in flight. The consumer sits on the aiormq
channel under aio-pika's robust channel (aio-pika's per-message ``IncomingMessage`` and its
extra task cost ~5 % of an invoker's CPU) and is started again after each reconnect.

aio-pika's ``message.process()`` rejects without requeue when its task is cancelled, so it is
not used: every outcome here is an explicit ack, nack-with-requeue or reject.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Any

import aio_pika
import aiormq
from aio_pika.abc import AbstractRobustConnection
from aiormq.abc import DeliveredMessage
from pamqp import commands as spec

from app.bus.amqp_acks import AckBatch
from app.bus.amqp_batch import publish_batch
from app.bus.base import Handler, Requeue
from app.bus.message import FireMessage
from app.errors import BusUnavailable, PoisonMessage

log = logging.getLogger("cronhook.bus")

CHUNKS_IN_FLIGHT = 4  # publish chunks (amqp_batch.CHUNK messages) awaiting confirms at once

_DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    aiormq.exceptions.AMQPError,
    aiormq.exceptions.ChannelInvalidStateError,  # a RuntimeError: the channel closed
    aio_pika.exceptions.AMQPException,
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)

_PUBLISH_ERRORS: tuple[type[BaseException], ...] = (
    *_DRIVER_ERRORS,
    aio_pika.exceptions.DeliveryError,
)


class RabbitBus:
    def __init__(
        self, url: str, queue: str, *, delivery_limit: int = 20, publish_timeout: float = 10.0
    ) -> None:
        self._url = url
        self._queue_name = queue
        self._delivery_limit = delivery_limit
        self._publish_timeout = publish_timeout
        self._conn: AbstractRobustConnection | None = None
        self._pub: Any = None
        self._sub: Any = None
        self._queue: Any = None
        self._tag: str | None = None
        self._tag_channel: Any = None
        self._handler: Handler | None = None
        self._inflight: set[asyncio.Task[None]] = set()
        self._gate = asyncio.Semaphore(CHUNKS_IN_FLIGHT)
        self._acks = AckBatch()

    @property
    def dlq_name(self) -> str:
        return f"{self._queue_name}.dlq"

    async def start(self) -> None:
        try:
            self._conn = await aio_pika.connect_robust(self._url, timeout=10)
            self._pub = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
            await self._declare(self._pub)
        except _DRIVER_ERRORS as e:
            raise BusUnavailable(f"cannot reach RabbitMQ: {e!r}") from e

    async def _declare(self, channel: Any) -> Any:
        await channel.declare_queue(
            self.dlq_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        return await channel.declare_queue(
            self._queue_name,
            durable=True,
            arguments={
                "x-queue-type": "quorum",
                "x-delivery-limit": self._delivery_limit,
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": self.dlq_name,
            },
        )

    async def publish(self, messages: Sequence[FireMessage]) -> None:
        if not messages:
            return
        if self._pub is None:
            raise BusUnavailable("bus not started")
        try:
            # aiormq's channel under aio-pika's robust one, one write per batch
            # (app/bus/amqp_batch.py): same confirms, same mandatory returns.
            channel = await self._pub.get_underlay_channel()
            results = await publish_batch(
                channel,
                self._queue_name,
                [(m.fire_id, m.encode()) for m in messages],
                gate=self._gate,
                chunk_timeout=self._publish_timeout,
            )
        except _PUBLISH_ERRORS as e:
            raise BusUnavailable(f"publish failed: {e!r}") from e
        for m, result in zip(messages, results, strict=True):
            if isinstance(result, BaseException):
                raise BusUnavailable(f"publish of {m.fire_id} failed: {result!r}") from result
            if not isinstance(result, aiormq.spec.Basic.Ack):
                raise BusUnavailable(f"broker did not confirm {m.fire_id}: {result!r}")

    async def consume(self, handler: Handler, *, prefetch: int) -> None:
        if self._conn is None:
            raise BusUnavailable("bus not started")
        self._handler = handler
        try:
            self._sub = await self._conn.channel(publisher_confirms=False)
            await self._sub.set_qos(prefetch_count=prefetch)
            self._queue = await self._declare(self._sub)
            # aio-pika restores the channel, its QoS and the queue after a reconnect; the
            # consumer is ours (on the aiormq channel), so it is started again here.
            self._sub.reopen_callbacks.add(self._resubscribe)
            await self._subscribe()
        except _DRIVER_ERRORS as e:
            raise BusUnavailable(f"cannot consume: {e!r}") from e

    async def _subscribe(self) -> None:
        """Consume on the aiormq channel under aio-pika's robust one: each delivery goes
        straight to a task of ours, without aio-pika's per-message wrapper and its task."""
        channel = await self._sub.get_underlay_channel()
        ok = await channel.basic_consume(self._queue_name, self._on_delivery, no_ack=False)
        self._tag = ok.consumer_tag
        self._tag_channel = channel

    async def _resubscribe(self, *_: Any) -> None:
        if self._tag is None:  # draining or closed: stay unsubscribed
            return
        try:
            await self._subscribe()
        except _DRIVER_ERRORS as e:
            log.warning("could not consume again after reconnecting: %r", e)

    async def _on_delivery(self, message: DeliveredMessage) -> None:
        # a task of our own: aiormq runs this callback in a task of the channel's, which is
        # cancelled when the channel closes, and a delivery must not stop half-way for that
        task = asyncio.create_task(self._run(message))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _run(self, message: DeliveredMessage) -> None:
        delivery = message.delivery
        assert isinstance(delivery, spec.Basic.Deliver) and self._handler is not None
        channel, tag = message.channel, delivery.delivery_tag
        assert tag is not None  # manual ack
        try:
            await self._handler(message.body)
        except PoisonMessage as e:
            log.warning("dead-lettering poison message %s: %s", _message_id(message), e)
            await _settle(channel.basic_reject(tag, requeue=False))
            return
        except asyncio.CancelledError:
            await _settle(channel.basic_nack(tag, requeue=True))
            raise
        except Exception as e:
            if not isinstance(e, Requeue):
                log.exception("handler failed on %s; requeueing", _message_id(message))
            await _settle(channel.basic_nack(tag, requeue=True))
            return
        await _settle(self._acks.ack(channel, tag))

    async def drain(self, grace_seconds: float) -> int:
        tag, channel, self._tag = self._tag, self._tag_channel, None
        if tag is not None and channel is not None and not channel.is_closed:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await channel.basic_cancel(tag)
        if not self._inflight:
            return 0
        _done, pending = await asyncio.wait(set(self._inflight), timeout=grace_seconds)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
        return len(pending)

    async def depth(self) -> int:
        return await self._count(self._queue_name)

    async def dead_letter_depth(self) -> int:
        return await self._count(self.dlq_name)

    async def _count(self, queue: str) -> int:
        """A queue's ready messages from a passive declare (one round trip, the messages
        untouched). On aiormq's channel: aio-pika's robust channel answers a passive declare
        of a queue it declared itself from its cache, with the count of that first declare."""
        if self._pub is None:
            raise BusUnavailable("bus not started")
        try:
            channel = await self._pub.get_underlay_channel()
            ok = await channel.queue_declare(queue, passive=True)
            return int(ok.message_count or 0)
        except _DRIVER_ERRORS as e:
            raise BusUnavailable(f"cannot read the depth of {queue}: {e!r}") from e

    async def purge_and_delete(self) -> None:
        """Remove both queues (tests)."""
        if self._pub is None:
            return
        for name in (self._queue_name, self.dlq_name):
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._pub.queue_delete(name)

    async def aclose(self) -> None:
        await self.drain(0)
        if self._conn is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._conn.close()
        self._conn = self._pub = self._sub = self._queue = None


def _message_id(message: DeliveredMessage) -> str | None:
    return message.header.properties.message_id


async def _settle(op: Any) -> None:
    """Ack/nack/reject; a closed channel means RabbitMQ redelivers anyway."""
    try:
        await op
    except _DRIVER_ERRORS as e:
        log.warning("could not settle message (broker will redeliver): %r", e)
