"""A consumer's deliveries: each handled in a task of its own, then settled (ack, requeue or
reject), on either path of ``app.bus.rabbitmq``.

The fast path receives aiormq's ``DeliveredMessage`` on the channel under aio-pika's robust
one and acks through ``AckBatch`` (one write per loop turn); the public path receives
aio-pika's ``IncomingMessage`` and settles through it. aio-pika's ``message.process()``
rejects without requeue when its task is cancelled, so it is not used: every outcome is an
explicit ack, nack-with-requeue or reject.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Coroutine
from typing import Any, Literal

from aio_pika.abc import AbstractIncomingMessage

from app.bus.base import Handler, Requeue
from app.errors import PoisonMessage

log = logging.getLogger("cronhook.bus")

Outcome = Literal["ack", "requeue", "reject"]


class Deliveries:
    """The deliveries in flight, and how each one ends."""

    def __init__(self, errors: tuple[type[BaseException], ...], acks: Any = None) -> None:
        """``errors``: the driver errors a settle may meet (the broker redelivers then);
        ``acks``: the fast path's ``AckBatch``."""
        self.handler: Handler | None = None
        self.inflight: set[asyncio.Task[None]] = set()
        self._errors = errors
        self._acks = acks

    async def on_delivery(self, message: Any) -> None:
        """The fast path's consumer callback (an aiormq ``DeliveredMessage``)."""
        # a task of our own: aiormq runs this callback in a task of the channel's, which is
        # cancelled when the channel closes, and a delivery must not stop half-way for that
        self._start(self._run_fast(message))

    async def on_message(self, message: AbstractIncomingMessage) -> None:
        """The public path's consumer callback."""
        self._start(self._run_public(message))

    def _start(self, run: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(run)
        self.inflight.add(task)
        task.add_done_callback(self.inflight.discard)

    async def _run_fast(self, message: Any) -> None:
        channel, tag = message.channel, message.delivery.delivery_tag
        try:
            outcome = await self._outcome(message.body, message.header.properties.message_id)
        except asyncio.CancelledError:
            await self._settle(channel.basic_nack(tag, requeue=True))
            raise
        if outcome == "ack":
            await self._settle(self._acks.ack(channel, tag))
        elif outcome == "requeue":
            await self._settle(channel.basic_nack(tag, requeue=True))
        else:
            await self._settle(channel.basic_reject(tag, requeue=False))

    async def _run_public(self, message: AbstractIncomingMessage) -> None:
        try:
            outcome = await self._outcome(message.body, message.message_id)
        except asyncio.CancelledError:
            await self._settle(message.nack(requeue=True))
            raise
        if outcome == "ack":
            await self._settle(message.ack())
        elif outcome == "requeue":
            await self._settle(message.nack(requeue=True))
        else:
            await self._settle(message.reject(requeue=False))

    async def _outcome(self, body: bytes, message_id: str | None) -> Outcome:
        """Run the handler: ``ack``, ``requeue`` (it failed) or ``reject`` (a poison
        message, dead-lettered). A cancellation propagates (the caller requeues)."""
        assert self.handler is not None
        try:
            await self.handler(body)
        except PoisonMessage as e:
            log.warning("dead-lettering poison message %s: %s", message_id, e)
            return "reject"
        except Exception as e:
            if not isinstance(e, Requeue):
                log.exception("handler failed on %s; requeueing", message_id)
            return "requeue"
        return "ack"

    async def _settle(self, op: Awaitable[Any]) -> None:
        """Ack/nack/reject; a closed channel means RabbitMQ redelivers anyway."""
        try:
            await op
        except self._errors as e:
            log.warning("could not settle message (broker will redeliver): %r", e)

    async def drain(self, grace_seconds: float) -> int:
        """Wait up to ``grace_seconds`` for the deliveries in flight, then cancel the rest
        (they requeue); returns how many were cancelled."""
        if not self.inflight:
            return 0
        _done, pending = await asyncio.wait(set(self.inflight), timeout=grace_seconds)
        for t in pending:
            t.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
        return len(pending)
