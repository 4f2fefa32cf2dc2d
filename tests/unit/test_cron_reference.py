"""Differential tests: app.cron against a brute-force reference written from the rules.

The reference shares no code with app.cron. Hypothesis builds expressions as structured
items, renders them to text for app.cron, and the reference checks each candidate
directly against the items:

* calendar: every day of a multi-year window is checked against the day fields;
* clock and DST: every UTC minute (5 fields) or second (6/7 fields) of a window is turned
  into its wall time in the zone and checked; a repeated wall time fires at its first
  occurrence only, unless the hour field starts with `*` or has a step; when the offset
  jumps forward, the skipped wall times are checked one by one and fire at the jump
  (wall-time schedules) or at wall minus the old offset (elapsed-time schedules).
"""

from __future__ import annotations

import calendar
import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.cron import parse

MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Asia/Kolkata",
    "Pacific/Chatham",
    "Europe/London",
    "America/Sao_Paulo",
    "Asia/Tehran",
    "Pacific/Apia",
    "Africa/Casablanca",
]

# An item is a tuple: ("*",), ("v", a), ("r", a, b), ("s", start, end, step, text_form),
# ("L", n), ("W", n), ("LW",), ("#", weekday, n), ("dL", weekday).
Item = tuple[object, ...]


@dataclass(frozen=True)
class Field:
    items: tuple[Item, ...]
    text: str


def _value_text(v: int, names: Sequence[str] | None, use_name: bool, offset: int) -> str:
    if names is not None and use_name and 0 <= v - offset < len(names):
        return names[v - offset]
    return str(v)


@st.composite
def items(draw: st.DrawFn, lo: int, hi: int, names: Sequence[str] | None, offset: int) -> Item:
    kind = draw(st.sampled_from(["*", "*", "v", "r", "s", "s"]))
    if kind == "*":
        return ("*",)
    a = draw(st.integers(lo, hi))
    if kind == "v":
        return ("v", a)
    b = draw(st.integers(a, hi))
    if kind == "r":
        return ("r", a, b)
    step = draw(st.integers(1, hi - lo))
    form = draw(st.sampled_from(["star", "range", "open"]))
    if form == "star":
        return ("s", lo, hi, step, "*")
    if form == "open":
        return ("s", a, hi, step, "open")
    return ("s", a, b, step, "range")


def render(item: Item, names: Sequence[str] | None, use_name: bool, offset: int) -> str:
    def t(v: object) -> str:
        assert isinstance(v, int)
        return _value_text(v, names, use_name, offset)

    match item:
        case ("*",):
            return "*"
        case ("v", a):
            return t(a)
        case ("r", a, b):
            return f"{t(a)}-{t(b)}"
        case ("s", a, b, step, form):
            head = "*" if form == "*" else t(a) if form == "open" else f"{t(a)}-{t(b)}"
            return f"{head}/{step}"
        case ("L", n):
            return "L" if n == 0 else f"L-{n}"
        case ("W", n):
            return f"{n}W"
        case ("LW",):
            return "LW"
        case ("#", wd, n):
            return f"{t(wd)}#{n}"
        case ("dL", wd):
            return f"{t(wd)}L"
    raise AssertionError(item)


@st.composite
def fields(
    draw: st.DrawFn,
    lo: int,
    hi: int,
    names: Sequence[str] | None = None,
    offset: int = 0,
    extra: st.SearchStrategy[Item] | None = None,
    question: bool = False,
) -> Field:
    if question and draw(st.integers(0, 5)) == 0:
        return Field((("*",),), "?")
    base = items(lo, hi, names, offset)
    strategy = base if extra is None else st.one_of(base, extra)
    chosen = tuple(draw(st.lists(strategy, min_size=1, max_size=3)))
    use_name = draw(st.booleans())
    return Field(chosen, ",".join(render(i, names, use_name, offset) for i in chosen))


DOM_EXTRA = st.one_of(
    st.integers(0, 5).map(lambda n: ("L", n)),
    st.integers(1, 31).map(lambda n: ("W", n)),
    st.just(("LW",)),
)
DOW_EXTRA = st.one_of(
    st.tuples(st.just("#"), st.integers(0, 7), st.integers(1, 5)),
    st.tuples(st.just("dL"), st.integers(0, 7)),
)


