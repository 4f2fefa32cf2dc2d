"""An in-process bus with the broker's semantics that matter: at-least-once, ack after the
handler, requeue on failure, dead letter for poison and after ``delivery_limit`` tries."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence

from app.bus.base import Handler, Requeue
from app.bus.message import FireMessage
from app.errors import PoisonMessage

log = logging.getLogger("cronhook.bus")


class MemoryBus:
    def __init__(self, *, delivery_limit: int = 20) -> None:
        self._queue: asyncio.Queue[tuple[bytes, int]] = asyncio.Queue()
        self.dead: list[bytes] = []
        self._delivery_limit = delivery_limit
        self._consumers: list[asyncio.Task[None]] = []
        self._inflight: set[asyncio.Task[None]] = set()
        self._stopping = False

    async def start(self) -> None:
        return None

    async def publish(self, messages: Sequence[FireMessage]) -> None:
        for m in messages:
            self.put_raw(m.encode())

    def put_raw(self, body: bytes) -> None:
        self._queue.put_nowait((body, 0))

    async def consume(self, handler: Handler, *, prefetch: int) -> None:
        sem = asyncio.Semaphore(prefetch)
        self._stopping = False

        async def loop() -> None:
            while not self._stopping:
                await sem.acquire()
                body, tries = await self._queue.get()
                task = asyncio.create_task(self._run(handler, body, tries))
                self._inflight.add(task)
                task.add_done_callback(self._inflight.discard)
                task.add_done_callback(lambda _t: sem.release())

        self._consumers.append(asyncio.create_task(loop()))

    async def _run(self, handler: Handler, body: bytes, tries: int) -> None:
        try:
            await handler(body)
        except PoisonMessage as e:
            log.warning("dead-lettering poison message: %s", e)
            self.dead.append(body)
        except asyncio.CancelledError:
            self._queue.put_nowait((body, tries + 1))
            raise
        except Exception as e:
            if not isinstance(e, Requeue):
                log.exception("handler failed; requeueing")
            if tries + 1 >= self._delivery_limit:
                self.dead.append(body)
            else:
                self._queue.put_nowait((body, tries + 1))

    async def drain(self, grace_seconds: float) -> int:
        self._stopping = True
        for c in self._consumers:
            c.cancel()
        for c in self._consumers:
            with contextlib.suppress(asyncio.CancelledError):
                await c
        self._consumers.clear()
        if self._inflight:
            _done, pending = await asyncio.wait(set(self._inflight), timeout=grace_seconds)
            for t in pending:
                t.cancel()
            if pending:  # let each cancelled handler requeue its message before returning
                await asyncio.wait(pending, timeout=2)
            return len(pending)
        return 0

    async def depth(self) -> int:
        return self._queue.qsize()

    async def dead_letter_depth(self) -> int:
        return len(self.dead)

    async def aclose(self) -> None:
        await self.drain(0)
