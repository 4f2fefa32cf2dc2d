"""Cron fires as instants: a compiled program's wall times mapped through a zone's offsets.

Between two transitions a zone has one offset, so wall time w is the instant w - offset.
At a transition the rules of `app.cron` apply (see its docstring for the full statement):

* gap, wall-time schedules: every matching wall inside the gap fires once, together, at
  the transition instant (the first instant after the gap), label "gap" (no label when
  the wall clock at that instant matches by itself).
* gap, elapsed-time schedules (`*` or a step in the hour field): a matching wall inside
  the gap fires at wall - old offset, i.e. as if the clocks had not jumped yet, so the
  real spacing of an hourly or every-15-minutes schedule stays the same; label "gap".
  An instant reached twice this way fires once.
* fold, wall-time schedules: a repeated wall fires at its first occurrence only, "fold".
* fold, elapsed-time schedules: a repeated wall fires at both occurrences (they are an
  hour of real time apart), both labelled "fold".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from app.cron.program import CronProgram
from app.cron.zone import (
    Transition,
    first_transition,
    last_transition,
    offset_at,
    transitions_between,
)

DstLabel = Literal["gap", "fold"] | None
Fire = tuple[int, DstLabel]
LOOKBACK = 2 * 86400
_WALL_EPOCH = datetime(1970, 1, 1)


def earliest(a: Fire | None, b: Fire | None) -> Fire | None:
    """The earlier of two fires; on a tie the one that is a plain wall match (b) wins."""
    if a is None:
        return b
    if b is None or a[0] < b[0]:
        return a
    return b


@dataclass(frozen=True, eq=False)
class CronEngine:
    """Next fire and fire counts for one compiled expression in one zone."""

    program: CronProgram
    zone: ZoneInfo
    elapsed: bool

    def next_fire(self, after: int) -> Fire | None:
        """The first fire at an instant > `after` (Unix seconds), with its DST label."""
        offset = offset_at(self.zone, after)
        floor = after + offset
        prev = last_transition(self.zone, after - LOOKBACK, after)
        pending: Fire | None = None
        if prev is not None and prev.is_gap and self.elapsed:
            pending = self._gap_wall_fire(prev, after)
        elif prev is not None and not prev.is_gap and not self.elapsed:
            floor = max(floor, prev.at + prev.before - 1)
        return earliest(pending, self._scan(after, offset, floor))

    def _scan(self, after: int, offset: int, floor: int) -> Fire | None:
        """Walk segment by segment from walls > floor (instants > after)."""
        while True:
            wall = self.program.next_wall(floor + 1)
            if wall is None:
                return None
            instant = wall - offset
            tr = first_transition(self.zone, after, instant)
            if tr is None:
                return instant, self._label(wall)
            if tr.is_gap and wall < tr.at + tr.after:
                return self._gap_fire(tr, wall)
            keep_repeats = self.elapsed or tr.is_gap
            floor = tr.at + (tr.after if keep_repeats else tr.before) - 1
            after, offset = tr.at, tr.after

    def _gap_fire(self, tr: Transition, wall: int) -> Fire | None:
        """`wall` is the first match and falls inside the gap of `tr`."""
        if self.elapsed:
            shifted: Fire = (wall - tr.before, "gap")
            return earliest(shifted, self._scan(tr.at, tr.after, tr.at + tr.after - 1))
        label: DstLabel = None if self.program.matches(tr.at + tr.after) else "gap"
        return tr.at, label

    def _gap_wall_fire(self, tr: Transition, after: int) -> Fire | None:
        """Elapsed schedules: a gap wall whose shifted instant is still > after."""
        start = max(tr.at + tr.before, after + tr.before + 1)
        wall = self.program.next_wall(start)
        if wall is None or wall >= tr.at + tr.after:
            return None
        return wall - tr.before, "gap"

    def _label(self, wall: int) -> DstLabel:
        naive = _WALL_EPOCH + timedelta(seconds=wall)
        first = naive.replace(tzinfo=self.zone).utcoffset()
        second = naive.replace(tzinfo=self.zone, fold=1).utcoffset()
        return "fold" if first is not None and second is not None and first > second else None

    def count(self, lo: int, hi: int) -> int:
        """How many fires fall at instants in [lo, hi]."""
        if hi < lo:
            return 0
        began = last_transition(self.zone, lo - LOOKBACK, lo)
        offset = offset_at(self.zone, lo)
        total = 0 if began is None else self._gap_extra(began, lo, hi)
        start = lo
        for tr in [*transitions_between(self.zone, lo, hi), None]:
            end = hi if tr is None else tr.at - 1
            total += self._count_segment(start, end, offset, began)
            if tr is None:
                return total
            total += self._gap_extra(tr, lo, hi)
            start, offset, began = tr.at, tr.after, tr
        return total

    def _count_segment(self, start: int, end: int, offset: int, began: Transition | None) -> int:
        first, last = start + offset, end + offset
        total = self.program.count(first, last)
        if began is not None and not began.is_gap and not self.elapsed:
            repeat_lo, repeat_hi = began.at + began.after, began.at + began.before - 1
            total -= self.program.count(max(first, repeat_lo), min(last, repeat_hi))
        return total

    def _gap_extra(self, tr: Transition, lo: int, hi: int) -> int:
        """Fires produced by walls inside the gap of `tr` whose instants lie in [lo, hi]."""
        if not tr.is_gap:
            return 0
        gap_lo, gap_hi = tr.at + tr.before, tr.at + tr.after - 1
        if not self.elapsed:
            if not lo <= tr.at <= hi or self.program.matches(tr.at + tr.after):
                return 0
            return 1 if self.program.count(gap_lo, gap_hi) else 0
        total = 0
        wall = self.program.next_wall(max(gap_lo, lo + tr.before))
        last = min(gap_hi, hi + tr.before)
        while wall is not None and wall <= last:
            total += 0 if self.program.matches(wall + tr.shift) else 1
            wall = self.program.next_wall(wall + 1)
        return total
