"""The time index: everything that waits for a moment, sharded over hash-tagged keys."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.keys import Keys
from app.store.errors import wrapped
from app.store.scripts import Scripts

LAYOUT_REFRESH_S = 2.0  # how stale a process's view of the shard layout may be


@dataclass(frozen=True)
class Layout:
    """The time index's shard count, and while a reshard moves items, the count before."""

    shards: int
    moving_from: int  # 0: no reshard in progress

    @classmethod
    def decode(cls, raw: str | bytes | None, configured: int) -> Layout:
        if raw is None:
            return cls(configured, 0)
        data = json.loads(raw)
        return cls(int(data["shards"]), int(data.get("from") or 0))

    def encode(self) -> str:
        body: dict[str, int] = {"shards": self.shards}
        if self.moving_from:
            body["from"] = self.moving_from
        return json.dumps(body)

    def homes(self, keys: Keys, item: str) -> list[int]:
        """The shards ``item`` may be in: its own, and its old one during a reshard."""
        home = keys.shard_of(item, self.shards)
        if not self.moving_from:
            return [home]
        old = keys.shard_of(item, self.moving_from)
        return [home] if old == home else [home, old]


@dataclass(frozen=True)
class Claimed:
    item: str
    due_ms: int
    payload: str


@dataclass(frozen=True)
class ClaimBatch:
    now_ms: int  # Redis TIME when the claim ran
    items: list[Claimed]
    next_due_ms: int | None  # earliest remaining due instant or lease expiry across shards
    reclaimed: int = 0  # expired leases the claim gave back to the due set (metrics)
    left: int = 0  # items still due within the claim's herd window, unclaimed


@dataclass(frozen=True)
class Completion:
    item: str
    next_due_ms: int  # -1: the item is finished and removed
    payload: str = ""  # '' keeps the stored payload


