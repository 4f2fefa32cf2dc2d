"""Figures for the end-to-end benchmark: percentiles, medians over runs, the machine, the
progress bar, and the table."""

from __future__ import annotations

import contextlib
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def spread(values: Sequence[float], unit: float = 1000.0) -> dict[str, float]:
    """p50/p90/p99/max of ``values`` (seconds), scaled by ``unit`` (ms by default)."""
    return {
        "p50": round(percentile(values, 50) * unit, 1),
        "p90": round(percentile(values, 90) * unit, 1),
        "p99": round(percentile(values, 99) * unit, 1),
        "max": round(max(values, default=0.0) * unit, 1),
    }


def medians(runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The median of every numeric leaf across runs (same shape as one run)."""
    first = runs[0]
    out: dict[str, Any] = {}
    for key, value in first.items():
        if isinstance(value, dict):
            out[key] = medians([r[key] for r in runs])
        elif isinstance(value, int | float) and not isinstance(value, bool):
            out[key] = round(statistics.median(r[key] for r in runs), 3)
        else:
            out[key] = value
    return out


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.strip().splitlines()[0] if out.strip() else "unknown"


def machine() -> dict[str, Any]:
    model, mem_kb = "unknown", 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
        model = next(
            (x.split(":", 1)[1].strip() for x in cpuinfo if x.startswith("model name")), model
        )
        mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "redis": _version(["redis-server", "--version"]),
        "rabbitmq": _version(["rabbitmqctl", "version"]),
    }


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class Progress:
    """A one-line progress bar on stderr (only when it is a terminal or forced)."""

    def __init__(self, label: str, total: int, *, enabled: bool | None = None) -> None:
        self.label, self.total = label, total
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self.started = time.monotonic()

    def show(self, done: int, note: str = "") -> None:
        if not self.enabled:
            return
        width = 30
        filled = int(width * min(done, self.total) / max(self.total, 1))
        bar = "#" * filled + "." * (width - filled)
        elapsed = time.monotonic() - self.started
        sys.stderr.write(
            f"\r  {self.label} [{bar}] {done:>7,}/{self.total:,} {elapsed:6.1f}s {note}   "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")


def table(result: dict[str, Any]) -> str:
    m, cfg, med = result["machine"], result["config"], result["median"]
    n_runs = len(result["runs"])
    lines = [
        f"machine   {m['cpus']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB, {m['os']}, "
        f"Python {m['python']}",
        f"services  {m['redis']}; RabbitMQ {m['rabbitmq']}",
        f"fleet     {cfg['apis']} api, {cfg['dispatchers']} dispatcher, {cfg['invokers']} "
        f"invokers x {cfg['concurrency']} concurrent; log level {cfg['log_level']}; "
        f"event loop {cfg['event_loop']}",
        f"load      {result['load_before']} before, {result['load_after']} after (1/5/15 min)",
        f"medians of {n_runs} run(s); lag = receiver arrival minus scheduled instant; "
        "sustained: 'Nb' = N fires of the window not delivered 2 s after its end",
        "",
        f"{'case':<34}{'drain s':>9}{'fires/s':>10}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}{'max ms':>9}{'lost':>7}{'dup':>5}  target",
    ]
    for name, case in med.get("burst", {}).items():
        ok = case["drain_s"] <= 3.0 and case["lost"] == 0
        target = _verdict(ok, "all in <= 3 s") if name == "10000" else ""
        lines.append(_row(f"{int(name):,} due at one instant", case, target))
        lines.append(_cpu_line(case))
    for name, case in med.get("sustained", {}).items():
        lag = case["lag_ms"]
        target = ""
        if name.startswith("1000/s aligned"):
            ok = lag["p50"] <= 60 and lag["p99"] <= 250 and case["behind"] == 0
            target = _verdict(ok, "p50 <= 60 ms, p99 <= 250 ms")
        elif name.startswith("1000/s spread"):
            target = _verdict(lag["p99"] <= 50 and case["behind"] == 0, "p99 <= 50 ms")
        lines.append(_row(f"sustained {name}", case, target))
        lines.append(_cpu_line(case))
    api = med.get("api")
    if api:
        lat = api["latency_ms"]
        lines.append(
            f"{'API: create schedule':<34}{'':>9}{api['per_s']:>10,.0f}{lat['p50']:>9.1f}"
            f"{lat['p90']:>9.1f}{lat['p99']:>9.1f}{lat['max']:>9.1f}"
        )
    ceiling = med.get("ceiling")
    if ceiling:
        for client in ("httpx", "aiohttp"):
            lines.append(
                f"{'raw ceiling: bare ' + client + ' loop':<34}{'':>9}{ceiling[client]:>10,.0f}"
            )
        for name, ratio in ceiling.get("ratios", {}).items():
            lines.append(f"  burst {name} delivery rate / bare loop: {ratio}")
    return "\n".join(lines)


def _row(label: str, case: dict[str, Any], target: str) -> str:
    lag = case["lag_ms"]
    drain = f"{case['drain_s']:.2f}" if "drain_s" in case else ""
    lost = f"{case['lost']:.0f}" if "lost" in case else f"{case['behind']:.0f}b"
    return (
        f"{label:<34}{drain:>9}{case['fires_per_s']:>10,.0f}{lag['p50']:>9.1f}{lag['p90']:>9.1f}"
        f"{lag['p99']:>9.1f}{lag['max']:>9.1f}{lost:>7}{case['duplicates']:>5.0f}  {target}"
    )


def _cpu_line(case: dict[str, Any]) -> str:
    cpu = case.get("cpu_ms_per_fire", {})
    parts = ", ".join(f"{r} {v:.3f}" for r, v in cpu.items() if r != "total")
    total = f"; whole pipeline {cpu['total']:.3f}" if "total" in cpu else ""
    return f"  CPU ms per fire: {parts}{total}"


def _verdict(ok: bool, text: str) -> str:
    return f"{text}: {'met' if ok else 'MISSED'}"


def buckets(text: str, name: str) -> dict[float, float]:
    """Cumulative bucket counts of histogram ``name`` summed over every process's text."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[float, float] = {}
    for family in text_string_to_metric_families(text):
        if family.name != name:
            continue
        for s in family.samples:
            if s.name == f"{name}_bucket":
                le = float(s.labels["le"])
                out[le] = out.get(le, 0.0) + s.value
    return out


def sample_sum(text: str, name: str) -> float:
    """Sample ``name`` (a counter's ``..._total``, a gauge) summed over every process's text."""
    from prometheus_client.parser import text_string_to_metric_families

    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == name
    )


