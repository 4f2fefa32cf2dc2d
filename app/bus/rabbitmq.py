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

The batched publish, the batched acks and the consumer on the aiormq channel are fast paths
on aiormq's internals, fenced by ``app.bus.amqp_fence``: on aiormq or pamqp releases they
were not tested against (or with ``fast_path=False``, ``CRONHOOK_AMQP_FAST_PATH=off``) the
bus publishes, consumes and settles through aio-pika's public API instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from functools import partial
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage, AbstractRobustConnection
from pamqp.commands import Basic

from app.bus.amqp_fence import use_fast_path
from app.bus.amqp_public import in_chunks, publish_public
from app.bus.base import Handler, Requeue
from app.bus.message import FireMessage
from app.errors import BusUnavailable, PoisonMessage

log = logging.getLogger("cronhook.bus")

CHUNKS_IN_FLIGHT = 4  # publish chunks (amqp_batch.CHUNK messages) awaiting confirms at once

_DRIVER_ERRORS: tuple[type[BaseException], ...] = (
    aio_pika.exceptions.AMQPError,
    aio_pika.exceptions.ChannelInvalidStateError,  # a RuntimeError: the channel closed
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
        self,
        url: str,
        queue: str,
        *,
        delivery_limit: int = 20,
        publish_timeout: float = 10.0,
        fast_path: bool | None = None,
    ) -> None:
        """``fast_path``: None = where ``app.bus.amqp_fence`` allows (the default), False =
        aio-pika's public API only, True = the fast paths where the releases are tested."""
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
        self.fast_path = use_fast_path(fast_path)
        self._acks: Any = None
        self._publish: Any = publish_public
        if self.fast_path:  # imported only here: they touch aiormq's and pamqp's internals
            from app.bus.amqp_acks import AckBatch
            from app.bus.amqp_batch import publish_chunk

            self._acks = AckBatch()
            self._publish = publish_chunk

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
            # fast: aiormq's channel under aio-pika's robust one, one write per batch
            # (app/bus/amqp_batch.py); else aio-pika's. Same confirms, same mandatory returns.
            channel = await self._pub.get_underlay_channel() if self.fast_path else self._pub
            results = await in_chunks(
                [(m.fire_id, m.encode()) for m in messages],
                partial(self._publish, channel, self._queue_name),
                gate=self._gate,
                chunk_timeout=self._publish_timeout,
            )
        except _PUBLISH_ERRORS as e:
            raise BusUnavailable(f"publish failed: {e!r}") from e
        for m, result in zip(messages, results, strict=True):
            if isinstance(result, BaseException):
                raise BusUnavailable(f"publish of {m.fire_id} failed: {result!r}") from result
            if not isinstance(result, Basic.Ack):
                raise BusUnavailable(f"broker did not confirm {m.fire_id}: {result!r}")

    async def consume(self, handler: Handler, *, prefetch: int) -> None:
        if self._conn is None:
            raise BusUnavailable("bus not started")
        self._handler = handler
        try:
            self._sub = await self._conn.channel(publisher_confirms=False)
            await self._sub.set_qos(prefetch_count=prefetch)
            self._queue = await self._declare(self._sub)
            if not self.fast_path:  # aio-pika's robust queue restores its consumer itself
                self._tag = await self._queue.consume(self._on_message, no_ack=False)
                return
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

    async def _on_delivery(self, message: Any) -> None:
        """The fast path's consumer callback (an aiormq ``DeliveredMessage``)."""
        # a task of our own: aiormq runs this callback in a task of the channel's, which is
        # cancelled when the channel closes, and a delivery must not stop half-way for that
        self._start(self._run_fast(message))

    async def _on_message(self, message: AbstractIncomingMessage) -> None:
        """The public path's consumer callback."""
        self._start(self._run_public(message))

    def _start(self, run: Any) -> None:
        task = asyncio.create_task(run)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _run_fast(self, message: Any) -> None:
        channel, tag = message.channel, message.delivery.delivery_tag
        try:
            outcome = await self._outcome(message.body, message.header.properties.message_id)
        except asyncio.CancelledError:
            await _settle(channel.basic_nack(tag, requeue=True))
            raise
        if outcome == "ack":
            await _settle(self._acks.ack(channel, tag))
        else:
            await _settle(channel.basic_nack(tag, requeue=True) if outcome == "requeue"
                          else channel.basic_reject(tag, requeue=False))  # fmt: skip

    async def _run_public(self, message: AbstractIncomingMessage) -> None:
        try:
            outcome = await self._outcome(message.body, message.message_id)
        except asyncio.CancelledError:
            await _settle(message.nack(requeue=True))
            raise
        if outcome == "ack":
            await _settle(message.ack())
        else:
            await _settle(message.nack(requeue=True) if outcome == "requeue"
                          else message.reject(requeue=False))  # fmt: skip

    async def _outcome(self, body: bytes, message_id: str | None) -> str:
        """Run the handler: ``ack``, ``requeue`` (it failed) or ``reject`` (a poison
        message, dead-lettered). A cancellation propagates (the caller requeues)."""
        assert self._handler is not None
        try:
            await self._handler(body)
        except PoisonMessage as e:
            log.warning("dead-lettering poison message %s: %s", message_id, e)
            return "reject"
        except Exception as e:
            if not isinstance(e, Requeue):
                log.exception("handler failed on %s; requeueing", message_id)
            return "requeue"
        return "ack"

    async def drain(self, grace_seconds: float) -> int:
        tag, channel, self._tag = self._tag, self._tag_channel, None
        if tag is not None and channel is not None and not channel.is_closed:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await channel.basic_cancel(tag)
        elif tag is not None and not self.fast_path and self._queue is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._queue.cancel(tag)
        if not self._inflight:
            return 0
        _done, pending = await asyncio.wait(set(self._inflight), timeout=grace_seconds)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
        return len(pending)

    async def depth(self) -> int:
        if self._pub is None:
            raise BusUnavailable("bus not started")
        try:
            q = await self._pub.declare_queue(self._queue_name, passive=True)
            return int(q.declaration_result.message_count or 0)
        except _DRIVER_ERRORS as e:
            raise BusUnavailable(f"cannot read queue depth: {e!r}") from e

    async def dead_letter_depth(self) -> int:
        """Counted by fetching and returning every message: a dead-lettered message in a
        quorum queue is not reflected in the declare-ok count here (RabbitMQ 3.10)."""
        if self._conn is None:
            raise BusUnavailable("bus not started")
        channel = await self._conn.channel(publisher_confirms=False)
        try:
            q = await channel.declare_queue(self.dlq_name, passive=True)
            held = []
            while (m := await q.get(no_ack=False, fail=False)) is not None:
                held.append(m)
            for m in held:
                await m.nack(requeue=True)
            return len(held)
        except _DRIVER_ERRORS as e:
            raise BusUnavailable(f"cannot read the dead-letter queue: {e!r}") from e
        finally:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await channel.close()

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


async def _settle(op: Any) -> None:
    """Ack/nack/reject; a closed channel means RabbitMQ redelivers anyway."""
    try:
        await op
    except _DRIVER_ERRORS as e:
        log.warning("could not settle message (broker will redeliver): %r", e)
