"""Exact load ahead: how many fires each minute of a window holds, from the cron set.

Pure. For each active schedule the count is exact, from its cron in its zone with the DST
rules, bounded by ``start_at`` and ``end_at``. A sparse schedule (fewer fires than
minutes) is walked fire by fire; a dense one is counted minute by minute with
``Timing.count_between``, which never enumerates. Identical timings over the same bounds
are computed once. The cost per schedule is at most one operation per minute of the
window.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from app.cron import CronError, Timing
from app.models import Schedule, from_ms, to_ms
from app.planning import timing_of

MINUTE_MS = 60_000
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Forecast:
    start_ms: int
    counts: list[int]  # one per minute, oldest first
    schedules: int  # active schedules counted


def _before(ms: int) -> datetime:
    """The instant right before ``ms``: (before(ms), x] includes ``ms`` itself."""
    return from_ms(ms) - _TICK


def _walk(timing: Timing, lo: int, hi: int, start: int, counts: list[int]) -> None:
    moment = timing.next_after(_before(lo))
    while moment is not None:
        ms = to_ms(moment)
        if ms >= hi:
            return
        counts[(ms - start) // MINUTE_MS] += 1
        moment = timing.next_after(moment)


def _per_minute(timing: Timing, lo: int, hi: int, start: int, n: int) -> list[int]:
    counts = [0] * n
    total = timing.count_between(_before(lo), _before(hi))
    if total == 0:
        return counts
    if total <= n:
        _walk(timing, lo, hi, start, counts)
        return counts
    for i in range(n):
        a = max(lo, start + i * MINUTE_MS)
        b = min(hi, start + (i + 1) * MINUTE_MS)
        if a < b:
            counts[i] = timing.count_between(_before(a), _before(b))
    return counts


def forecast(schedules: Iterable[Schedule], start_ms: int, minutes: int) -> Forecast:
    """Fires per minute in [start_ms, start_ms + minutes) of the active ``schedules``."""
    end = start_ms + minutes * MINUTE_MS
    groups: Counter[tuple[Timing, int, int]] = Counter()
    active = 0
    for s in schedules:
        if s.paused:
            continue
        active += 1
        lo = start_ms if s.start_at is None else max(start_ms, s.start_at)
        hi = end if s.end_at is None else min(end, s.end_at + 1)
        try:
            timing = timing_of(s)
        except (CronError, ValueError):
            continue  # cannot be planned: the dispatcher drops it too
        if lo < hi:
            groups[(timing, lo, hi)] += 1
    totals = [0] * minutes
    for (timing, lo, hi), times in groups.items():
        for i, c in enumerate(_per_minute(timing, lo, hi, start_ms, minutes)):
            totals[i] += c * times
    return Forecast(start_ms, totals, active)
