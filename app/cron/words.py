"""A schedule expression in words, for people reading the portal ("every 5 minutes",
"at 09:30 on MON-FRI"). Pure; the words never decide when anything fires, so an
expression they do not know a phrase for is spelled out field by field."""

from __future__ import annotations

MACROS = {
    "@yearly": "every year on 1 January at 00:00",
    "@annually": "every year on 1 January at 00:00",
    "@monthly": "every month on day 1 at 00:00",
    "@weekly": "every Sunday at 00:00",
    "@daily": "every day at 00:00",
    "@midnight": "every day at 00:00",
    "@hourly": "every hour at minute 0",
}
UNITS = ("second", "minute", "hour")
NAMES = ("second", "minute", "hour", "day of month", "month", "day of week", "year")


def _fields(expr: str) -> list[str] | None:
    parts = expr.split()
    if len(parts) == 5:
        return ["0", *parts, "*"]
    if len(parts) == 6:
        return [*parts, "*"]
    if len(parts) == 7:
        return parts
    return None


def _any(f: str) -> bool:
    return f in ("*", "?")


def _every(n: str, unit: str) -> str:
    return f"every {unit}" if n == "1" else f"every {n} {unit}s"


def _clock(sec: str, minute: str, hour: str) -> str | None:
    if not (sec.isdigit() and minute.isdigit() and hour.isdigit()):
        return None
    text = f"{int(hour):02d}:{int(minute):02d}"
    return f"at {text}" if sec == "0" else f"at {text}:{int(sec):02d}"


def _time_part(sec: str, minute: str, hour: str) -> str | None:
    """The time-of-day half of the phrase, when it has a common shape."""
    clock = _clock(sec, minute, hour)
    if clock:
        return clock
    units = (sec, minute, hour)
    for i, f in enumerate(units):
        finer_fixed = all(u == "0" for u in units[:i]) or (i == 0)
        coarser_any = all(_any(u) for u in units[i + 1 :])
        if f.startswith(("*/", "0/")) and f[2:].isdigit() and finer_fixed and coarser_any:
            return _every(f[2:], UNITS[i])
        if _any(f) and finer_fixed and coarser_any:
            return _every("1", UNITS[i])
    if sec == "0" and minute.isdigit() and _any(hour):
        return f"every hour at minute {int(minute)}"
    return None


def _day_part(dom: str, month: str, dow: str, year: str) -> str | None:
    parts = []
    if not _any(dom):
        parts.append(f"on day {dom} of the month")
    if not _any(dow):
        parts.append(f"on {dow.upper()}")
    if not _any(month):
        parts.append(f"in month {month}" if month[0].isdigit() else f"in {month.upper()}")
    if not _any(year):
        parts.append(f"in {year}")
    if not _any(dom) and not _any(dow):
        parts[0:2] = [f"{parts[0]} or {parts[1]}"]
    return " ".join(parts)


def describe(expr: str) -> str:
    """``expr`` (a schedule's ``cron`` as written) in words."""
    text = " ".join(expr.split())
    low = text.lower()
    if low in MACROS:
        return MACROS[low]
    if low.startswith(("every ", "at ")):
        return low if low.startswith("every ") else f"once, {text}"
    fields = _fields(text)
    if fields is None:
        return text
    sec, minute, hour, dom, month, dow, year = fields
    time_part = _time_part(sec, minute, hour)
    day_part = _day_part(dom, month, dow, year)
    if time_part is None:
        named = list(zip(NAMES, fields, strict=True))[0 if sec != "0" else 1 :]
        spelled = ", ".join(f"{n} {f}" for n, f in named if not _any(f))
        return f"when {spelled}"
    if time_part.startswith("at ") and not day_part:
        day_part = "every day"
    return f"{time_part} {day_part}".strip()
