"""The smallest real spacing between two consecutive fires of a cron schedule.

Used for per-tenant "min_interval_seconds" quotas, so it is exact for what matters:

1. The nominal gap is computed from the fields on a DST-free wall clock: the smallest
   step between consecutive times of day, and between the last time of one matching day
   and the first of the next (matching days enumerated over a full 28-year calendar cycle,
   or over the years of a 7-field expression).
2. DST can shorten it (a daily 09:00 job is 23 h apart on spring-forward day; `0 */2`
   fires 1 h apart after a gap). So the schedule is replayed around every transition of its
   zone in the current UTC year and the seven after it, and the smallest real spacing seen
   there is taken. Elapsed-time schedules that allow every hour are unaffected by
   whole-hour shifts and skip that replay.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from datetime import UTC, date, datetime

from app.cron.engine import CronEngine
from app.cron.expression import CompiledCron
from app.cron.program import CronProgram
from app.cron.zone import Transition, year_transitions

SAMPLE_YEARS = 8
_REPLAY_LIMIT = 20_000


def _min_step(values: Sequence[int]) -> float:
    return min((b - a for a, b in itertools.pairwise(values)), default=math.inf)


def nominal_gap(program: CronProgram) -> float:
    """The smallest spacing of consecutive fires on a wall clock without DST."""
    secs, mins, hours = sorted(program.seconds), sorted(program.minutes), sorted(program.hours)
    first_tod = hours[0] * 3600 + mins[0] * 60 + secs[0]
    last_tod = hours[-1] * 3600 + mins[-1] * 60 + secs[-1]
    candidates = [
        _min_step(secs),
        60 * _min_step(mins) + secs[0] - secs[-1],
        3600 * _min_step(hours) + (mins[0] * 60 + secs[0]) - (mins[-1] * 60 + secs[-1]),
        86400 * _min_day_step(program) + first_tod - last_tod,
    ]
    return min(candidates)


def _min_day_step(program: CronProgram) -> float:
    years = sorted(program.years) if program.years is not None else range(2001, 2029)
    ordinals = [
        date(y, mo, d).toordinal()
        for y in years
        for mo in sorted(program.months)
        for d in program.month_days(y, mo)
    ]
    return _min_step(ordinals)


def min_gap(compiled: CompiledCron, engine: CronEngine) -> float:
    """The smallest real spacing between consecutive fires (math.inf: fires at most once)."""
    nominal = nominal_gap(compiled.program)
    if nominal <= compiled.resolution or math.isinf(nominal):
        return nominal
    every_hour = len(compiled.program.hours) == 24 and compiled.elapsed
    year = datetime.now(UTC).year
    best = nominal
    for y in range(year, year + SAMPLE_YEARS):
        for tr in year_transitions(engine.zone, y):
            if every_hour and tr.shift % 3600 == 0:
                continue
            best = min(best, _replay(engine, tr, nominal))
    return best


def _replay(engine: CronEngine, tr: Transition, nominal: float) -> float:
    """The smallest spacing of consecutive fires around one transition.

    Pairs starting before the window are more than `nominal` apart, so they cannot lower
    the minimum; after the window the offset is steady again.
    """
    start = tr.at - int(nominal) - 1
    end = tr.at + abs(tr.shift) + int(nominal) + 1
    best, prev = math.inf, None
    fire = engine.next_fire(start)
    for _ in range(_REPLAY_LIMIT):
        if fire is None or fire[0] > end:
            break
        if prev is not None:
            best = min(best, fire[0] - prev)
        prev = fire[0]
        fire = engine.next_fire(prev)
    return best
