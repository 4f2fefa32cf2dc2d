"""A cron expression compiled to lookup tables over local wall-clock time.

Wall times are integers: seconds since 1970-01-01 00:00 on the schedule's wall clock (no
zone, no DST). This module knows calendars, not zones: `app.cron.engine` maps walls to
instants.

Day rule (Vixie cron): when both day of month and day of week are restricted (neither
starts with `*` nor is `?`) a day matches when EITHER matches; otherwise both must match
(a `*` side matches every day, so in practice the other side decides). `*/2` starts with
`*`, so `0 0 */2 * MON` means "odd days that are Mondays", as in Vixie cron.

Special days: `L` last day, `L-n` n days before it, `nW` the weekday (Mon-Fri) nearest
day n without leaving the month (no fire in months shorter than n), `LW` the last weekday,
`d#n` the n-th weekday d (no fire in months without one), `dL` the last weekday d.
"""

from __future__ import annotations

import bisect
import calendar
from dataclasses import dataclass, field
from datetime import date

from app.cron.fields import ParsedField

EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
DAY = 86400
MAX_YEAR = 9999
NO_DAYS: tuple[int, ...] = ()


def _next_table(values: frozenset[int], hi: int) -> tuple[int, ...]:
    """table[v] = the smallest allowed value >= v, or -1; valid for v in 0..hi+1."""
    table = [-1] * (hi + 2)
    upcoming = -1
    for v in range(hi, -1, -1):
        if v in values:
            upcoming = v
        table[v] = upcoming
    return tuple(table)


def _count_table(values: frozenset[int], hi: int) -> tuple[int, ...]:
    """table[v] = how many allowed values are < v, for v in 0..hi+1."""
    table = [0] * (hi + 2)
    for v in range(1, hi + 2):
        table[v] = table[v - 1] + (1 if v - 1 in values else 0)
    return tuple(table)


