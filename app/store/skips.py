"""Skipped instants, per schedule: the trace of instants a schedule did not fire.

A misfire may skip any number of instants (a per-second schedule down for a week), so skips
are counted per schedule and reason, never written one by one: ``misfire`` (the schedule's
misfire policy, at plan or at publish time) and ``overlap`` (overlap ``forbid``; those
also leave a fire record with status ``skipped``). The API shows the counts on the schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.keys import Keys
from app.store.errors import wrapped
from app.store.scripts import Scripts

REASONS = ("misfire", "overlap")


@dataclass(frozen=True)
class Skip:
    """``count`` instants of one schedule skipped for ``reason``."""

    tenant_id: str
    schedule_id: str
    reason: str
    count: int = 1


@dataclass(frozen=True)
class SkipCounts:
    misfire: int = 0
    overlap: int = 0
    last_at: int | None = None  # ms: when the latest skip was recorded


class SkipLog:
    def __init__(self, client: Any, keys: Keys, scripts: Scripts) -> None:
        self._r = client
        self._k = keys
        self._s = scripts

    @wrapped
    async def count(self, skips: Sequence[Skip], now_ms: int) -> None:
        """Add ``skips`` to their schedules' counts (one round trip)."""
        if not skips:
            return
        async with self._r.pipeline(transaction=False) as pipe:
            for s in skips:
                key = self._k.schedule_skips(s.tenant_id, s.schedule_id)
                pipe.hincrby(key, s.reason, s.count)
                pipe.hset(key, "last_at", now_ms)
            await pipe.execute()

    @wrapped
    async def get(self, tenant_id: str, schedule_id: str) -> SkipCounts:
        raw = await self._r.hgetall(self._k.schedule_skips(tenant_id, schedule_id))
        last = raw.get("last_at")
        return SkipCounts(
            int(raw.get("misfire") or 0), int(raw.get("overlap") or 0), int(last) if last else None
        )

    @wrapped
    async def forget(self, tenant_id: str, schedule_id: str) -> None:
        await self._r.delete(self._k.schedule_skips(tenant_id, schedule_id))

    @wrapped
    async def mark_fires(
        self, fires: Sequence[tuple[str, str]], reason: str, now_ms: int
    ) -> list[bool]:
        """Record created, unpublished fires ((tenant id, fire id)) as skipped for
        ``reason`` (``fire_skip.lua``); False for one that had moved on."""
        calls = [(self._s.lua.fire_skip, [self._k.fire(t, f)], [reason, now_ms]) for t, f in fires]
        return [bool(r) for r in await self._s.many(calls)]
