"""Growing the time index's shard count on a running deployment.

An item lives in shard ``crc32(item) % count``. Growing the count from ``F`` to ``S``
moves every item whose shard changes, while dispatchers claim and writers write, without
an item ever being in two shards (fired twice) or in none (lost):

1. The layout in Redis becomes ``{"shards": S, "from": F}``. Within ``LAYOUT_REFRESH_S``
   every process reads it: dispatchers claim all ``S`` shards; a writer writes an item in
   its old shard if it is still there, else in its new one (``TimeIndex.put``); a
   completion is tried in the new shard, then the old. The reshard waits ``settle_s``
   (several refreshes) before moving anything, so no process still writes by ``F`` alone.
2. Passes over the old shards move the misplaced items, a batch at a time, in three steps
   of one slot each: ``ti_move_out`` takes the unclaimed ones out of the old shard into
   its ``moving`` hash (a claimed item stays, and the next pass takes it once its claim
   completes); ``ti_move_in`` puts them in their new shards (unless already there);
   ``ti_move_done`` forgets them in ``moving``, unless a writer changed or removed one
   meanwhile, which is then applied in the new shard. An item in ``moving`` is due
   nowhere, so no dispatcher claims it in either shard during its move.
3. When a pass finds no misplaced item and ``moving`` is empty everywhere, the layout
   becomes ``{"shards": S}``.

A reshard that stops half-way (killed, timed out) is resumed by running it again with
the same count: items left in ``moving`` are put in their new shards first (only where
absent), then the passes continue. One reshard at a time (a lock key).
"""

from __future__ import annotations

import asyncio
import secrets
import time
from dataclasses import dataclass
from typing import Any

from app.errors import ConfigError
from app.store.store import Store
from app.store.timeindex import LAYOUT_REFRESH_S, Layout

SETTLE_S = 3 * LAYOUT_REFRESH_S
BATCH = 500
LOCK_TTL_S = 60


@dataclass
class ReshardReport:
    shards_from: int
    shards_to: int
    moved: int = 0
    passes: int = 0
    seconds: float = 0.0
    done: bool = False


class Resharder:
    def __init__(self, store: Store, *, settle_s: float = SETTLE_S, batch: int = BATCH) -> None:
        self._store = store
        self._r = store.client
        self._k = store.keys
        self._lua = store.scripts.lua
        self._settle_s = settle_s
        self._batch = batch
        self._token = secrets.token_hex(8)

    async def status(self) -> Layout:
        raw = await self._r.get(self._k.layout)
        return Layout.decode(raw, self._k.shards)

    async def grow(self, to: int, *, within_s: float = 600.0) -> ReshardReport:
        """Grow to ``to`` shards (or resume a reshard to ``to``); returns once done, or
        after ``within_s`` with ``done`` False (run it again to resume)."""
        started = time.monotonic()
        if not await self._r.set(self._k.reshard_lock, self._token, nx=True, ex=LOCK_TTL_S):
            raise ConfigError("another reshard is running (its lock key is held)")
        try:
            lay = await self.status()
            old = await self._begin(lay, to)
            report = ReshardReport(old, to)
            await self._recover(old, to)
            while time.monotonic() - started < within_s:
                await self._r.expire(self._k.reshard_lock, LOCK_TTL_S)
                moved, left = await self._pass(old, to)
                report.moved += moved
                report.passes += 1
                if not left and not moved:
                    await self._r.set(self._k.layout, Layout(to, 0).encode())
                    report.done = True
                    break
                if not moved:
                    await asyncio.sleep(0.05)  # only claimed items left: let claims end
            report.seconds = time.monotonic() - started
            return report
        finally:
            if await self._r.get(self._k.reshard_lock) == self._token:
                await self._r.delete(self._k.reshard_lock)

    async def _begin(self, lay: Layout, to: int) -> int:
        """Publish the layout of the move and let every process read it; the old count."""
        if lay.moving_from:
            if lay.shards != to:
                raise ConfigError(
                    f"a reshard from {lay.moving_from} to {lay.shards} shards is under way: "
                    f"finish it (grow to {lay.shards}) first"
                )
            return lay.moving_from
        if to <= lay.shards:
            raise ConfigError(f"the time index has {lay.shards} shards: grow to more")
        await self._r.set(self._k.layout, Layout(to, lay.shards).encode())
        await asyncio.sleep(self._settle_s)
        return lay.shards

    async def _recover(self, old: int, to: int) -> None:
        """Finish the moves a stopped reshard left in ``moving``."""
        for a in range(old):
            entries = await self._r.hgetall(self._k.shard(a).moving)
            if entries:
                moved = [(str(i), *_split(str(v))) for i, v in entries.items()]
                await self._move_in(moved, to)
                await self._settle(a, moved, to)

    async def _pass(self, old: int, to: int) -> tuple[int, int]:
        """One pass over the old shards: (items moved, misplaced items left: claimed)."""
        moved_total = left = 0
        for a in range(old):
            cursor = 0
            while True:
                cursor, names = await self._r.hscan(
                    self._k.shard(a).items, cursor, count=self._batch
                )
                misplaced = [n for n in names if self._k.shard_of(n, to) != a]
                if misplaced:
                    moved, claimed = await self._move_out(a, misplaced)
                    await self._move_in(moved, to)
                    await self._settle(a, moved, to)
                    moved_total += len(moved)
                    left += claimed
                if int(cursor) == 0:
                    break
            left += int(await self._r.hlen(self._k.shard(a).moving))
        return moved_total, left

    async def _move_out(self, a: int, items: list[str]) -> tuple[list[tuple[str, int, str]], int]:
        res = await self._lua.ti_move_out(keys=self._k.shard(a).with_moving(), args=items)
        body = res[:-1]
        moved = [
            (str(body[i]), int(float(body[i + 1])), str(body[i + 2]))
            for i in range(0, len(body), 3)
        ]
        return moved, int(res[-1])

    async def _move_in(self, moved: list[tuple[str, int, str]], to: int) -> None:
        by_shard: dict[int, list[Any]] = {}
        for item, due, payload in moved:
            by_shard.setdefault(self._k.shard_of(item, to), []).extend([item, due, payload])
        for b, args in by_shard.items():
            await self._lua.ti_move_in(keys=self._k.shard(b).all(), args=args)

    async def _settle(self, a: int, moved: list[tuple[str, int, str]], to: int) -> None:
        """Forget the moved items in ``moving``; apply in the new shard what a writer
        changed or removed meanwhile, until the entries are as moved."""
        pending = [(item, f"{due}|{payload}") for item, due, payload in moved]
        while pending:
            args = [x for pair in pending for x in pair]
            res = await self._lua.ti_move_done(keys=[self._k.shard(a).moving], args=args)
            again = []
            for (item, _), r in zip(pending, res, strict=True):
                home = self._k.shard(self._k.shard_of(item, to))
                if r == 0 or r == "0":
                    await self._lua.ti_remove(keys=home.all(), args=[item])
                elif not (r == 1 or r == "1"):
                    due, payload = _split(str(r))
                    await self._lua.ti_put(keys=home.all(), args=[item, payload, due])
                    again.append((item, str(r)))
            pending = again


def _split(value: str) -> tuple[int, str]:
    due, _, payload = value.partition("|")
    return int(float(due)), payload
