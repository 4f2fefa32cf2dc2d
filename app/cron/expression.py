"""Cron expression text -> CronProgram: field counts, macros and the never-fires check."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from app.cron.errors import CronError
from app.cron.fields import (
    DAY,
    HOUR,
    MINUTE,
    MONTH,
    QUARTZ_WEEKDAY,
    SECOND,
    WEEKDAY,
    YEAR,
    FieldDef,
    ParsedField,
    parse_field,
)
from app.cron.program import CronProgram, DayRule

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
LAYOUTS: dict[int, tuple[FieldDef, ...]] = {
    5: (MINUTE, HOUR, DAY, MONTH, WEEKDAY),
    6: (SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY),
    7: (SECOND, MINUTE, HOUR, DAY, MONTH, WEEKDAY, YEAR),
}
QUARTZ = "quartz:"
"""A 6- or 7-field cron read with Quartz's day-of-week numbers (1 = Sunday ... 7 =
Saturday) instead of Spring's and Vixie's (0 or 7 = Sunday)."""
# Every calendar (leap or not, starting on each weekday) occurs within 28 years.
_CALENDAR_CYCLE = range(2001, 2029)


@dataclass(frozen=True, eq=False)
class CompiledCron:
    """A compiled expression plus how it behaves at DST transitions.

    `elapsed` is true when the hour field starts with `*` or contains a step: such a
    schedule keeps real elapsed spacing through transitions instead of wall-clock times.
    `resolution` is 1 s with a seconds field, else 60 s.
    """

    program: CronProgram
    elapsed: bool
    resolution: int
    fields: int


def expand_macro(text: str) -> str:
    """The five fields a macro stands for; other text unchanged."""
    if not text.startswith("@"):
        return text
    expanded = MACROS.get(text.lower())
    if expanded is None:
        names = ", ".join(MACROS)
        raise CronError(f"unknown macro {text!r}: use one of {names}")
    return expanded


def compile_cron(expression: str, seed: str) -> CompiledCron:
    """Compile 5, 6 or 7 fields (or a macro, or ``quartz:`` and 6 or 7 fields); raise
    CronError saying what and where."""
    text = expression.strip()
    quartz = text[: len(QUARTZ)].lower() == QUARTZ
    parts = (text[len(QUARTZ) :] if quartz else expand_macro(text)).split()
    layout = LAYOUTS.get(len(parts))
    if quartz and len(parts) not in (6, 7):
        raise CronError(
            f"quartz: takes 6 or 7 fields (seconds first), got {len(parts)} in {text!r}"
        )
    if layout is None:
        raise CronError(
            f"expected 5, 6 or 7 fields, got {len(parts)} in {text!r} "
            "(or a macro such as @daily, 'every 90s' or 'at <RFC 3339 instant>')"
        )
    if quartz:
        layout = tuple(QUARTZ_WEEKDAY if f is WEEKDAY else f for f in layout)
    parsed = {
        fdef.name: parse_field(text, fdef, position, seed)
        for position, (fdef, text) in enumerate(zip(layout, parts, strict=True), start=1)
    }
    program = _program(*(parsed.get(f.name) for f in LAYOUTS[7]))
    hour_text = parts[layout.index(HOUR)]
    return CompiledCron(
        program=program,
        elapsed=hour_text.startswith("*") or "/" in hour_text,
        resolution=60 if len(parts) == 5 else 1,
        fields=len(parts),
    )


@lru_cache(maxsize=16384)
def _program(
    second: ParsedField | None,
    minute: ParsedField | None,
    hour: ParsedField | None,
    day: ParsedField | None,
    month: ParsedField | None,
    weekday: ParsedField | None,
    year: ParsedField | None,
) -> CronProgram:
    """One shared program per distinct set of field values (so H seeds that hash alike, and
    equal expressions written differently, share tables and day caches)."""
    assert minute and hour and day and month and weekday
    program = CronProgram(
        seconds=second.values if second else frozenset({0}),
        minutes=minute.values,
        hours=hour.values,
        months=month.values,
        years=year.values if year else None,
        day_rule=DayRule(day, weekday),
    )
    _check_fires(program, 7 if year else 6)
    return program


def _check_fires(program: CronProgram, fields: int) -> None:
    years = sorted(program.years) if program.years is not None else _CALENDAR_CYCLE
    for year in years:
        for month in sorted(program.months):
            if program.month_days(year, month):
                return
    where = " in the years given" if fields == 7 else ""
    raise CronError(
        "the day of month, month and day of week fields never match a real date"
        f"{where} (for example 30 FEB)"
    )
