"""What a dispatcher counts, and the report its heartbeat carries to the fleet view."""

from __future__ import annotations

from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any

from dispatcher.registry import Rates


@dataclass
class DispatcherStats:
    claimed: int = 0
    published: int = 0
    skipped_misfire: int = 0
    skipped_overlap: int = 0
    given_back: int = 0
    lost_leases: int = 0
    lags_ms: deque[float] = field(default_factory=lambda: deque(maxlen=20_000))

    def counters(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if isinstance(v, int)}

    def take_lags(self) -> dict[str, float] | None:
        """p50/p99/max of the publish lags since the last call, then forget them."""
        lags = sorted(self.lags_ms)
        self.lags_ms.clear()
        return percentiles(lags)


def percentiles(sorted_values: list[float]) -> dict[str, float] | None:
    if not sorted_values:
        return None
    n = len(sorted_values)

    def pick(q: float) -> float:
        return round(sorted_values[min(n - 1, int(q * n))], 1)

    return {"p50": pick(0.5), "p99": pick(0.99), "max": round(sorted_values[-1], 1)}


def report(stats: DispatcherStats, rates: Rates, extra: dict[str, Any]) -> dict[str, Any]:
    """The heartbeat's payload: counters, rates per second, publish lag, and ``extra``."""
    counters = stats.counters()
    per_second = rates(counters)
    return {
        "counters": counters,
        "claims_per_second": per_second["claimed"],
        "publishes_per_second": per_second["published"],
        "publish_lag_ms": stats.take_lags(),
        **extra,
    }
