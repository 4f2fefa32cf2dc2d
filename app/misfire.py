"""The misfire planner: what to fire when a schedule's instant is claimed late.

Pure: given a Timing, the instant the dispatcher claimed (`due_at`) and the current time
(`now`), it says which scheduled instants to fire now, how many to skip, and when next.

Rules, exactly:

* The missed set M is `due_at` plus every instant of the timing in (due_at, now], oldest
  first. `due_at` is trusted as scheduled even if the timing would not produce it (the
  schedule may have been edited since).
* `due_at > now`: nothing is due yet: no fires, nothing skipped, `next_at = due_at`.
* On time: `now - due_at <= late_tolerance_seconds` (default 1.0). Every instant of M is
  fired (normally just `due_at`), whatever the policy. Nothing is skipped.
* Otherwise it is a misfire, and the policy decides:

  ==========  =================================================================
  fire_once   M coalesces into ONE fire of its latest instant, if that instant is
              within `grace_seconds` of now (now - latest <= grace); else none.
              skipped = |M| - fires.
  skip        fire only the instants of M that are themselves on time (now - m <=
              late_tolerance_seconds; usually none). skipped = the rest.
  fire_all    fire the newest `max_fire_all` instants of M, oldest first (all of M
              when it is smaller); the older rest is skipped (stale first).
  ==========  =================================================================

* `next_at` is always the timing's first instant strictly after `now` (None when it has
  no more), so it is never an instant <= now, and every instant <= now is accounted for
  exactly once: fired or skipped.

A fire is planned before it is published (claimed ahead, then released at its instant).
If the fleet stalls in between, :func:`still_fires` applies the same policy at publish
time: a fire published more than `late_tolerance_seconds` late goes out only if the policy
would still fire it then (`skip`: never; `fire_once`: within grace and only if no later
instant of the timing has come meanwhile, since the next claim coalesces those;
`fire_all`: always).

|M| is counted exactly without walking it (`Timing.count_between`), so a per-second
schedule that was down for a week costs no more than one that was down for a minute.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from app.cron import Timing

Policy = Literal["fire_once", "skip", "fire_all"]
POLICIES: tuple[Policy, ...] = ("fire_once", "skip", "fire_all")
_TICK = timedelta(microseconds=1)

__all__ = ["POLICIES", "MisfirePlan", "Policy", "plan_misfire", "still_fires"]


@dataclass(frozen=True)
class MisfirePlan:
    """Scheduled instants to fire now (UTC, oldest first), how many due ones are not fired,
    and the next instant after now (None: the schedule has no more)."""

    fires: tuple[datetime, ...]
    skipped: int
    next_at: datetime | None


def plan_misfire(
    timing: Timing,
    due_at: datetime,
    now: datetime,
    *,
    policy: Policy = "fire_once",
    grace_seconds: float = 60.0,
    max_fire_all: int = 100,
    late_tolerance_seconds: float = 1.0,
) -> MisfirePlan:
    """Plan the fires for a claimed instant; see the module docstring for the rules.

    Raises ValueError for naive datetimes, an unknown policy or negative limits.
    """
    _check(due_at, now, policy, grace_seconds, max_fire_all, late_tolerance_seconds)
    if due_at == now:  # the usual case, an item released at its instant: M = {due_at}
        return MisfirePlan((due_at.astimezone(UTC),), 0, timing.next_after(now))
    due_at, now = due_at.astimezone(UTC), now.astimezone(UTC)
    if due_at > now:
        return MisfirePlan((), 0, due_at)
    after_due = timing.next_after(due_at)
    if after_due is None or after_due > now:  # late, but nothing else fell due meanwhile
        next_at, total = after_due, 1  # (a herd released late: no count, one walk)
    else:
        next_at = timing.next_after(now)
        total = 1 + timing.count_between(due_at, now)
    tolerance = timedelta(seconds=late_tolerance_seconds)
    if now - due_at <= tolerance:
        return MisfirePlan(_newest(timing, due_at, now, total, total), 0, next_at)
    if policy == "fire_once":
        (latest,) = _newest(timing, due_at, now, total, 1)
        fire = now - latest <= timedelta(seconds=grace_seconds)
        return MisfirePlan((latest,) if fire else (), total - int(fire), next_at)
    if policy == "skip":
        on_time = _instants(timing, now - tolerance - _TICK, now)
        return MisfirePlan(on_time, total - len(on_time), next_at)
    keep = min(total, max_fire_all)
    return MisfirePlan(_newest(timing, due_at, now, total, keep), total - keep, next_at)


def _check(
    due_at: datetime,
    now: datetime,
    policy: str,
    grace_seconds: float,
    max_fire_all: int,
    late_tolerance_seconds: float,
) -> None:
    for name, moment in (("due_at", due_at), ("now", now)):
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"{name} must be a timezone-aware datetime, got {moment!r}")
    if policy not in POLICIES:
        raise ValueError(f"unknown misfire policy {policy!r}: use one of {', '.join(POLICIES)}")
    if grace_seconds < 0 or max_fire_all < 0 or late_tolerance_seconds < 0:
        raise ValueError("grace_seconds, max_fire_all and late_tolerance_seconds must be >= 0")


def _instants(timing: Timing, after: datetime, until: datetime) -> tuple[datetime, ...]:
    """Every instant of the timing in (after, until], oldest first."""
    found: list[datetime] = []
    moment = timing.next_after(after)
    while moment is not None and moment <= until:
        found.append(moment)
        moment = timing.next_after(moment)
    return tuple(found)


def _newest(
    timing: Timing, due_at: datetime, now: datetime, total: int, keep: int
) -> tuple[datetime, ...]:
    """The newest `keep` instants of M = {due_at} + timing in (due_at, now], oldest first."""
    if keep <= 0:
        return ()
    if keep >= total:
        return (due_at, *_instants(timing, due_at, now))
    # Largest start s in [due_at, now] with count(s, now] >= keep: then (s, now] holds
    # exactly `keep` instants, found by walking forward from s.
    lo, hi = due_at, now
    while hi - lo > _TICK:
        mid = lo + (hi - lo) // 2
        if timing.count_between(mid, now) >= keep:
            lo = mid
        else:
            hi = mid
    return _instants(timing, lo, now)


def still_fires(
    timing: Timing,
    scheduled: datetime,
    now: datetime,
    *,
    policy: Policy = "fire_once",
    grace_seconds: float = 60.0,
    late_tolerance_seconds: float = 1.0,
) -> bool:
    """Whether a fire planned for ``scheduled`` still goes out when published at ``now``
    (see the module docstring): the policy applied at publish time."""
    late = now - scheduled
    if late <= timedelta(seconds=late_tolerance_seconds) or policy == "fire_all":
        return True
    if policy == "skip" or late > timedelta(seconds=grace_seconds):
        return False
    later = timing.next_after(scheduled)
    return later is None or later > now
