"""Fan-out parents and their shards (docs/fanout.md), in the tenant's slot.

The expansion of a parent into shard records is resumable (``fanout_make.lua`` creates only
what is missing, ``fanout_advance.lua`` moves the cursor once the step's shards are
published); the gathering of shard outcomes counts each outcome once
(``fanout_gather.lua``) and ends the parent once (``fanout_close.lua``); a replay takes a
shard's outcome back (``fanout_reopen.lua``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.errors import Conflict, NotFound
from app.keys import Keys
from app.models import Fire
from app.store.errors import wrapped
from app.store.paging import Page
from app.store.scripts import Scripts

_MAKE_CHUNK = 250  # shard records per fanout_make.lua call


@dataclass(frozen=True)
class Gathered:
    """What gathering one shard outcome says of its parent: ``state`` 'open', 'closed',
    'missing' or 'end' (every shard has ended: the parent's outcome is due)."""

    state: str
    status: str | None = None
    succeeded: int = 0
    failed: int = 0
    round: int = 0


@dataclass(frozen=True)
class Reopened:
    attempt_count: int
    previous: str
    scheduled_ms: int


class FanoutLog:
    def __init__(self, client: Any, keys: Keys, scripts: Scripts, retention_s: int) -> None:
        self._r = client
        self._k = keys
        self._s = scripts
        self._lua = scripts.lua
        self._retention_s = retention_s

    @wrapped
    async def make(self, parent: Fire, shards: Sequence[Fire]) -> int:
        """Create the records of ``shards`` that do not exist yet and list them on
        ``parent``; how many were created (-1: the parent is gone)."""
        k, tid = self._k, parent.tenant_id
        calls = []
        for at in range(0, len(shards), _MAKE_CHUNK):
            chunk = shards[at : at + _MAKE_CHUNK]
            records = [s.to_record() for s in chunk]
            names = list(records[0])
            keys = [k.fire(tid, parent.id), k.fire_shards(tid, parent.id)]
            args: list[Any] = [self._retention_s, len(names), *names]
            for shard, record in zip(chunk, records, strict=True):
                assert shard.shard is not None and list(record) == names
                keys.append(k.fire(tid, shard.id))
                args += [shard.shard.index, *record.values()]
            calls.append((self._lua.fanout_make, keys, args))
        results = await self._s.many(calls)
        return -1 if any(int(r) < 0 for r in results) else sum(int(r) for r in results)

    @wrapped
    async def advance(
        self,
        tenant_id: str,
        parent_id: str,
        lease: str,
        made: int,
        pending: tuple[int, int] | None,
        deadline_ms: int,
    ) -> int:
        """Move the expansion cursor to ``made`` (never back), note the range ``pending``
        (start, end) as made but not yet published (until ``deadline_ms``), and end the
        step's lease."""
        k = self._k
        keys = [
            k.fire(tenant_id, parent_id),
            k.inflight(tenant_id, parent_id),
            k.fanout_pending(tenant_id, parent_id),
        ]
        member = "" if pending is None else f"{pending[0]}:{pending[1]}"
        args = [lease, made, member, deadline_ms]
        return int(await self._s.call(self._lua.fanout_advance, keys, args))

    @wrapped
    async def pending(self, tenant_id: str, parent_id: str) -> list[tuple[int, int, int]]:
        """(start, end, deadline ms) of every range made and maybe not published yet."""
        rows = await self._r.zrange(
            self._k.fanout_pending(tenant_id, parent_id), 0, -1, withscores=True
        )
        out = []
        for member, deadline in rows:
            start, _, end = str(member).partition(":")
            out.append((int(start), int(end), int(deadline)))
        return out

    @wrapped
    async def published(self, tenant_id: str, parent_id: str, start: int, end: int) -> None:
        """The range's shard messages are published (confirmed)."""
        await self._r.zrem(self._k.fanout_pending(tenant_id, parent_id), f"{start}:{end}")

    @wrapped
    async def gather(self, tenant_id: str, parent_id: str, shard_id: str) -> Gathered:
        """Count the shard's final outcome into its parent (once)."""
        k = self._k
        res = await self._s.call(
            self._lua.fanout_gather,
            [
                k.fire(tenant_id, parent_id),
                k.fire(tenant_id, shard_id),
                k.failed_shards(tenant_id, parent_id),
            ],
            [],
        )
        if res[0] != "end":
            return Gathered(str(res[0]), str(res[1]) if len(res) > 1 else None)
        return Gathered("end", str(res[1]), int(res[2]), int(res[3]), int(res[4]))

    @wrapped
    async def close(
        self, tenant_id: str, parent_id: str, schedule_id: str | None, now_ms: int
    ) -> tuple[str, str | None]:
        """End a parent whose shards have all ended: ('closed', status) for the one call
        that ended it, else ('already', status), ('open', None) or ('missing', None)."""
        k = self._k
        keys = [
            k.fire(tenant_id, parent_id),
            k.dead_letters(tenant_id),
            k.attempts(tenant_id, parent_id),
            k.failed_shards(tenant_id, parent_id),
        ]
        if schedule_id:
            keys.append(k.active_fire(tenant_id, schedule_id))
        args = [now_ms, parent_id, self._retention_s]
        res = await self._s.call(self._lua.fanout_close, keys, args)
        return str(res[0]), str(res[1]) if len(res) > 1 else None

    def _reopen_call(self, tenant_id: str, parent_id: str, shard_id: str, now_ms: int) -> Any:
        k = self._k
        keys = [
            k.fire(tenant_id, shard_id),
            k.fire(tenant_id, parent_id),
            k.failed_shards(tenant_id, parent_id),
            k.dead_letters(tenant_id),
        ]
        return (self._lua.fanout_reopen, keys, [now_ms, shard_id, parent_id])

    @wrapped
    async def reopen(
        self, tenant_id: str, parent_id: str, shard_ids: Sequence[str], now_ms: int
    ) -> list[Reopened | None]:
        """Send finished shards back into delivery, their outcomes taken back from the
        parent; per shard its state before (None: missing or not finished)."""
        calls = [self._reopen_call(tenant_id, parent_id, sid, now_ms) for sid in shard_ids]
        out: list[Reopened | None] = []
        for res in await self._s.many(calls):
            ok = res[0] == "ok"
            out.append(Reopened(int(res[1]), str(res[2]), int(res[3])) if ok else None)
        return out

    @wrapped
    async def reopen_one(
        self, tenant_id: str, parent_id: str, shard_id: str, now_ms: int
    ) -> Reopened:
        """:meth:`reopen` of one shard: NotFound, or Conflict while it is not finished."""
        res = await self._s.call(*self._reopen_call(tenant_id, parent_id, shard_id, now_ms))
        if res[0] == "missing":
            raise NotFound("no such fire")
        if res[0] == "busy":
            raise Conflict(f"the fire is {res[1]}: only a succeeded or failed fire is replayed")
        return Reopened(int(res[1]), str(res[2]), int(res[3]))

    @wrapped
    async def failed(self, tenant_id: str, parent_id: str, limit: int) -> list[str]:
        """Up to ``limit`` ids of the parent's shards gathered as failed, by index."""
        key = self._k.failed_shards(tenant_id, parent_id)
        return list(await self._r.zrange(key, 0, limit - 1))

    @wrapped
    async def page(self, tenant_id: str, parent_id: str, limit: int, after: int | None) -> Page:
        """Shard ids made so far, by index, after index ``after``; the next cursor is the
        last index of the page (as text) while more follow."""
        key = self._k.fire_shards(tenant_id, parent_id)
        low = "-inf" if after is None else f"({after}"
        rows = await self._r.zrangebyscore(key, low, "+inf", start=0, num=limit + 1,
                                           withscores=True)  # fmt: skip
        page = rows[:limit]
        more = len(rows) > limit and page
        return Page([m for m, _ in page], str(int(page[-1][1])) if more else None)