class TimeIndex:
    """Claims are atomic per shard (ti_claim.lua); completions are fenced by the owner.

    The shard count is the configured one until the index is resharded; then it is the
    layout in Redis (``Keys.layout``, read again every ``LAYOUT_REFRESH_S``). While a
    reshard moves items from ``F`` shards to more (app/store/reshard.py), an item is
    written where it still is: its old shard if it is there (ti_put.lua given that shard's
    moving hash), else its new one; every shard is claimed, and a completion that finds no
    claim of its owner in the item's new shard is tried in its old one."""

    def __init__(self, client: Any, keys: Keys, scripts: Scripts) -> None:
        self._r = client
        self._k = keys
        self._s = scripts
        self._lua = scripts.lua
        self.layout = Layout(keys.shards, 0)
        self._read_at = -LAYOUT_REFRESH_S

    async def current(self, *, fresh: bool = False) -> Layout:
        """The layout, read from Redis when the last read is older than the refresh (or
        ``fresh``)."""
        if fresh or time.monotonic() - self._read_at >= LAYOUT_REFRESH_S:
            raw = await self._r.get(self._k.layout)
            self._read_at = time.monotonic()
            self.layout = Layout.decode(raw, self._k.shards)
        return self.layout

    @wrapped
    async def put(self, item: str, payload: str, due_ms: int) -> int:
        """Write an item due at ``due_ms`` (-1 = keep the payload, not due). Returns 1, or 2
        when the item is claimed right now (the instant is applied when the claim ends)."""
        lay = await self.current()
        home = self._k.shard_of(item, lay.shards)
        if lay.moving_from and (old := self._k.shard_of(item, lay.moving_from)) != home:
            sk = self._k.shard(old)
            done = await self._lua.ti_put(keys=sk.with_moving(), args=[item, payload, due_ms])
            if int(done):
                return int(done)
        sk = self._k.shard(home)
        return int(await self._lua.ti_put(keys=sk.all(), args=[item, payload, due_ms]))

    @wrapped
    async def retime(self, item: str, due_ms: int) -> bool:
        """Move an existing item to ``due_ms`` (its payload kept); False when there is no
        such item (nothing is written)."""
        return await self.put(item, "", due_ms) > 0

    @wrapped
    async def remove(self, item: str) -> None:
        lay = await self.current()
        for n in lay.homes(self._k, item):
            await self._lua.ti_remove(keys=self._k.shard(n).with_moving(), args=[item])

    @wrapped
    async def claim(
        self,
        owner: str,
        lease_ms: int,
        limit: int,
        shards: Sequence[int] | None = None,
        *,
        lookahead_ms: int = 0,
        window_ms: int = 0,
    ) -> ClaimBatch:
        """Claim up to ``limit`` items per shard that are due by now + ``lookahead_ms``, in
        one round trip (per-shard atomic scripts). A lease ends ``lease_ms`` after the later
        of now and the item's instant. With ``window_ms``, the batch also says how many
        items are still due by now + ``window_ms``, unclaimed (``left``)."""
        lay = await self.current()
        shard_ids = list(range(lay.shards)) if shards is None else list(shards)
        args = [lease_ms, limit, owner, lookahead_ms, window_ms]
        results = await self._s.many(
            [(self._lua.ti_claim, self._k.shard(n).all(), args) for n in shard_ids]
        )
        items: list[Claimed] = []
        now_ms = 0
        next_due: int | None = None
        reclaimed = left = 0
        for res in results:
            now_ms = max(now_ms, int(res[0]))
            nd = int(float(res[1]))
            if nd >= 0 and (next_due is None or nd < next_due):
                next_due = nd
            reclaimed += int(res[2])
            left += int(res[3])
            for i in range(4, len(res), 3):
                items.append(Claimed(str(res[i]), int(float(res[i + 1])), str(res[i + 2])))
        return ClaimBatch(now_ms, items, next_due, reclaimed, left)

    @wrapped
    async def complete(self, owner: str, done: Sequence[Completion]) -> list[int]:
        """Advance or finish claimed items; one result per item (see ti_done.lua): one
        script call per shard, all shards in one round trip (during a reshard, a second one
        for the items whose claim was in their old shard)."""
        lay = await self.current()
        out = await self._complete(owner, done, range(len(done)), lay.shards)
        if lay.moving_from:
            k, old = self._k, lay.moving_from
            again = [
                p
                for p, r in enumerate(out)
                if r == 0 and k.shard_of(done[p].item, old) != k.shard_of(done[p].item, lay.shards)
            ]
            retried = await self._complete(owner, done, again, old)
            for p, r in zip(again, retried, strict=True):
                out[p] = r
        return out

    async def _complete(
        self, owner: str, done: Sequence[Completion], which: Sequence[int], count: int
    ) -> list[int]:
        """Complete ``done[p]`` for each ``p`` in ``which`` in its shard among ``count``;
        the results in the order of ``which`` (all of ``done`` when it is every position)."""
        by_shard: dict[int, list[int]] = {}
        for pos in which:
            by_shard.setdefault(self._k.shard_of(done[pos].item, count), []).append(pos)
        calls = []
        for n, positions in by_shard.items():
            args: list[Any] = [owner]
            for pos in positions:
                c = done[pos]
                args += [c.item, c.next_due_ms, c.payload]
            calls.append((self._lua.ti_done, self._k.shard(n).all(), args))
        got: dict[int, int] = {}
        for positions, results in zip(by_shard.values(), await self._s.many(calls), strict=True):
            for pos, r in zip(positions, results, strict=True):
                got[pos] = int(r)
        return [got[p] for p in which]

    @wrapped
    async def due_at(self, item: str) -> int | None:
        """The due instant of an unclaimed item (tests, diagnostics)."""
        lay = await self.current()
        for n in lay.homes(self._k, item):
            score = await self._r.zscore(self._k.shard(n).due, item)
            if score is not None:
                return int(score)
        return None

    @wrapped
    async def depth(self) -> int:
        """Items waiting across every shard."""
        lay = await self.current()
        async with self._r.pipeline(transaction=False) as pipe:
            for n in range(lay.shards):
                pipe.zcard(self._k.shard(n).due)
            return sum(int(x) for x in await pipe.execute())
