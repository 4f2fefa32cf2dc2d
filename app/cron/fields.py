"""One cron field, from text to the set of values it allows.

Grammar of a field (items joined by ","):

    *  ?  v  v-w  */n  v/n  v-w/n  H  H/n  H(v-w)  H(v-w)/n
    day of month also: L  L-n  nW  LW        day of week also: v#n  vL

Values are numbers or (month, day of week) names, case-insensitive. Day-of-week numbers
are Vixie's (and Spring's) in every field count: 0 or 7 = Sunday ... 6 = Saturday; the
``quartz:`` form reads them with :data:`QUARTZ_WEEKDAY`, Quartz's 1 = Sunday ... 7 =
Saturday. Ranges must not be
reversed; steps run from 1 to the field's span. `?` is allowed only as the whole
day-of-month or day-of-week field and means the same as `*`.

`H` is a value hashed from the schedule id (the seed) and the field name with SHA-256, so
it is the same in every process and differs between fields. Plain `H` in day of month
ranges over 1-28 (every month has those days) and in day of week over 0-6.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType

from app.cron.errors import CronError

MONTH_NAMES = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
DAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


@dataclass(frozen=True, eq=False)
class FieldDef:
    """The bounds and names of one field kind (compared and hashed by identity)."""

    name: str
    lo: int
    hi: int
    names: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    hash_lo: int = -1
    hash_hi: int = -1
    sunday: int = -1
    """Day of week only: the number of Sunday (the day numbers are kept as 0 = Sunday)."""

    def hash_bounds(self) -> tuple[int, int]:
        """The range plain `H` picks from."""
        if self.hash_lo < 0:
            return self.lo, self.hi
        return self.hash_lo, self.hash_hi


SECOND = FieldDef("second", 0, 59)
MINUTE = FieldDef("minute", 0, 59)
HOUR = FieldDef("hour", 0, 23)
DAY = FieldDef("day of month", 1, 31, hash_lo=1, hash_hi=28)
MONTH = FieldDef("month", 1, 12, MappingProxyType({n: i + 1 for i, n in enumerate(MONTH_NAMES)}))
WEEKDAY = FieldDef(
    "day of week", 0, 7, MappingProxyType({n: i for i, n in enumerate(DAY_NAMES)}), 0, 6, 0
)
QUARTZ_WEEKDAY = FieldDef(
    "day of week", 1, 7, MappingProxyType({n: i + 1 for i, n in enumerate(DAY_NAMES)}), 1, 7, 1
)
YEAR = FieldDef("year", 1970, 2099)


@dataclass(frozen=True)
class ParsedField:
    """What one field allows.

    `star` is Vixie's flag: the field text starts with `*` or is `?`. It decides whether
    day of month and day of week are joined with AND (a star on either side) or OR.
    `last` holds `L-n` offsets (day of month) or weekdays with `L` (day of week); `nearest`
    holds `nW` days; `nth` holds (weekday, n) pairs from `#`.
    """

    values: frozenset[int]
    star: bool = False
    last: frozenset[int] = frozenset()
    nearest: frozenset[int] = frozenset()
    last_weekday: bool = False
    nth: frozenset[tuple[int, int]] = frozenset()


_RANGE = re.compile(r"^(\*|[A-Z0-9]+(?:-[A-Z0-9]+)?)(?:/([0-9]+))?$")
_HASH = re.compile(r"^H(?:\(([0-9]+)-([0-9]+)\))?(?:/([0-9]+))?$")
_LAST = re.compile(r"^L(?:-([0-9]+))?$")
_NEAREST = re.compile(r"^([0-9]+)W$")
_NTH = re.compile(r"^([A-Z0-9]+)#([0-9]+)$")
_LAST_DOW = re.compile(r"^([A-Z0-9]+)L$")


class _FieldParser:
    """Parses one field's text; every error names the field's position and kind."""

    def __init__(self, fdef: FieldDef, position: int, seed: str) -> None:
        self.fdef = fdef
        self.position = position
        self.seed = seed
        self.weekday = fdef.sunday >= 0

    def fail(self, detail: str) -> CronError:
        return CronError(f"field {self.position} ({self.fdef.name}): {detail}")

    def parse(self, text: str) -> ParsedField:
        upper = text.upper()
        if upper == "?":
            if self.fdef is not DAY and not self.weekday:
                raise self.fail("? is allowed only in day of month and day of week")
            return ParsedField(frozenset(range(self.fdef.lo, self.fdef.hi + 1)), star=True)
        acc = _Accumulator()
        for item in upper.split(","):
            if not item:
                raise self.fail(f"empty item in list {text!r}")
            self.item(item, acc)
        sunday = self.fdef.sunday if self.weekday else None
        return acc.result(star=upper.startswith("*"), sunday=sunday)

    def item(self, item: str, acc: _Accumulator) -> None:
        if self.fdef is DAY and self.day_special(item, acc):
            return
        if self.weekday and self.weekday_special(item, acc):
            return
        hashed = _HASH.match(item)
        if hashed:
            acc.values.update(self.hashed(*hashed.groups()))
            return
        m = _RANGE.match(item)
        if not m:
            raise self.fail(f"{item!r} is not a value, range, step or list")
        acc.values.update(self.range_values(m.group(1), m.group(2)))

    def range_values(self, span: str, step_text: str | None) -> range:
        lo, hi = self.fdef.lo, self.fdef.hi
        if span == "*":
            start, end = lo, hi
        elif "-" in span:
            first, last = span.split("-")
            start, end = self.value(first), self.value(last)
            if start > end:
                raise self.fail(f"range {span} is reversed (the start must not exceed the end)")
        else:
            start = self.value(span)
            end = hi if step_text is not None else start
        return range(start, end + 1, self.step(step_text))

    def step(self, text: str | None) -> int:
        if text is None:
            return 1
        step = int(text)
        span = self.fdef.hi - self.fdef.lo
        if not 1 <= step <= span:
            raise self.fail(f"step {step} is out of range 1-{span}")
        return step

    def value(self, text: str) -> int:
        if text.isdigit():
            number = int(text)
        elif text in self.fdef.names:
            number = self.fdef.names[text]
        elif self.fdef.names:
            raise self.fail(f"{text!r} is not a number or a {self.fdef.name} name")
        else:
            raise self.fail(f"{text!r} is not a number")
        if not self.fdef.lo <= number <= self.fdef.hi:
            raise self.fail(f"{number} is out of range {self.fdef.lo}-{self.fdef.hi}")
        return number

    def hashed(self, first: str | None, last: str | None, step_text: str | None) -> range:
        if first is not None and last is not None:
            lo, hi = self.value(first), self.value(last)
            if lo > hi:
                raise self.fail(f"range H({first}-{last}) is reversed")
        else:
            lo, hi = self.fdef.hash_bounds()
        digest = hashlib.sha256(f"{self.seed}\x00{self.fdef.name}".encode()).digest()
        number = int.from_bytes(digest[:8], "big")
        if step_text is None:
            start = lo + number % (hi - lo + 1)
            return range(start, start + 1)
        step = self.step(step_text)
        return range(lo + number % step, hi + 1, step)

    def day_special(self, item: str, acc: _Accumulator) -> bool:
        if item == "LW":
            acc.last_weekday = True
            return True
        last = _LAST.match(item)
        if last:
            offset = int(last.group(1) or 0)
            if offset > 30:
                raise self.fail(f"L-{offset}: the offset is out of range 0-30")
            acc.last.add(offset)
            return True
        nearest = _NEAREST.match(item)
        if nearest:
            acc.nearest.add(self.value(nearest.group(1)))
            return True
        return False

    def weekday_special(self, item: str, acc: _Accumulator) -> bool:
        if item == "L":
            raise self.fail("L needs a weekday before it, e.g. 5L or FRIL for the last Friday")
        nth = _NTH.match(item)
        if nth:
            count = int(nth.group(2))
            if not 1 <= count <= 5:
                raise self.fail(f"{item}: the occurrence after # is out of range 1-5")
            acc.nth.add((self.day(nth.group(1)), count))
            return True
        last = _LAST_DOW.match(item)
        if last:
            acc.last.add(self.day(last.group(1)))
            return True
        return False

    def day(self, text: str) -> int:
        """A day-of-week value as 0 = Sunday ... 6 = Saturday."""
        return (self.value(text) - self.fdef.sunday) % 7


@dataclass
class _Accumulator:
    values: set[int] = field(default_factory=set)
    last: set[int] = field(default_factory=set)
    nearest: set[int] = field(default_factory=set)
    nth: set[tuple[int, int]] = field(default_factory=set)
    last_weekday: bool = False

    def result(self, *, star: bool, sunday: int | None) -> ParsedField:
        """``sunday``: day of week only, the number of Sunday in the values."""
        values = self.values if sunday is None else {(v - sunday) % 7 for v in self.values}
        return ParsedField(
            frozenset(values),
            star=star,
            last=frozenset(self.last),
            nearest=frozenset(self.nearest),
            last_weekday=self.last_weekday,
            nth=frozenset(self.nth),
        )


def parse_field(text: str, fdef: FieldDef, position: int, seed: str) -> ParsedField:
    """Parse one field; raise CronError naming the field on any fault.

    Cached: the seed only takes part when the field uses H.
    """
    return _parse_cached(text, fdef, position, seed if "H" in text.upper() else "")


@lru_cache(maxsize=65536)
def _parse_cached(text: str, fdef: FieldDef, position: int, seed: str) -> ParsedField:
    return _FieldParser(fdef, position, seed).parse(text)
