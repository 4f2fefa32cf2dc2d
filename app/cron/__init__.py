"""Pure time: parse schedules, find their next fires in a zone, apply the DST rules.

Nothing here does I/O or reads the clock (except `min_gap_seconds`, which samples the DST
transitions of the current year and the seven after it).

Syntax
------
* Cron, 5 fields: minute hour day-of-month month day-of-week.
* Cron, 6 fields: second minute hour day-of-month month day-of-week (Quartz order).
* Cron, 7 fields: the 6 above plus year (1970-2099).
* Per field: `*`, `,`, `-`, `/`, names (JAN-DEC, SUN-SAT, any case), `H`, `H/n`, `H(a-b)`,
  `H(a-b)/n`; `?` as a whole day field; day of month `L`, `L-n`, `nW`, `LW`; day of week
  `d#n`, `dL`. Day-of-week numbers: 0 or 7 = Sunday (Vixie and Spring numbering, also in
  6/7 fields); `quartz:` before 6 or 7 fields reads them as Quartz does (1 = Sunday ... 7 =
  Saturday).
* Macros: @yearly @annually @monthly @weekly @daily @midnight @hourly.
* `every 90s`, `every 5m`, `every 1h30m`, `every 2d`: fixed intervals from an anchor.
* `at 2030-01-01T09:00:00Z` (RFC 3339) or `at 2030-01-01T09:00:00` (local, in the zone).
Anything else raises CronError naming the field and the fault. An expression that can
never fire (`0 0 30 2 *`) is refused as well.

Day of month and day of week (Vixie cron): when both are restricted (neither starts with
`*` nor is `?`) a day matches when EITHER matches; otherwise both must match.

Time zones and DST
------------------
Fields are matched against the wall clock of the schedule's IANA zone; instants are UTC.

* Wall-time schedules (the hour field is a fixed list or range, e.g. `30 2 * * *`):
  - a wall time skipped by a spring-forward gap fires once, at the first instant after
    the gap (the transition instant), `dst="gap"`; several skipped wall times of the same
    gap make one fire; if the wall time right after the gap matches by itself, that
    single fire carries no label;
  - a repeated wall time (fall-back fold) fires once, at its first occurrence,
    `dst="fold"`.
* Elapsed-time schedules (the hour field starts with `*` or contains a step, e.g.
  `0 * * * *`, `*/15 * * * *`, `0 */2 * * *`) keep their real spacing:
  - in a fold both occurrences of a repeated wall time fire (`dst="fold"`), so
    `0 * * * *` fires at 01:00 EDT, 01:00 EST and 02:00 EST in New York on fall-back night:
    once every real hour, never skipped or doubled;
  - a wall time in a gap fires where it would have been with the old offset (wall time
    minus the old offset, `dst="gap"`), an instant reached twice fires once; `0 * * * *`
    fires at 01:00 EST, 03:00 EDT, 04:00 EDT on spring-forward night: once every real hour.
    With a 30-minute shift (Australia/Lord_Howe) the hourly fires at 01:00, 02:30 (the
    shifted 02:00, "gap") and 03:00: the wall clock itself moved by half an hour.
* Intervals run on real elapsed time (anchor + k * interval) and never carry a label.
* `at` with a local time follows the wall-time rules.

Engine
------
croniter 7.0.0 (pinned) is not used at run time; tests/unit/test_cron_croniter.py pins the
differences found: it reads `5-5` as `*`, joins the day fields with OR when one is `*/n`,
fires a fixed-time job twice in a repeated hour, reads 6 fields as seconds LAST, and
refuses `L-n`. Guarding it would have needed a matcher of our own anyway, and measured
(bench/cron.py, medians) it is also the slower part: croniter costs 90-155 us to build
plus next and 37-57 us per further step, while our compiled tables answer next_after in
11-16 us on a cached Timing (0.5 us when memoised) and 80-100 us parse included.

So expressions compile to lookup tables (next allowed value per field, matching days per
month, cached per program) and the next fire is a carry-propagating search on the wall
clock; zone transitions are found once per zone-year and cached. Parsed fields, programs
and Timings are cached (Timings by expression, zone and seed only when H is used; interval
anchors are attached after the cache, so they never leak between schedules) and next
fires are memoised by (Timing, instant). A thundering minute of 10,000 distinct schedules
(H seeds, 8 zones) costs ~185 ms warm and ~500 ms with every parse cold; 10,000 schedules
sharing 20 expressions cost ~5-12 ms.
"""

from app.cron.errors import CronError
from app.cron.timing import Occurrence, Timing, parse
from app.cron.zone import validate_timezone

__all__ = ["CronError", "Occurrence", "Timing", "parse", "validate_timezone"]
