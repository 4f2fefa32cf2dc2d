"""Per-tenant delivery limits: a rate limit with burst (GCRA) and max concurrent deliveries.

Both are enforced in Redis by ``fire_begin.lua``, in the same atomic step that takes the
fire's in-flight marker, so a duplicate or stale copy of a fire never spends the tenant's
budget, and the check and the taking of a slot cannot interleave across invokers.

- Rate: GCRA with emission interval ``1000 / per_second`` ms and tolerance for ``burst``
  requests at once. A fire over the rate is deferred to the exact moment it conforms, and
  that moment is reserved for it (the arrival time moves on), so a backlog of N fires drains
  at the rate in N deferrals, not N^2.
- Concurrency: a sorted set of slots (one per attempt in flight, expiring with the attempt's
  deadline plus a margin, so a killed invoker's slot frees itself). A fire over
  ``max_concurrency`` is deferred by ``base * 2^deferrals`` (capped, jittered, and never past
  the earliest slot expiry): the moment a slot frees is not knowable in advance, so it is
  polled, with backoff so a long backlog does not spin.

A deferral puts the fire back in the time index with the same attempt number: it uses no
retry attempt, and is counted in the fire's ``deferrals``. The check happens before the
webhook call, so a tenant whose endpoint hangs holds at most ``max_concurrency`` delivery
slots fleet-wide, each for at most its attempt deadline; its other messages are deferred
in about a millisecond each and free the invoker's prefetch slot at once.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from app.models import TenantLimits
from app.store.fires import LimitArgs

__all__ = [
    "RECHECK_BASE_MS",
    "RECHECK_CAP_MS",
    "Admission",
    "limit_args",
    "parse_admission",
]

RECHECK_BASE_MS = 100
RECHECK_CAP_MS = 5000

State = Literal["go", "fanout", "missing", "done", "stale", "changed", "busy", "limit"]


@dataclass(frozen=True)
class Admission:
    """``fire_begin.lua``'s answer: go, expand (fanout: a fan-out parent's step), drop
    (missing, done, stale), plan again (changed: the fire's schedule changed before its
    first attempt), or wait ``wait_ms``
    (busy: another invoker has the attempt in flight; limit: over ``reason``, which is
    ``rate`` or ``concurrency``, until ``at_ms`` on the limiter's clock, Redis TIME)."""

    state: State
    wait_ms: int = 0
    reason: str = ""
    at_ms: int | None = None


def limit_args(
    limits: TenantLimits, *, rng: random.Random | None = None, clock_ms: int | None = None
) -> LimitArgs:
    """The tenant's limits as the script takes them; a per-second rate <= 0 or a
    concurrency <= 0 means unlimited."""
    rate = limits.rate_limit
    return LimitArgs(
        interval_ms=1000.0 / rate.per_second if rate.per_second > 0 else 0.0,
        burst=max(1, int(rate.burst)),
        max_concurrency=max(0, int(limits.max_concurrency)),
        recheck_base_ms=RECHECK_BASE_MS,
        recheck_cap_ms=RECHECK_CAP_MS,
        jitter=(rng or random).uniform(0.5, 1.0),
        clock_ms=clock_ms,
    )


def parse_admission(answer: str) -> Admission:
    if answer in ("go", "fanout", "missing", "done", "stale", "changed"):
        return Admission(answer)  # type: ignore[arg-type]
    kind, _, rest = answer.partition(":")
    if kind == "busy":
        return Admission("busy", max(int(rest), 0))
    if kind == "limit":
        reason, wait, at = rest.split(":")
        return Admission("limit", max(int(float(wait)), 1), reason, int(float(at)))
    raise ValueError(f"unexpected answer from fire_begin: {answer!r}")