def bucket_quantiles(before: str, after: str, name: str) -> dict[str, float]:
    """p50/p99 (ms) of what ``name`` observed between two scrapes, interpolated within
    buckets: coarse (the bucket bounds), but it says where the lag comes from."""
    b, a = buckets(before, name), buckets(after, name)
    bounds = sorted(a)
    counts = [a[le] - b.get(le, 0.0) for le in bounds]
    total = counts[-1] if counts else 0.0
    out: dict[str, float] = {"count": total}
    for label, q in (("p50", 0.5), ("p99", 0.99)):
        out[label] = round(_interpolate(bounds, counts, q * total) * 1000, 1) if total else 0.0
    return out


def share_within(before: str, after: str, name: str, bound: float) -> float:
    """The share of what histogram ``name`` observed between two scrapes that was at most
    ``bound`` (a bucket bound): exact, unlike a quantile read off buckets."""
    b, a = buckets(before, name), buckets(after, name)
    total = a.get(float("inf"), 0.0) - b.get(float("inf"), 0.0)
    return (a.get(bound, 0.0) - b.get(bound, 0.0)) / total if total else 0.0


def _interpolate(bounds: list[float], cumulative: list[float], rank: float) -> float:
    low, below = 0.0, 0.0
    for le, count in zip(bounds, cumulative, strict=True):
        if count >= rank:
            if le == float("inf"):
                return low
            width = count - below
            return low + (le - low) * ((rank - below) / width if width else 1.0)
        low, below = le, count
    return low
