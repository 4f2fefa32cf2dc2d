"""The two non-cron schedule kinds: fixed intervals ("every 90s") and one-offs ("at ...").

Instants here are integer microseconds since the Unix epoch (UTC), so an anchor with a
fraction of a second keeps it exactly.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from app.cron.engine import DstLabel
from app.cron.errors import CronError
from app.cron.zone import first_transition

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS = 1_000_000
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_INTERVAL = re.compile(r"^every\s+((?:[0-9]+\s*[a-z]+\s*)+)$", re.IGNORECASE)
_PART = re.compile(r"([0-9]+)\s*([a-z]+)", re.IGNORECASE)
_AT = re.compile(
    r"^at\s+([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})"
    r"(?::([0-9]{2})(?:\.([0-9]+))?)?\s*([Zz]|[+-][0-9]{2}:[0-9]{2})?$",
    re.IGNORECASE,
)


def to_micros(moment: datetime) -> int:
    """Microseconds since the epoch of an aware datetime."""
    return (moment - EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


@dataclass(frozen=True)
class IntervalRule:
    """Fires at anchor + k * seconds for k >= 1: real elapsed time, blind to DST."""

    seconds: int
    anchor: int | None = None

    def next_fire(self, after: int) -> int | None:
        anchor, step = self._anchor(), self.seconds * MICROS
        k = 1 if after < anchor else (after - anchor) // step + 1
        return anchor + k * step

    def count(self, after: int, until: int) -> int:
        """Fires in (after, until]."""
        anchor, step = self._anchor(), self.seconds * MICROS
        if until <= anchor:
            return 0
        last = (until - anchor) // step
        first = 1 if after < anchor else (after - anchor) // step + 1
        return max(0, last - first + 1)

    def _anchor(self) -> int:
        if self.anchor is None:
            raise CronError("an interval schedule needs an anchor (the instant it counts from)")
        return self.anchor


@dataclass(frozen=True)
class OnceRule:
    """Fires once at `at` (microseconds, UTC); `dst` says whether a DST rule moved it."""

    at: int
    dst: DstLabel = None

    def next_fire(self, after: int) -> int | None:
        return self.at if self.at > after else None

    def count(self, after: int, until: int) -> int:
        return 1 if after < self.at <= until else 0


def parse_interval(text: str) -> IntervalRule | None:
    """`every 90s`, `every 5m`, `every 1h30m`, `every 2d`; None when not an interval."""
    match = _INTERVAL.match(text)
    if match is None:
        return None
    seen: list[str] = []
    total = 0
    for number, unit in _PART.findall(match.group(1)):
        unit = unit.lower()
        if unit not in _UNITS:
            raise CronError(f"interval {text!r}: unknown unit {unit!r} (use d, h, m or s)")
        if seen and list(_UNITS).index(unit) <= list(_UNITS).index(seen[-1]):
            raise CronError(f"interval {text!r}: units must appear once each, largest first")
        seen.append(unit)
        total += int(number) * _UNITS[unit]
    if total < 1:
        raise CronError(f"interval {text!r}: the interval must be at least 1 second")
    return IntervalRule(total)


def parse_at(text: str, zone: ZoneInfo) -> OnceRule | None:
    """`at 2030-01-01T09:00:00Z` (any RFC 3339 offset) or a naive local time in `zone`."""
    if not text.lower().startswith("at ") and text.lower() != "at":
        return None
    match = _AT.match(text)
    if match is None:
        raise CronError(
            f"{text!r}: 'at' needs an RFC 3339 instant such as 2030-01-01T09:00:00Z "
            "or a local time such as 2030-01-01T09:00:00"
        )
    y, mo, d, h, mi, s, frac, offset = match.groups()
    try:
        wall = datetime(int(y), int(mo), int(d), int(h), int(mi), int(s or 0))
    except ValueError as exc:
        raise CronError(f"{text!r}: {exc}") from None
    micros = int((frac or "0")[:6].ljust(6, "0"))
    if offset is None:
        return _local_once(wall, micros, zone)
    return OnceRule(to_micros(wall.replace(tzinfo=_fixed(offset))) + micros)


def _fixed(offset: str) -> timezone:
    if offset in ("Z", "z"):
        return UTC
    sign = -1 if offset[0] == "-" else 1
    hours, minutes = int(offset[1:3]), int(offset[4:6])
    if hours > 23 or minutes > 59:
        raise CronError(f"offset {offset} is out of range")
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _local_once(wall: datetime, micros: int, zone: ZoneInfo) -> OnceRule:
    """A local wall time: a gap moves it to the end of the gap, a fold keeps the first."""
    early = wall.replace(tzinfo=zone).utcoffset() or timedelta(0)
    late = wall.replace(tzinfo=zone, fold=1).utcoffset() or timedelta(0)
    naive_s = int((wall - datetime(1970, 1, 1)).total_seconds())
    if early == late:
        return OnceRule((naive_s - int(early.total_seconds())) * MICROS + micros)
    if early > late:
        return OnceRule((naive_s - int(early.total_seconds())) * MICROS + micros, "fold")
    lo, hi = naive_s - int(late.total_seconds()), naive_s - int(early.total_seconds())
    tr = first_transition(zone, lo - 1, hi)
    at = tr.at if tr is not None else hi
    return OnceRule(at * MICROS, "gap")
