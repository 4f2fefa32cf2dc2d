"""IANA time zones: validation, UTC offsets and the transitions between them.

Instants are integers (Unix seconds, UTC). A `Transition` is the first instant `at` that
uses offset `after` instead of `before`: a gap (spring forward) when `after > before`, a
fold (fall back) when `after < before`. zoneinfo does not expose its transition table, so
each zone-year is probed once a day and each change pinned to the second by bisection, then
cached. That assumes no zone changes offset twice within one day, which holds for every
zone in the tz database since 1800.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from app.cron.errors import CronError

FIRST_YEAR, LAST_YEAR = 1800, 9998
_DAY = 86400
_NOT_IANA = frozenset({"localtime", "posixrules", "Factory"})


@dataclass(frozen=True)
class Transition:
    """A change of UTC offset: instants >= `at` use `after` seconds, earlier ones `before`."""

    at: int
    before: int
    after: int

    @property
    def shift(self) -> int:
        """Positive for a gap (clocks jump forward), negative for a fold."""
        return self.after - self.before

    @property
    def is_gap(self) -> bool:
        return self.after > self.before


@lru_cache(maxsize=1)
def _known_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones() - _NOT_IANA)


@lru_cache(maxsize=1024)
def validate_timezone(name: str) -> ZoneInfo:
    """The zone of an IANA name such as "Europe/Berlin"; raise CronError(field="timezone").

    Only names in the tz database are accepted (no offsets like "+02:00", no paths).
    """
    if name in _known_names():
        return ZoneInfo(name)
    hint = next((n for n in sorted(_known_names()) if n.lower() == name.lower()), None)
    if hint is not None:
        message = f"unknown time zone {name!r}: names are case-sensitive, did you mean {hint!r}?"
    else:
        message = f"unknown time zone {name!r}: use an IANA name such as 'Europe/Berlin' or 'UTC'"
    raise CronError(message, field="timezone")


def offset_at(zone: ZoneInfo, instant: int) -> int:
    """The UTC offset in seconds in force at `instant`."""
    delta = datetime.fromtimestamp(instant, zone).utcoffset()
    return 0 if delta is None else int(delta.total_seconds())


def _year_start(year: int) -> int:
    return int(datetime(year, 1, 1, tzinfo=UTC).timestamp())


@lru_cache(maxsize=16384)
def year_transitions(zone: ZoneInfo, year: int) -> tuple[Transition, ...]:
    """Every transition with `at` in the given UTC calendar year, oldest first."""
    if not FIRST_YEAR <= year <= LAST_YEAR:
        return ()
    found: list[Transition] = []
    start, end = _year_start(year), _year_start(year + 1)
    prev = offset_at(zone, start - 1)
    probe = start - 1
    while probe < end - 1:
        nxt = min(probe + _DAY, end - 1)
        offset = offset_at(zone, nxt)
        if offset != prev:
            found.append(_pin(zone, probe, nxt, prev))
            prev = offset
        probe = nxt
    return tuple(found)


def _pin(zone: ZoneInfo, lo: int, hi: int, before: int) -> Transition:
    """Bisect (lo, hi] for the first instant whose offset is not `before`."""
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if offset_at(zone, mid) == before:
            lo = mid
        else:
            hi = mid
    return Transition(hi, before, offset_at(zone, hi))


def _year(instant: int) -> int:
    return datetime.fromtimestamp(min(max(instant, -5e10), 2.5e11), UTC).year


def first_transition(zone: ZoneInfo, lo: int, hi: int) -> Transition | None:
    """The earliest transition with lo < at <= hi."""
    for year in range(max(_year(lo), FIRST_YEAR), min(_year(hi), LAST_YEAR) + 1):
        for tr in year_transitions(zone, year):
            if lo < tr.at <= hi:
                return tr
            if tr.at > hi:
                return None
    return None


def last_transition(zone: ZoneInfo, lo: int, hi: int) -> Transition | None:
    """The latest transition with lo < at <= hi."""
    for year in range(min(_year(hi), LAST_YEAR), max(_year(lo), FIRST_YEAR) - 1, -1):
        for tr in reversed(year_transitions(zone, year)):
            if lo < tr.at <= hi:
                return tr
            if tr.at <= lo:
                return None
    return None


def transitions_between(zone: ZoneInfo, lo: int, hi: int) -> list[Transition]:
    """Every transition with lo < at <= hi, oldest first."""
    found: list[Transition] = []
    for year in range(max(_year(lo), FIRST_YEAR), min(_year(hi), LAST_YEAR) + 1):
        found.extend(tr for tr in year_transitions(zone, year) if lo < tr.at <= hi)
    return found
