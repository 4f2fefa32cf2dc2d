"""Fleet membership: heartbeats into the registry (``store.nodes``) and the clock guard.

Every dispatcher and invoker process beats every ``CRONHOOK_HEARTBEAT_SECONDS``: its role,
host, pid, start time, counters and rates, and how far its clock is from Redis TIME. The
admin route ``GET /v1/admin/fleet`` shows the result. A process that stops beating is shown
as lost; its claims come back through lease expiry, not through the registry, so a wrong
liveness guess can never double a fire.

The clock guard: each beat reads Redis TIME between two readings of the local clock and
keeps the sample with the shortest round trip. A dispatcher whose clock is provably further
than ``CRONHOOK_MAX_CLOCK_SKEW_SECONDS`` from Redis (the skew minus half the round trip
exceeds the bound) stops claiming, logs why, and reports ``state: "clock_skewed"`` until a
later beat finds the clock back within the bound.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from app.errors import StoreUnavailable
from app.settings import Settings
from app.store import Store

log = logging.getLogger("cronhook.fleet")

Clock = Callable[[], float]  # wall-clock seconds since the epoch, like time.time
_SAMPLES = 3


@dataclass(frozen=True)
class SkewReading:
    redis_ms: int  # Redis TIME of the best sample
    skew_ms: float  # local clock minus Redis TIME; positive: the local clock is ahead
    uncertainty_ms: float  # half the round trip of the best sample


async def measure_skew(store: Store, clock: Clock, samples: int = _SAMPLES) -> SkewReading:
    best: SkewReading | None = None
    for _ in range(samples):
        local_ms = clock() * 1000
        started = time.monotonic()
        redis_ms = await store.now_ms()
        half_rtt = (time.monotonic() - started) * 500
        reading = SkewReading(redis_ms, local_ms + half_rtt - redis_ms, half_rtt)
        if best is None or reading.uncertainty_ms < best.uncertainty_ms:
            best = reading
    assert best is not None
    return best


class Rates:
    """Per-second rates of growing counters between two calls."""

    def __init__(self) -> None:
        self._last: tuple[float, dict[str, int]] | None = None

    def __call__(self, counters: dict[str, int]) -> dict[str, float]:
        now = time.monotonic()
        last, self._last = self._last, (now, dict(counters))
        if last is None or now <= last[0]:
            return {k: 0.0 for k in counters}
        span = now - last[0]
        return {k: round((v - last[1].get(k, 0)) / span, 2) for k, v in counters.items()}


class Heartbeat:
    """Beats for one process. ``report`` returns the role's own figures for each beat."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        *,
        role: str,
        node_id: str,
        report: Callable[[], dict[str, Any]],
        clock: Clock = time.time,
    ) -> None:
        self.store = store
        self.settings = settings
        self.role = role
        self.node_id = node_id
        self.report = report
        self.clock = clock
        self.clock_ok = True
        self.skew: SkewReading | None = None
        self.started_ms = int(clock() * 1000)
        self._bound_ms = settings.max_clock_skew_seconds * 1000

    @property
    def ttl_s(self) -> int:
        return max(60, int(self.settings.heartbeat_seconds * 10))

    async def beat(self) -> None:
        """Measure the clock, update the guard, publish the report. Raises StoreUnavailable."""
        reading = await measure_skew(self.store, self.clock)
        self.skew = reading
        self._judge(reading)
        data = {
            "role": self.role,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "started_at_ms": self.started_ms,
            "heartbeat_seconds": self.settings.heartbeat_seconds,
            "clock_skew_ms": round(reading.skew_ms, 1),
            "clock_ok": self.clock_ok,
            "state": "active" if self.clock_ok else "clock_skewed",
            **self.report(),
        }
        await self.store.nodes.beat(self.node_id, data, reading.redis_ms, self.ttl_s)

    def _judge(self, r: SkewReading) -> None:
        off = abs(r.skew_ms)
        if self.clock_ok and off - r.uncertainty_ms > self._bound_ms:
            self.clock_ok = False
            log.error(
                "clock is %.0f ms off Redis TIME (bound %.0f ms): %s stops claiming until "
                "its clock is fixed",
                r.skew_ms,
                self._bound_ms,
                self.node_id,
                extra={"node": self.node_id, "clock_skew_ms": round(r.skew_ms, 1)},
            )
        elif not self.clock_ok and off + r.uncertainty_ms <= self._bound_ms:
            self.clock_ok = True
            log.warning(
                "clock is back within %.0f ms of Redis TIME (%.0f ms): %s claims again",
                self._bound_ms,
                r.skew_ms,
                self.node_id,
                extra={"node": self.node_id, "clock_skew_ms": round(r.skew_ms, 1)},
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Beat until ``stop``; a beat that fails is logged and retried at the next one."""
        while not stop.is_set():
            try:
                await self.beat()
            except StoreUnavailable as e:
                log.warning("heartbeat of %s failed: %s", self.node_id, e)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.settings.heartbeat_seconds)

    async def leave(self) -> None:
        with contextlib.suppress(StoreUnavailable):
            await self.store.nodes.leave(self.node_id)


def counters_report(stats: Any, *, rate_of: str) -> Callable[[], dict[str, Any]]:
    """A ``report`` for a role whose figures are the int fields of a stats object: the
    counters, and the per-second rate of one of them."""
    rates = Rates()

    def report() -> dict[str, Any]:
        counters = {k: v for k, v in vars(stats).items() if isinstance(v, int)}
        return {
            "counters": counters,
            f"{rate_of}_per_second": rates(counters).get(rate_of, 0.0),
        }

    return report


def invoker_heartbeat(store: Store, settings: Settings, invoker: Any) -> Heartbeat:
    """The invoker's heartbeat (its figures: ``invoker.stats``, attempts per second). Its
    clock readings tell the invoker how long to hold fires published ahead, and each beat
    gives the invoker its turn to log the summary of its attempts."""
    counters = counters_report(invoker.stats, rate_of="attempts")

    def report() -> dict[str, Any]:
        invoker.log_summary()
        return counters()

    hb = Heartbeat(store, settings, role="invoker", node_id=invoker.node_id, report=report)
    invoker.skew = lambda: hb.skew
    return hb


@contextlib.asynccontextmanager
async def beating(hb: Heartbeat) -> AsyncIterator[Heartbeat]:
    """Run ``hb`` in the background for the body; leave the registry at the end."""
    stop = asyncio.Event()
    task = asyncio.create_task(hb.run(stop))
    try:
        yield hb
    finally:
        stop.set()
        with contextlib.suppress(Exception):
            await task
        await hb.leave()
