"""Work gathered during one turn of the event loop and done once at its end.

Concurrent tasks that each ask for a small write in the same turn (script calls, acks)
share one: the first request schedules the flush (``loop.call_soon``), later ones in that
turn find it scheduled. ``Scripts.call`` and ``AckBatch.ack`` gather this way.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class TurnEnd:
    """Runs ``flush`` once at the end of the current loop turn, however many times
    :meth:`schedule` is called during that turn."""

    __slots__ = ("_flush", "_scheduled")

    def __init__(self, flush: Callable[[], None]) -> None:
        self._flush = flush
        self._scheduled = False

    def schedule(self) -> None:
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._run)

    def _run(self) -> None:
        self._scheduled = False
        self._flush()