def wall_of(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    """The wall-time integer of a calendar date and time."""
    return (date(y, mo, d).toordinal() - EPOCH_ORDINAL) * DAY + h * 3600 + mi * 60 + s


def weekday_of(y: int, mo: int, d: int) -> int:
    """Cron weekday numbering: 0 = Sunday ... 6 = Saturday."""
    return (date(y, mo, d).weekday() + 1) % 7


def nearest_weekday(y: int, mo: int, day: int, last: int) -> int:
    """The Mon-Fri day nearest `day` without leaving the month (Quartz's `W`)."""
    wd = weekday_of(y, mo, day)
    if wd == 6:
        return day - 1 if day > 1 else day + 2
    if wd == 0:
        return day + 1 if day < last else day - 2
    return day


@dataclass(frozen=True, eq=False)
class DayRule:
    """Which days of a month match: day of month and day of week, joined Vixie's way."""

    dom: ParsedField
    dow: ParsedField

    def days(self, y: int, mo: int) -> tuple[int, ...]:
        last = calendar.monthrange(y, mo)[1]
        by_dom = self._dom_days(y, mo, last)
        by_dow = self._dow_days(y, mo, last)
        chosen = by_dom & by_dow if self.dom.star or self.dow.star else by_dom | by_dow
        return tuple(sorted(chosen))

    def _dom_days(self, y: int, mo: int, last: int) -> set[int]:
        days = {d for d in self.dom.values if d <= last}
        days.update(last - n for n in self.dom.last if last - n >= 1)
        days.update(nearest_weekday(y, mo, n, last) for n in self.dom.nearest if n <= last)
        if self.dom.last_weekday:
            days.add(nearest_weekday(y, mo, last, last))
        return days

    def _dow_days(self, y: int, mo: int, last: int) -> set[int]:
        first = weekday_of(y, mo, 1)
        days = {d for d in range(1, last + 1) if (first + d - 1) % 7 in self.dow.values}
        for wd, n in self.dow.nth:
            d = 1 + (wd - first) % 7 + 7 * (n - 1)
            if d <= last:
                days.add(d)
        last_wd = (first + last - 1) % 7
        days.update(last - (last_wd - wd) % 7 for wd in self.dow.last)
        return days


@dataclass(frozen=True, eq=False)
class CronProgram:
    """Compiled fields: find the next matching wall time and count matching walls."""

    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    months: frozenset[int]
    years: frozenset[int] | None
    day_rule: DayRule
    _tables: dict[str, tuple[int, ...]] = field(default_factory=dict, repr=False)
    _days: dict[tuple[int, int], tuple[tuple[int, ...], tuple[int, ...]]] = field(
        default_factory=dict, repr=False
    )

    def __post_init__(self) -> None:
        t = self._tables
        t["s"], t["m"], t["h"] = (
            _next_table(self.seconds, 59),
            _next_table(self.minutes, 59),
            _next_table(self.hours, 23),
        )
        t["mo"] = _next_table(self.months, 12)
        t["y"] = tuple(sorted(self.years)) if self.years is not None else ()

    @property
    def per_day(self) -> int:
        """How many times of day match."""
        return len(self.seconds) * len(self.minutes) * len(self.hours)

    def month_days(self, y: int, mo: int) -> tuple[int, ...]:
        """The matching days of a month (month and year filters not applied)."""
        return self._month(y, mo)[0]

    def _month(self, y: int, mo: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
        key = (y, mo)
        cached = self._days.get(key)
        if cached is None:
            days = self.day_rule.days(y, mo)
            cached = (days, _next_table(frozenset(days), 32))
            if len(self._days) > 4096:
                self._days.clear()
            self._days[key] = cached
        return cached

    def next_wall(self, wall: int) -> int | None:
        """The first matching wall time >= `wall`, or None before year 10000."""
        days, rem = divmod(wall, DAY)
        if days + EPOCH_ORDINAL > date.max.toordinal():
            return None
        start = date.fromordinal(days + EPOCH_ORDINAL)
        h, rem = divmod(rem, 3600)
        mi, s = divmod(rem, 60)
        found = self._search(start.year, start.month, start.day, h, mi, s)
        return None if found is None else wall_of(*found)

    def _search(
        self, y: int, mo: int, d: int, h: int, mi: int, s: int
    ) -> tuple[int, int, int, int, int, int] | None:
        t = self._tables
        next_s, next_m, next_h, next_mo, years = t["s"], t["m"], t["h"], t["mo"], t["y"]
        while True:
            if y > MAX_YEAR:
                return None
            if years:
                at = bisect.bisect_left(years, y)
                if at == len(years):
                    return None
                ny = years[at]
                if ny != y:
                    y, mo, d, h, mi, s = ny, 1, 1, 0, 0, 0
            nmo = next_mo[mo]
            if nmo < 0:
                y, mo, d, h, mi, s = y + 1, 1, 1, 0, 0, 0
                continue
            if nmo != mo:
                mo, d, h, mi, s = nmo, 1, 0, 0, 0
            nd = self._month(y, mo)[1][d]
            if nd < 0:
                mo, d, h, mi, s = mo + 1, 1, 0, 0, 0
                continue
            if nd != d:
                d, h, mi, s = nd, 0, 0, 0
            nh = next_h[h]
            if nh < 0:
                d, h, mi, s = d + 1, 0, 0, 0
                continue
            if nh != h:
                h, mi, s = nh, 0, 0
            nmi = next_m[mi]
            if nmi < 0:
                h, mi, s = h + 1, 0, 0
                continue
            if nmi != mi:
                mi, s = nmi, 0
            ns = next_s[s]
            if ns < 0:
                mi, s = mi + 1, 0
                continue
            return y, mo, d, h, mi, ns

    def matches(self, wall: int) -> bool:
        """Whether this exact wall time matches."""
        return self.next_wall(wall) == wall

    def count(self, first: int, last: int) -> int:
        """How many matching wall times lie in [first, last]."""
        if last < first:
            return 0
        day_a, tod_a = divmod(first, DAY)
        day_b, tod_b = divmod(last, DAY)
        if day_a == day_b:
            return self._day_matches(day_a) * (self._tod_le(tod_b) - self._tod_le(tod_a - 1))
        total = self._day_matches(day_a) * (self.per_day - self._tod_le(tod_a - 1))
        total += self._day_matches(day_b) * self._tod_le(tod_b)
        return total + self.per_day * self._count_days(day_a + 1, day_b)

    def _tod_le(self, tod: int) -> int:
        """How many matching times of day are <= `tod` (seconds into the day)."""
        if tod < 0:
            return 0
        t = self._tables
        if "cs" not in t:
            t["cs"] = _count_table(self.seconds, 59)
            t["cm"] = _count_table(self.minutes, 59)
            t["ch"] = _count_table(self.hours, 23)
        h, rem = divmod(tod, 3600)
        mi, s = divmod(rem, 60)
        n_s, n_m = len(self.seconds), len(self.minutes)
        total = t["ch"][h] * n_m * n_s
        if h in self.hours:
            total += t["cm"][mi] * n_s
            if mi in self.minutes:
                total += t["cs"][s + 1]
        return total

    def _day_matches(self, day: int) -> int:
        return self._count_days(day, day + 1)

    def _count_days(self, first: int, end: int) -> int:
        """How many matching days lie in [first, end) (days since 1970-01-01)."""
        if end <= first:
            return 0
        a = date.fromordinal(first + EPOCH_ORDINAL)
        b = date.fromordinal(end - 1 + EPOCH_ORDINAL)
        total = 0
        y, mo = a.year, a.month
        while (y, mo) <= (b.year, b.month):
            if mo in self.months and (self.years is None or y in self.years):
                days = self.month_days(y, mo)
                lo = a.day if (y, mo) == (a.year, a.month) else 1
                hi = b.day if (y, mo) == (b.year, b.month) else 31
                total += bisect.bisect_right(days, hi) - bisect.bisect_left(days, lo)
            y, mo = (y + 1, 1) if mo == 12 else (y, mo + 1)
        return total
