"""Acks of one turn of the event loop, written to their channel in one write.

aiormq's ``basic_ack`` marshals one frame, queues one write and waits for its drain: per
consumed message a socket write and a wake-up of the connection's writer. A consumer whose
handlers finish together (an invoker answering a burst) acks here instead: each ack waits
for the end of the loop turn, then every ack of that turn on a channel goes out as one
write of individual ``Basic.Ack`` frames (one per delivery tag, never ``multiple``: no ack
can cover a message that is still being handled or was nacked), and each caller returns
once that write has been handed to the socket, as with ``basic_ack``. A closed channel
fails the acks of its turn with ``ChannelInvalidStateError``, as ``basic_ack`` does.

It relies on aiormq's channel internals through ``app.bus.amqp_batch.queue_bytes`` (the
channel's ``write_queue``, ``number``, ``create_future``), so it runs only on the aiormq and
pamqp releases it was tested against (``app.bus.amqp_fence``; elsewhere the bus acks
through aio-pika).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pamqp.frame
from aiormq.exceptions import ChannelInvalidStateError
from pamqp import commands as spec

from app.bus.amqp_batch import queue_bytes
from app.turns import TurnEnd


class AckBatch:
    """Coalesces the acks of one loop turn per channel (see the module doc)."""

    def __init__(self) -> None:
        self._tags: dict[Any, list[int]] = {}  # channel -> delivery tags of this turn
        self._turn: dict[Any, asyncio.Future[None]] = {}  # channel -> its write, drained
        self._sending: set[asyncio.Task[None]] = set()
        self._turn_end = TurnEnd(self._flush)

    async def ack(self, channel: Any, delivery_tag: int) -> None:
        """Ack ``delivery_tag`` on ``channel`` (an aiormq channel) with the other acks of
        this loop turn; returns once the write is drained."""
        if channel.is_closed:
            raise ChannelInvalidStateError(f"{channel!r} closed")
        self._turn_end.schedule()
        tags = self._tags.get(channel)
        if tags is None:
            tags = self._tags[channel] = []
            turn = self._turn[channel] = asyncio.get_running_loop().create_future()
            turn.add_done_callback(_retrieved)
        tags.append(delivery_tag)
        await asyncio.shield(self._turn[channel])

    def _flush(self) -> None:
        batches, turns = self._tags, self._turn
        self._tags, self._turn = {}, {}
        for channel, tags in batches.items():
            task = asyncio.create_task(self._send(channel, tags, turns[channel]))
            self._sending.add(task)
            task.add_done_callback(self._sending.discard)

    @staticmethod
    async def _send(channel: Any, tags: list[int], turn: asyncio.Future[None]) -> None:
        try:
            if channel.is_closed:
                raise ChannelInvalidStateError(f"{channel!r} closed")
            payload = b"".join(
                [pamqp.frame.marshal(spec.Basic.Ack(delivery_tag=t), channel.number) for t in tags]
            )
            await (await queue_bytes(channel, payload))
        except asyncio.CancelledError:
            turn.cancel()
            raise
        except Exception as e:
            if not turn.done():
                turn.set_exception(e)
            return
        if not turn.done():
            turn.set_result(None)


def _retrieved(turn: asyncio.Future[None]) -> None:
    """Mark a failed turn's error as seen (every caller may have been cancelled)."""
    if not turn.cancelled():
        turn.exception()
