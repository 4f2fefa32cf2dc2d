"""Benchmark of app.cron: microseconds per next_after, and a thundering minute.

Run: .venv/bin/python bench/cron.py [--runs 5]

Prints medians over several runs of:
* fresh:   parse (parse cache and next-fire memo cleared) + next_after
* engine:  next_after on a cached Timing with the next-fire memo cleared (the matcher itself)
* memo:    next_after answered from the memo (same Timing, same instant)
* croniter 7.0.0 for comparison: construct + get_next, and get_next alone
* thundering minute: 10,000 schedules due at the same instant, next_after for each
  (distinct H seeds in 8 zones, i.e. 10,000 distinct Timings; and 10,000 schedules sharing
  20 expressions), caches cleared first.
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from app.cron import expression, fields, parse, timing

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from croniter import croniter

START = datetime(2025, 3, 29, 23, 59, 30, tzinfo=UTC)
EXPRESSIONS = [
    ("*/5 * * * *", "UTC"),
    ("0 9 * * MON-FRI", "Europe/Berlin"),
    ("30 2 * * *", "America/New_York"),
    ("0 0 L * ?", "Australia/Lord_Howe"),
    ("*/10 * * * * *", "Asia/Kolkata"),
    ("0 15 10 ? * 6L 2025-2030", "UTC"),
]
ZONES = [
    "UTC",
    "Europe/Berlin",
    "America/New_York",
    "Asia/Kolkata",
    "Australia/Lord_Howe",
    "America/Santiago",
    "Pacific/Chatham",
    "Europe/London",
]


def clear() -> None:
    """Forget parsed expressions and memoised fires (zone transitions stay cached)."""
    fields._parse_cached.cache_clear()
    expression._program.cache_clear()
    timing._parse_cached.cache_clear()
    timing._next_cached.cache_clear()


def per_call_us(fn: Callable[[int], object], n: int) -> float:
    began = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - began) / n * 1e6


def median_of(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def bench_expression(text: str, zone: str, runs: int) -> dict[str, float]:
    seconds = [START + timedelta(seconds=i) for i in range(2000)]

    def fresh(i: int) -> object:
        clear()
        return parse(text, zone).next_after(seconds[i])

    cached = parse(text, zone)

    def engine(i: int) -> object:
        timing._next_cached.cache_clear()
        return cached.next_after(seconds[i])

    def memo(i: int) -> object:
        return cached.next_after(START)

    def cron_fresh(i: int) -> object:
        return croniter(text, seconds[i]).get_next(datetime)

    steps: list[croniter] = []

    def cron_step(i: int) -> object:
        if not steps:
            steps.append(croniter(text, START))
        return steps[0].get_next(datetime)

    row = {
        "fresh": median_of(runs, lambda: per_call_us(fresh, 300)),
        "engine": median_of(runs, lambda: per_call_us(engine, 2000)),
        "memo": median_of(runs, lambda: per_call_us(memo, 2000)),
        "croniter fresh": math.nan,
        "croniter step": math.nan,
    }
    if text.count(" ") == 4:  # croniter reads 6 fields with seconds last: skip those
        row["croniter fresh"] = median_of(runs, lambda: per_call_us(cron_fresh, 300))
        row["croniter step"] = median_of(runs, lambda: per_call_us(cron_step, 300))
    return row


def thundering(runs: int, distinct: bool, warm: bool) -> float:
    """ms for next_after of 10,000 schedules due at one instant.

    Cold: caches cleared, so each schedule is parsed too. Warm: Timings already parsed
    and cached (a dispatcher's steady state), only the next-fire memo cleared.
    """
    shared = [f"{m} {h} * * *" for m in (0, 15, 30, 45) for h in ("*", "9", "*/2", "0-23", "12")]

    def timings() -> list[timing.Timing]:
        return [
            parse(
                "H H * * *" if distinct else shared[i % len(shared)],
                ZONES[i % len(ZONES)],
                seed=f"sched_{i}",
            )
            for i in range(10_000)
        ]

    def once() -> float:
        clear()
        ready = timings() if warm else []
        timing._next_cached.cache_clear()
        began = time.perf_counter()
        for t in ready or timings():
            t.next_after(START)
        return (time.perf_counter() - began) * 1000

    return median_of(runs, once)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    runs = parser.parse_args().runs
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        print(f"median of {runs} runs, microseconds per call")
        header = ["fresh", "engine", "memo", "croniter fresh", "croniter step"]
        print(f"{'expression':<28}{'zone':<22}" + "".join(f"{h:>16}" for h in header))
        for text, zone in EXPRESSIONS:
            row = bench_expression(text, zone, runs)
            cells = "".join(
                f"{'n/a':>16}" if math.isnan(row[h]) else f"{row[h]:>16.1f}" for h in header
            )
            print(f"{text:<28}{zone:<22}{cells}")
        print()
        print("thundering minute: next_after for 10,000 schedules due at one instant (ms)")
        for distinct, label in (
            (True, "10,000 distinct Timings (H seeds, 8 zones)"),
            (False, "10,000 schedules sharing 20 expressions"),
        ):
            cold = thundering(runs, distinct, warm=False)
            warm = thundering(runs, distinct, warm=True)
            print(f"  {label:<46} cold (parse too) {cold:7.1f}   warm {warm:7.1f}")


if __name__ == "__main__":
    main()