def plain(item: Item, v: int) -> bool:
    match item:
        case ("*",):
            return True
        case ("v", a):
            return v == a
        case ("r", a, b):
            return isinstance(a, int) and isinstance(b, int) and a <= v <= b
        case ("s", a, b, step, _):
            assert isinstance(a, int) and isinstance(b, int) and isinstance(step, int)
            return a <= v <= b and (v - a) % step == 0
    return False


def allows(f: Field, v: int) -> bool:
    return any(plain(i, v) for i in f.items)


@functools.cache
def month_info(y: int, m: int) -> tuple[int, tuple[int, ...]]:
    """The last day of the month and its Monday-to-Friday days."""
    last = calendar.monthrange(y, m)[1]
    return last, tuple(x for x in range(1, last + 1) if date(y, m, x).isoweekday() <= 5)


def dom_item(item: Item, y: int, m: int, d: int) -> bool:
    last, weekdays = month_info(y, m)
    match item:
        case ("L", n):
            return d == last - int(str(n))
        case ("W", n):
            n = int(str(n))
            return n <= last and d == min(weekdays, key=lambda x: abs(x - n))
        case ("LW",):
            return d == max(weekdays)
    return plain(item, d)


def dow_item(item: Item, y: int, m: int, d: int) -> bool:
    wd = date(y, m, d).isoweekday() % 7
    last = month_info(y, m)[0]
    match item:
        case ("#", w, n):
            return wd == int(str(w)) % 7 and (d - 1) // 7 + 1 == n
        case ("dL", w):
            return wd == int(str(w)) % 7 and d + 7 > last
    return plain(item, wd) or (wd == 0 and plain(item, 7))


@dataclass(frozen=True)
class Expr:
    second: Field | None
    minute: Field
    hour: Field
    dom: Field
    month: Field
    dow: Field
    year: Field | None

    @property
    def text(self) -> str:
        parts = [self.minute, self.hour, self.dom, self.month, self.dow]
        if self.second is not None:
            parts.insert(0, self.second)
        if self.year is not None:
            parts.append(self.year)
        return " ".join(p.text for p in parts)

    @property
    def elapsed(self) -> bool:
        return self.hour.text.startswith("*") or "/" in self.hour.text

    def day_ok(self, y: int, m: int, d: int) -> bool:
        if not allows(self.month, m) or (self.year is not None and not allows(self.year, y)):
            return False
        dom_ok = any(dom_item(i, y, m, d) for i in self.dom.items)
        dow_ok = any(dow_item(i, y, m, d) for i in self.dow.items)
        starred = [f.text.startswith("*") or f.text == "?" for f in (self.dom, self.dow)]
        return (dom_ok and dow_ok) if any(starred) else (dom_ok or dow_ok)

    def matches(self, wall: datetime) -> bool:
        if self.second is not None and not allows(self.second, wall.second):
            return False
        if self.second is None and wall.second:
            return False
        return (
            allows(self.minute, wall.minute)
            and allows(self.hour, wall.hour)
            and self.day_ok(wall.year, wall.month, wall.day)
        )


@st.composite
def expressions(draw: st.DrawFn, size: int) -> Expr:
    return Expr(
        second=draw(fields(0, 59)) if size >= 6 else None,
        minute=draw(fields(0, 59)),
        hour=draw(fields(0, 23)),
        dom=draw(fields(1, 31, extra=DOM_EXTRA, question=True)),
        month=draw(fields(1, 12, MONTHS, 1)),
        dow=draw(fields(0, 7, DAYS, 0, extra=DOW_EXTRA, question=True)),
        year=draw(fields(1970, 2099)) if size == 7 else None,
    )


def parse_or_none(expr: Expr, zone: str) -> object:
    try:
        return parse(expr.text, zone)
    except ValueError as exc:
        # The only refusal a well-formed generated expression may get: it never fires.
        assert "never match a real date" in str(exc), (expr.text, exc)
        return None


# ---- calendar -------------------------------------------------------------------------


