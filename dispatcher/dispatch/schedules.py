"""The dispatcher's read of schedule records, parsing each stored JSON text once.

A per-second schedule is read every second; its record rarely changes. Parsed schedules are
kept by key, next to the exact text they came from: a read whose text is unchanged reuses
the parsed schedule (a string comparison instead of a JSON parse and a dataclass tree), an
edited one is parsed again. Bounded, least recently used out first. The records are read
in one round trip, on the store's Wire connection where it has one (``Scripts.commands``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

from app.models import Schedule
from app.store import Store
from app.store.errors import wrapped
from app.store.formats import load_schedule

DEFAULT_SIZE = 50_000


class ScheduleReader:
    def __init__(self, store: Store, size: int = DEFAULT_SIZE) -> None:
        self._store = store
        self._size = size
        self._parsed: OrderedDict[str, tuple[str, Schedule]] = OrderedDict()

    @wrapped
    async def get_many(self, refs: Sequence[tuple[str, str]]) -> list[Schedule | None]:
        """The schedules for (tenant id, schedule id) pairs, in order; None = deleted."""
        if not refs:
            return []
        keys = [self._store.keys.schedule(tid, sid) for tid, sid in refs]
        raws = await self._store.scripts.commands([("GET", key) for key in keys])
        return [self._parse(key, raw) for key, raw in zip(keys, raws, strict=True)]

    def _parse(self, key: str, raw: str | None) -> Schedule | None:
        if raw is None:
            self._parsed.pop(key, None)
            return None
        hit = self._parsed.get(key)
        if hit is not None and hit[0] == raw:
            self._parsed.move_to_end(key)
            return hit[1]
        schedule = load_schedule(raw)
        self._parsed[key] = (raw, schedule)
        if len(self._parsed) > self._size:
            self._parsed.popitem(last=False)
        return schedule
