"""The RabbitMQ bus on aio-pika.

Topology: ``N`` durable quorum queues (``app.bus.queues``: each fire goes to one by its id;
``x-delivery-limit``, all dead-lettering to ``<queue>.dlq``), persistent messages published
through the default exchange with publisher confirms,
``mandatory`` and ``on_return_raises`` (an unroutable message is an error, not a silent
drop). Consumers ack manually after the handler returns (the acks of one loop turn in one write:
``app.bus.amqp_acks``); prefetch bounds what is in flight. The consumer sits on the aiormq
channel under aio-pika's robust channel (aio-pika's per-message ``IncomingMessage`` and its
extra task cost ~5 % of an invoker's CPU) and is started again after each reconnect. An
invoker consumes from every one of the ``N`` queues and from queues a larger ``N`` left
behind (found by a passive declare at start), each consumer with a share of the prefetch.

The URL may name several brokers of a cluster, comma separated
(``amqp://u:p@host1:5672,host2:5672,host3/vhost``): the connection tries them in turn, at
start and on every reconnect, so publishers and consumers move to a live node by themselves.

aio-pika's ``message.process()`` rejects without requeue when its task is cancelled, so it is
not used: every outcome here is an explicit ack, nack-with-requeue or reject.

The batched publish, the batched acks and the consumers on the aiormq channel are fast paths
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
from aio_pika.abc import AbstractRobustConnection
from pamqp.commands import Basic

from app.bus import queues as q
from app.bus.amqp_deliveries import Deliveries
from app.bus.amqp_fence import use_fast_path
from app.bus.amqp_public import in_chunks, publish_public
from app.bus.base import Handler
from app.bus.brokers import connect
from app.bus.message import FireMessage
from app.errors import BusUnavailable

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
        queues: int = 1,
        delivery_limit: int = 20,
        publish_timeout: float = 10.0,
        fast_path: bool | None = None,
    ) -> None:
        """``fast_path``: None = where ``app.bus.amqp_fence`` allows (the default), False =
        aio-pika's public API only, True = the fast paths where the releases are tested."""
        self._url = url
        self._queue_name = queue
        self._count = queues
        self.queue_names = q.queue_names(queue, queues)
        self._delivery_limit = delivery_limit
        self._publish_timeout = publish_timeout
        self._conn: AbstractRobustConnection | None = None
        self._pub: Any = None
        self._sub: Any = None
        self._consumed: list[str] = []
        self._tags: list[str] = []
        self._tag_channel: Any = None
        self._consuming = False
        self._gate = asyncio.Semaphore(CHUNKS_IN_FLIGHT)
        self.fast_path = use_fast_path(fast_path)
        self._publish: Any = publish_public
        acks = None
        if self.fast_path:  # imported only here: they touch aiormq's and pamqp's internals
            from app.bus.amqp_acks import AckBatch
            from app.bus.amqp_batch import publish_chunk

            self._publish, acks = publish_chunk, AckBatch()
        self._deliveries = Deliveries(_DRIVER_ERRORS, acks)
        self._public_consumers: list[tuple[Any, str]] = []  # (aio-pika queue, tag)

    @property
    def dlq_name(self) -> str:
        return q.dead_letter_name(self._queue_name)

    async def start(self) -> None:
        try:
            self._conn = await connect(self._url)
            self._pub = await self._conn.channel(publisher_confirms=True, on_return_raises=True)
            await self._declare(self._pub)
        except _DRIVER_ERRORS as e:
            raise BusUnavailable(f"cannot reach RabbitMQ: {e!r}") from e

    async def _declare(self, channel: Any) -> None:
        await channel.declare_queue(
            self.dlq_name, durable=True, arguments={"x-queue-type": "quorum"}
        )
        for name in self.queue_names:
            await channel.declare_queue(
                name,
                durable=True,
                arguments={
                    "x-queue-type": "quorum",
                    "x-delivery-limit": self._delivery_limit,
                    "x-dead-letter-exchange": "",
                    "x-dead-letter-routing-key": self.dlq_name,
                },
            )

    async def leftovers(self) -> dict[str, int]:
        """Queues past this bus's ``N`` that still exist (a larger ``N`` left them), in
        order up to the first one missing, with the messages ready in each. Each probe is a
        passive declare on a channel of its own (a missing queue closes the channel)."""
        if self._conn is None:
            raise BusUnavailable("bus not started")
        found: dict[str, int] = {}
        for name in q.leftover_names(self._queue_name, self._count):
            robust = await self._conn.channel(publisher_confirms=False)
            try:
                channel = await robust.get_underlay_channel()
                ok = await channel.queue_declare(name, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                break
            finally:
                with contextlib.suppress(*_DRIVER_ERRORS):
                    await robust.close()
            found[name] = int(ok.message_count or 0)
        return found

    async def publish(self, messages: Sequence[FireMessage]) -> None:
        if not messages:
            return
        if self._pub is None:
            raise BusUnavailable("bus not started")
        groups = q.split([m.fire_id for m in messages], self._count)
        try:
            # fast: aiormq's channel under aio-pika's robust one, one write per chunk
            # (app/bus/amqp_batch.py); else aio-pika's. Same confirms, same mandatory returns.
            channel = await self._pub.get_underlay_channel() if self.fast_path else self._pub
            parts = await asyncio.gather(
                *(
                    in_chunks(
                        [(messages[p].fire_id, messages[p].encode()) for p in positions],
                        partial(self._publish, channel, self.queue_names[index]),
                        gate=self._gate,
                        chunk_timeout=self._publish_timeout,
                    )
                    for index, positions in groups.items()
                )
            )
        except _PUBLISH_ERRORS as e:
            raise BusUnavailable(f"publish failed: {e!r}") from e
        results: list[Any] = [None] * len(messages)
        for positions, part in zip(groups.values(), parts, strict=True):
            for p, result in zip(positions, part, strict=True):
                results[p] = result
        for m, result in zip(messages, results, strict=True):
            if isinstance(result, BaseException):
                raise BusUnavailable(f"publish of {m.fire_id} failed: {result!r}") from result
            if not isinstance(result, Basic.Ack):
                raise BusUnavailable(f"broker did not confirm {m.fire_id}: {result!r}")

    async def consume(self, handler: Handler, *, prefetch: int) -> None:
        if self._conn is None:
            raise BusUnavailable("bus not started")
        self._deliveries.handler = handler
        try:
            # a leftover is consumed while it holds work; an empty one is left to `prune`
            waiting = [n for n, ready in (await self.leftovers()).items() if ready]
            self._consumed = self.queue_names + waiting
            if len(self._consumed) > self._count:
                extra = self._consumed[self._count :]
                log.info("also draining queues left by a larger N: %s", extra)
            self._sub = await self._conn.channel(publisher_confirms=False)
            await self._sub.set_qos(
                prefetch_count=q.per_consumer_prefetch(prefetch, len(self._consumed))
            )
            await self._declare(self._sub)
            if not self.fast_path:  # aio-pika's robust queues restore their consumers
                for name in self._consumed:
                    queue = await self._sub.declare_queue(name, passive=True)
                    tag = await queue.consume(self._deliveries.on_message, no_ack=False)
                    self._public_consumers.append((queue, tag))
                return
            # aio-pika restores the channel and its QoS after a reconnect; the consumers
            # are ours (on the aiormq channel), so they are started again here.
            self._sub.reopen_callbacks.add(self._resubscribe)
            self._consuming = True
            await self._subscribe()
        except _DRIVER_ERRORS as e:
            raise BusUnavailable(f"cannot consume: {e!r}") from e

    async def _subscribe(self) -> None:
        """Consume on the aiormq channel under aio-pika's robust one: each delivery goes
        straight to a task of ours, without aio-pika's per-message wrapper and its task."""
        channel = await self._sub.get_underlay_channel()
        tags = []
        for name in self._consumed:
            ok = await channel.basic_consume(name, self._deliveries.on_delivery, no_ack=False)
            tags.append(ok.consumer_tag)
        self._tags, self._tag_channel = tags, channel

    async def _resubscribe(self, *_: Any) -> None:
        if not self._consuming:  # draining or closed: stay unsubscribed
            return
        try:
            await self._subscribe()
        except _DRIVER_ERRORS as e:
            log.warning("could not consume again after reconnecting: %r", e)

    async def drain(self, grace_seconds: float) -> int:
        tags, channel, self._tags, self._consuming = self._tags, self._tag_channel, [], False
        if channel is not None and not channel.is_closed:
            for tag in tags:
                with contextlib.suppress(*_DRIVER_ERRORS):
                    await channel.basic_cancel(tag)
        consumers, self._public_consumers = self._public_consumers, []
        for queue, tag in consumers:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await queue.cancel(tag)
        return await self._deliveries.drain(grace_seconds)

    async def depth(self) -> int:
        """Messages ready across this bus's ``N`` queues."""
        return sum((await self.depths()).values())

    async def depths(self) -> dict[str, int]:
        """Messages ready per queue: the ``N`` queues and the leftovers of a larger ``N``."""
        if self._pub is None:
            raise BusUnavailable("bus not started")
        out: dict[str, int] = {}
        try:
            # on the aiormq channel: aio-pika's robust channel answers a declare of a queue
            # it declared before from its cache, with the count of that first declare
            channel = await self._pub.get_underlay_channel()
            for name in self.queue_names + list(await self.leftovers()):
                ok = await channel.queue_declare(name, passive=True)
                out[name] = int(ok.message_count or 0)
        except _DRIVER_ERRORS as e:
            raise BusUnavailable(f"cannot read queue depth: {e!r}") from e
        return out

    async def dead_letter_depth(self) -> int:
        """The dead-letter queue's message count from a passive declare on the aiormq
        channel (one round trip, the messages untouched; it follows a dead-lettering within
        a few hundred ms)."""
        if self._pub is None:
            raise BusUnavailable("bus not started")
        try:
            channel = await self._pub.get_underlay_channel()
            ok = await channel.queue_declare(self.dlq_name, passive=True)
            return int(ok.message_count or 0)
        except _DRIVER_ERRORS as e:
            raise BusUnavailable(f"cannot read the dead-letter queue: {e!r}") from e

    async def prune(self) -> list[str]:
        """Delete the queues past ``N`` left by a larger ``N``, the last first, once each
        is empty and has no consumer. Returns the names deleted; stops at the first still
        holding a message or a consumer. Quorum queues refuse the broker's own ``if_empty``
        and ``if_unused``, so this looks first: run it once no process publishes with the
        larger ``N`` (docs/scaling.md), and a publish can then no longer slip in between."""
        if self._conn is None:
            raise BusUnavailable("bus not started")
        gone: list[str] = []
        for name in reversed(list(await self.leftovers())):  # the last first: no gap
            robust = await self._conn.channel(publisher_confirms=False)
            channel = await robust.get_underlay_channel()
            try:
                ok = await channel.queue_declare(name, passive=True)
                if ok.message_count or ok.consumer_count:
                    log.info(
                        "queue %s kept: %s ready, %s consumers",
                        name,
                        ok.message_count,
                        ok.consumer_count,
                    )
                    break
                deleted = await channel.queue_delete(name)
                if deleted.message_count:
                    log.error("queue %s deleted with %s messages", name, deleted.message_count)
            finally:
                with contextlib.suppress(*_DRIVER_ERRORS):
                    await robust.close()
            gone.append(name)
        return gone

    async def purge_and_delete(self) -> None:
        """Remove every queue of this bus, leftovers included (tests)."""
        if self._pub is None:
            return
        names = list(self.queue_names)
        with contextlib.suppress(*_DRIVER_ERRORS):
            names += list(await self.leftovers())
        for name in [*names, self.dlq_name]:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._pub.queue_delete(name)

    async def aclose(self) -> None:
        await self.drain(0)
        if self._conn is not None:
            with contextlib.suppress(*_DRIVER_ERRORS):
                await self._conn.close()
        self._conn = self._pub = self._sub = None