def check_calendar(expr: Expr, start: date, days: int) -> None:
    timing = parse_or_none(expr, "UTC")
    if timing is None:
        return
    assert hasattr(timing, "occurrences")
    first = datetime(start.year, start.month, start.day, tzinfo=UTC) - timedelta(seconds=1)
    end = first + timedelta(days=days)
    expected = [
        first + timedelta(days=i, seconds=1)
        for i in range(days)
        if expr.day_ok(*(start + timedelta(days=i)).timetuple()[:3])
    ]
    got = [o.utc for o in timing.occurrences(first, len(expected) + 1) if o.utc <= end]
    assert got == expected, expr.text


def calendar_test(examples: int) -> Callable[[], None]:
    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        dom=fields(1, 31, extra=DOM_EXTRA, question=True),
        month=fields(1, 12, MONTHS, 1),
        dow=fields(0, 7, DAYS, 0, extra=DOW_EXTRA, question=True),
        year=st.one_of(st.none(), fields(1970, 2099)),
        start=st.dates(date(2020, 1, 1), date(2040, 1, 1)),
    )
    def run(dom: Field, month: Field, dow: Field, year: Field | None, start: date) -> None:
        zero = Field((("v", 0),), "0")
        check_calendar(Expr(zero, zero, zero, dom, month, dow, year), start, 800)

    return run


test_calendar_matches_the_reference = calendar_test(120)


# ---- clock and DST ----------------------------------------------------------------------


def reference_fires(
    expr: Expr, zone: ZoneInfo, start: datetime, end: datetime, step: int
) -> list[tuple[datetime, str | None]]:
    """Fires in (start, end], computed instant by instant."""
    found: dict[datetime, str | None] = {}
    tick = timedelta(seconds=step)
    u = start - timedelta(seconds=int(start.timestamp()) % step, microseconds=start.microsecond)
    if (
        start.astimezone(zone).utcoffset()
        != (start - timedelta(hours=3)).astimezone(zone).utcoffset()
    ):
        u -= timedelta(hours=3)
    prev_offset = u.astimezone(zone).utcoffset()
    assert prev_offset is not None
    steady = _steady(zone, u - timedelta(hours=3), end + timedelta(hours=3))
    while u < end:
        u += tick
        local = u.astimezone(zone)
        offset = local.utcoffset()
        assert offset is not None
        if offset > prev_offset:
            _gap(expr, u, prev_offset, offset, tick, found)
        wall = local.replace(tzinfo=None)
        if not expr.matches(wall):
            pass
        elif steady:
            found[u] = None
        elif expr.elapsed or not _seen(zone, u):
            found[u] = "fold" if _repeated(zone, u, wall) else None
        prev_offset = offset
    return sorted((k, v) for k, v in found.items() if start < k <= end)


def _steady(zone: ZoneInfo, first: datetime, last: datetime) -> bool:
    """Whether the zone keeps one offset from first to last (probed every 20 minutes)."""
    offset = first.astimezone(zone).utcoffset()
    probe = first
    while probe < last:
        probe += timedelta(minutes=20)
        if probe.astimezone(zone).utcoffset() != offset:
            return False
    return True


def _gap(
    expr: Expr,
    u: datetime,
    before: timedelta,
    after: timedelta,
    tick: timedelta,
    found: dict[datetime, str | None],
) -> None:
    """The offset jumped forward at instant u: walls in [u + before, u + after) never exist."""
    wall = (u + before).replace(tzinfo=None)
    while wall < (u + after).replace(tzinfo=None):
        if expr.matches(wall):
            instant = (wall - before).replace(tzinfo=UTC) if expr.elapsed else u
            found.setdefault(instant, "gap")
        wall += tick


SHIFTS = [timedelta(minutes=30), timedelta(hours=1), timedelta(hours=2)]


def _repeated(zone: ZoneInfo, u: datetime, wall: datetime) -> bool:
    return any(
        (u + sign * shift).astimezone(zone).replace(tzinfo=None) == wall
        for shift in SHIFTS
        for sign in (-1, 1)
    )


def _seen(zone: ZoneInfo, u: datetime) -> bool:
    """Whether this wall time already occurred earlier (a second occurrence)."""
    wall = u.astimezone(zone).replace(tzinfo=None)
    return any((u - shift).astimezone(zone).replace(tzinfo=None) == wall for shift in SHIFTS)


