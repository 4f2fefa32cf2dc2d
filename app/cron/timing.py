"""Timing: a parsed schedule in its zone, answering "when next?" in UTC."""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from app.cron.engine import CronEngine, DstLabel
from app.cron.errors import CronError
from app.cron.expression import CompiledCron, compile_cron
from app.cron.rules import (
    MICROS,
    IntervalRule,
    OnceRule,
    from_micros,
    parse_at,
    parse_interval,
    to_micros,
)
from app.cron.spacing import min_gap
from app.cron.zone import validate_timezone

Kind = Literal["cron", "interval", "once"]
_HASH_TOKEN = re.compile(r"(?<![A-Z])H(?![A-Z])")


@dataclass(frozen=True)
class Occurrence:
    """One fire: the instant in UTC, the same instant on the schedule's wall clock, and
    which DST rule (if any) placed it: "gap" (moved past a spring-forward gap) or "fold"
    (a repeated wall time)."""

    utc: datetime
    local: datetime
    dst: DstLabel


@dataclass(frozen=True)
class _CronRule:
    compiled: CompiledCron
    engine: CronEngine


Rule = _CronRule | IntervalRule | OnceRule


def _aware(moment: datetime, name: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    return moment


@dataclass(frozen=True)
class Timing:
    """A parsed schedule: frozen, hashable, cheap to keep in a cache.

    Equal expression, zone, seed (only when the expression uses H) and anchor (only for
    intervals) give equal Timings.
    """

    expression: str
    timezone: str
    kind: Kind
    seed: str = ""
    anchor: datetime | None = None
    _rule: Rule = field(default=OnceRule(0), compare=False, repr=False)

    @property
    def zone(self) -> ZoneInfo:
        return validate_timezone(self.timezone)

    def next_after(self, after: datetime) -> datetime | None:
        """The first fire strictly after `after` (aware, any zone), in UTC; None if none."""
        found = _next_cached(self, _aware(after, "after").astimezone(UTC))
        return None if found is None else found[0]

    def occurrences(self, after: datetime, count: int) -> list[Occurrence]:
        """The next `count` fires strictly after `after`, oldest first (fewer if they end)."""
        if count < 0:
            raise ValueError(f"count must be >= 0, got {count}")
        found: list[Occurrence] = []
        moment = _aware(after, "after").astimezone(UTC)
        zone = self.zone
        while len(found) < count:
            fire = _next_cached(self, moment)
            if fire is None:
                break
            moment = fire[0]
            found.append(Occurrence(moment, moment.astimezone(zone), fire[1]))
        return found

    def count_between(self, after: datetime, until: datetime) -> int:
        """How many fires fall in (after, until]; exact, without enumerating them."""
        lo, hi = to_micros(_aware(after, "after")), to_micros(_aware(until, "until"))
        if hi <= lo:
            return 0
        rule = self._rule
        if isinstance(rule, _CronRule):
            return rule.engine.count(lo // MICROS + 1, hi // MICROS)
        return rule.count(lo, hi)

    def min_gap_seconds(self) -> float:
        """The smallest possible real spacing between two consecutive fires, in seconds.

        Intervals: the interval. One-offs (and crons that fire once): math.inf.
        """
        return float(_min_gap_cached(self))


@lru_cache(maxsize=65536)
def _next_cached(timing: Timing, after: datetime) -> tuple[datetime, DstLabel] | None:
    try:
        return _next(timing, after)
    except OverflowError:  # past year 9999: no more fires
        return None


def _next(timing: Timing, after: datetime) -> tuple[datetime, DstLabel] | None:
    rule = timing._rule
    micros = to_micros(after)
    if isinstance(rule, _CronRule):
        fire = rule.engine.next_fire(micros // MICROS)
        return None if fire is None else (from_micros(fire[0] * MICROS), fire[1])
    found = rule.next_fire(micros)
    if found is None:
        return None
    return from_micros(found), rule.dst if isinstance(rule, OnceRule) else None


@lru_cache(maxsize=16384)
def _min_gap_cached(timing: Timing) -> float:
    rule = timing._rule
    if isinstance(rule, _CronRule):
        return min_gap(rule.compiled, rule.engine)
    if isinstance(rule, IntervalRule):
        return float(rule.seconds)
    return math.inf


def parse(
    expression: str,
    timezone: str = "UTC",
    *,
    seed: str = "",
    anchor: datetime | None = None,
) -> Timing:
    """Parse a schedule; raise CronError (field "cron" or "timezone") saying what is wrong.

    `seed` (the schedule id) feeds `H`. `anchor` is required for "every ..." intervals:
    they fire at anchor + k * interval, k >= 1.
    """
    uses_hash = _HASH_TOKEN.search(expression.upper()) is not None
    timing = _parse_cached(expression, timezone, seed if uses_hash else "")
    if timing.kind != "interval":
        return timing
    if anchor is None:
        raise CronError(
            f"{expression.strip()!r} is an interval: it needs an anchor (the instant it "
            "counts from)"
        )
    anchor = _aware(anchor, "anchor").astimezone(UTC)
    assert isinstance(timing._rule, IntervalRule)
    rule = IntervalRule(timing._rule.seconds, to_micros(anchor))
    return dataclasses.replace(timing, anchor=anchor, _rule=rule)


@lru_cache(maxsize=16384)
def _parse_cached(expression: str, timezone: str, seed: str) -> Timing:
    zone = validate_timezone(timezone)
    text = expression.strip()
    if not text:
        raise CronError("the schedule is empty: give a cron expression, 'every ...' or 'at ...'")
    interval = parse_interval(text)
    if interval is not None:
        return Timing(text, timezone, "interval", _rule=interval)
    once = parse_at(text, zone)
    if once is not None:
        return Timing(text, timezone, "once", _rule=once)
    compiled = compile_cron(text, seed)
    rule = _CronRule(compiled, CronEngine(compiled.program, zone, compiled.elapsed))
    return Timing(text, timezone, "cron", seed, _rule=rule)
