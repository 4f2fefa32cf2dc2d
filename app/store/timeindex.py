"""The time index: everything that waits for a moment, sharded over hash-tagged keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.keys import Keys
from app.store.errors import wrapped
from app.store.scripts import Scripts


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


@dataclass(frozen=True)
class Completion:
    item: str
    next_due_ms: int  # -1: the item is finished and removed
    payload: str = ""  # '' keeps the stored payload


class TimeIndex:
    """Claims are atomic per shard (ti_claim.lua); completions are fenced by the owner."""

    def __init__(self, client: Any, keys: Keys, scripts: Scripts) -> None:
        self._r = client
        self._k = keys
        self._s = scripts

    @wrapped
    async def put(self, item: str, payload: str, due_ms: int) -> int:
        """Write an item due at ``due_ms`` (-1 = keep the payload, not due). Returns 1, or 2
        when the item is claimed right now (the instant is applied when the claim ends)."""
        sk = self._k.shard_for(item)
        return int(await self._s.ti_put(keys=sk.all(), args=[item, payload, due_ms]))

    @wrapped
    async def retime(self, item: str, due_ms: int) -> bool:
        """Move an existing item to ``due_ms`` (its payload kept); False when there is no
        such item (nothing is written)."""
        sk = self._k.shard_for(item)
        return int(await self._s.ti_put(keys=sk.all(), args=[item, "", due_ms])) > 0

    @wrapped
    async def remove(self, item: str) -> None:
        sk = self._k.shard_for(item)
        await self._s.ti_remove(keys=sk.all(), args=[item])

    @wrapped
    async def claim(
        self,
        owner: str,
        lease_ms: int,
        limit: int,
        shards: Sequence[int] | None = None,
        *,
        lookahead_ms: int = 0,
    ) -> ClaimBatch:
        """Claim up to ``limit`` items per shard that are due by now + ``lookahead_ms``, in
        one round trip (per-shard atomic scripts). A lease ends ``lease_ms`` after the later
        of now and the item's instant."""
        shard_ids = list(range(self._k.shards)) if shards is None else list(shards)
        results = await self._s.many(
            [
                (self._s.ti_claim, self._k.shard(n).all(), [lease_ms, limit, owner, lookahead_ms])
                for n in shard_ids
            ]
        )
        items: list[Claimed] = []
        now_ms = 0
        next_due: int | None = None
        reclaimed = 0
        for res in results:
            now_ms = max(now_ms, int(res[0]))
            nd = int(float(res[1]))
            if nd >= 0 and (next_due is None or nd < next_due):
                next_due = nd
            reclaimed += int(res[2])
            for i in range(3, len(res), 3):
                items.append(Claimed(str(res[i]), int(float(res[i + 1])), str(res[i + 2])))
        return ClaimBatch(now_ms, items, next_due, reclaimed)

    @wrapped
    async def complete(self, owner: str, done: Sequence[Completion]) -> list[int]:
        """Advance or finish claimed items; one result per item (see ti_done.lua): one
        script call per shard, all shards in one round trip."""
        by_shard: dict[int, list[int]] = {}
        for pos, c in enumerate(done):
            by_shard.setdefault(self._k.shard_of(c.item), []).append(pos)
        calls = []
        for n, positions in by_shard.items():
            args: list[Any] = [owner]
            for pos in positions:
                c = done[pos]
                args += [c.item, c.next_due_ms, c.payload]
            calls.append((self._s.ti_done, self._k.shard(n).all(), args))
        out = [0] * len(done)
        for positions, results in zip(by_shard.values(), await self._s.many(calls), strict=True):
            for pos, r in zip(positions, results, strict=True):
                out[pos] = int(r)
        return out

    @wrapped
    async def due_at(self, item: str) -> int | None:
        """The due instant of an unclaimed item (tests, diagnostics)."""
        score = await self._r.zscore(self._k.shard_for(item).due, item)
        return None if score is None else int(score)

    @wrapped
    async def depth(self) -> int:
        """Items waiting across every shard."""
        async with self._r.pipeline(transaction=False) as pipe:
            for n in range(self._k.shards):
                pipe.zcard(self._k.shard(n).due)
            return sum(int(x) for x in await pipe.execute())