def check_clock(expr: Expr, zone_name: str, start: datetime, span: timedelta, step: int) -> None:
    timing = parse_or_none(expr, zone_name)
    if timing is None:
        return
    assert hasattr(timing, "occurrences")
    end = start + span
    expected = reference_fires(expr, ZoneInfo(zone_name), start, end, step)
    got = [(o.utc, o.dst) for o in timing.occurrences(start, len(expected) + 1) if o.utc <= end]
    assert got == expected, (expr.text, zone_name, start)


@functools.cache
def transitions_in(zone_name: str, year: int) -> tuple[datetime, ...]:
    """The hours (UTC) in which the zone changes offset during the year."""
    zone = ZoneInfo(zone_name)
    found = []
    day = datetime(year, 1, 1, tzinfo=UTC)
    while day.year == year:
        nxt = day + timedelta(days=1)
        if day.astimezone(zone).utcoffset() != nxt.astimezone(zone).utcoffset():
            hour = day
            while hour.astimezone(zone).utcoffset() == day.astimezone(zone).utcoffset():
                hour += timedelta(hours=1)
            found.append(hour)
        day = nxt
    return tuple(found)


def transition_near(zone_name: str, year: int, which: int) -> datetime:
    """A DST transition of the zone in the year (or mid-year when it has none)."""
    found = transitions_in(zone_name, year)
    return found[which % len(found)] if found else datetime(year, 6, 1, tzinfo=UTC)


@st.composite
def windows(draw: st.DrawFn, span: timedelta, after: timedelta) -> tuple[str, datetime]:
    """A window that contains a transition or starts at most `after` past one."""
    zone = draw(st.sampled_from(ZONES))
    near = transition_near(zone, draw(st.integers(2015, 2030)), draw(st.integers(0, 3)))
    shift = draw(st.integers(-int(span.total_seconds()), int(after.total_seconds())))
    return zone, near + timedelta(seconds=shift)


def clock_test(size: int, span: timedelta, examples: int) -> Callable[[], None]:
    step = 60 if size == 5 else 1
    # Second-level windows start before a transition: the reference would otherwise have
    # to replay hours of seconds to see a gap that began before the window.
    after = timedelta(hours=3) if size == 5 else timedelta(seconds=-1)

    @settings(max_examples=examples, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(expr=expressions(size), window=windows(span, after))
    def run(expr: Expr, window: tuple[str, datetime]) -> None:
        zone, start = window
        every_day = Field((("*",),), "*")
        day_free = dataclasses.replace(expr, dom=every_day, month=every_day, dow=every_day)
        check_clock(day_free, zone, start, span, step)

    return run


test_five_fields_and_dst_match_the_reference = clock_test(5, timedelta(hours=20), 100)
test_six_fields_and_dst_match_the_reference = clock_test(6, timedelta(minutes=40), 40)
test_seven_fields_match_the_reference = clock_test(7, timedelta(minutes=20), 15)


@pytest.mark.slow
def test_five_fields_match_the_reference_at_length() -> None:
    clock_test(5, timedelta(hours=30), 1500)()


@pytest.mark.slow
def test_six_fields_match_the_reference_at_length() -> None:
    clock_test(6, timedelta(hours=2), 300)()


@pytest.mark.slow
def test_calendar_matches_the_reference_at_length() -> None:
    calendar_test(3000)()


# ---- counting ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    expr=st.one_of(expressions(5), expressions(6)),
    window=windows(timedelta(hours=6), timedelta(hours=3)),
    span=st.integers(0, 6 * 3600),
    fraction=st.integers(0, 999_999),
)
def test_count_between_equals_walking_the_fires(
    expr: Expr, window: tuple[str, datetime], span: int, fraction: int
) -> None:
    zone, start = window
    start += timedelta(microseconds=fraction)
    every_day = Field((("*",),), "*")
    timing = parse_or_none(dataclasses.replace(expr, dom=every_day, dow=every_day), zone)
    if timing is None:
        return
    assert hasattr(timing, "count_between") and hasattr(timing, "next_after")
    end = start + timedelta(seconds=span)
    walked = 0
    moment = timing.next_after(start)
    while moment is not None and moment <= end and walked < 30_000:
        walked += 1
        moment = timing.next_after(moment)
    if walked < 30_000:
        assert timing.count_between(start, end) == walked, (expr.text, zone, start, end)
