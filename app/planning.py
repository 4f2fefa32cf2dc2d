"""Pure: what a claimed time-index item turns into (fires to publish, the next instant),
and how a claimed batch splits into releases, one per instant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from app import cron
from app.bus.message import FireMessage
from app.errors import CronhookError
from app.ids import cron_fire_id
from app.jobs.state import watch_step
from app.misfire import plan_misfire, still_fires
from app.models import Fire, Schedule, from_ms, to_ms
from app.payloads import JobWatch, ScheduleRef
from app.store.skips import Skip
from app.store.timeindex import Claimed, Completion

LATE_TOLERANCE_MS = 1000  # plan_misfire's late_tolerance_seconds: a release this late is on time
# An overlap-forbid marker outlives the longest delivery a fire can have: its retry window,
# one more request, and slack for the queue.
_MARKER_SLACK_S = 300


@dataclass(frozen=True)
class ItemPlan:
    fires: tuple[Fire, ...]  # new fire records to create, then publish
    next_due_ms: int  # -1 = the item is finished
    skipped: int = 0


def timing_of(s: Schedule) -> cron.Timing:
    anchor = from_ms(s.start_at if s.start_at is not None else s.created_at)
    return cron.parse(s.cron, s.timezone, seed=s.id, anchor=anchor)


def first_due_ms(s: Schedule, now_ms: int) -> int | None:
    """The first instant a new (or resumed, or edited) schedule fires, strictly after now."""
    after = now_ms if s.start_at is None else max(now_ms, s.start_at - 1)
    nxt = timing_of(s).next_after(from_ms(after))
    if nxt is None:
        return None
    ms = to_ms(nxt)
    if s.end_at is not None and ms > s.end_at:
        return None
    return ms


def schedule_stamp(s: Schedule) -> str:
    """What a fire keeps of the schedule it was planned from, to see at its first attempt
    whether the schedule changed since (``fire_begin.lua``): its version and the time of
    its last write, which every write changes (a schedule deleted and made again with the
    same id starts again at version 1, at a later time)."""
    return f"{s.version}:{s.updated_at}"


def plan_schedule(s: Schedule, due_ms: int, now_ms: int, created_ms: int | None = None) -> ItemPlan:
    """Fires for a schedule item due at ``due_ms``, planned as of ``now_ms`` (the instant
    it is released); ``created_ms`` (default ``now_ms``) stamps the new fire records."""
    stamp = now_ms if created_ms is None else created_ms
    timing = timing_of(s)
    plan = plan_misfire(
        timing,
        from_ms(due_ms),
        from_ms(now_ms),
        policy=s.misfire.policy,
        grace_seconds=s.misfire.grace_seconds,
    )
    fires = []
    seen = schedule_stamp(s)
    for at in plan.fires:
        ms = to_ms(at)
        if s.end_at is not None and ms > s.end_at:
            continue
        fires.append(Fire.of_schedule(s, cron_fire_id(s.id, ms), "cron", ms, stamp,
                                      status="dispatched", schedule_stamp=seen))  # fmt: skip
    nxt = -1 if plan.next_at is None else to_ms(plan.next_at)
    if s.end_at is not None and nxt > s.end_at:
        nxt = -1
    return ItemPlan(tuple(fires), nxt, plan.skipped)


def replanned(fire: Fire, s: Schedule | None) -> Fire | str:
    """A cron fire about to be attempted for the first time whose schedule changed after it
    was planned: ``s`` is the schedule now (None: deleted). The fire planned again from it
    (same id and instant, the schedule's target, retry settings, callbacks and fan-out), or
    why it is skipped: ``deleted``, ``paused``, or ``edited`` (the schedule no longer fires
    at the fire's instant)."""
    if s is None:
        return "deleted"
    if s.paused:
        return "paused"
    try:
        due = first_due_ms(s, fire.scheduled_at - 1)
    except (ValueError, CronhookError):
        return "edited"
    if due != fire.scheduled_at:
        return "edited"
    return Fire.of_schedule(s, fire.id, "cron", fire.scheduled_at, fire.created_at,
                            status="dispatched", schedule_stamp=schedule_stamp(s))  # fmt: skip


@dataclass
class Release:
    """Everything a claimed batch does at one instant ``at_ms`` (the items' due instant, or
    the claim time for overdue items): create the overlap-forbid fires (their check must
    happen at the instant), publish, then complete the items."""

    at_ms: int
    items: list[Claimed] = field(default_factory=list)
    fires: list[Fire] = field(default_factory=list)  # created ahead (overlap allow)
    forbid_fires: list[Fire] = field(default_factory=list)  # created at the instant
    messages: list[FireMessage] = field(default_factory=list)  # ready (retries, messages)
    completions: list[Completion] = field(default_factory=list)
    skipped: int = 0  # instants the misfire policy did not fire
    skips: list[Skip] = field(default_factory=list)  # the same and overlap skips, per schedule
    schedules: dict[str, Schedule] = field(default_factory=dict)  # of its cron fires, by id


def merge_releases(releases: list[Release]) -> Release:
    """Releases that are all due now, as one (at the earliest instant)."""
    if len(releases) == 1:
        return releases[0]
    out = Release(releases[0].at_ms)
    for r in releases:
        out.items += r.items
        out.fires += r.fires
        out.forbid_fires += r.forbid_fires
        out.messages += r.messages
        out.completions += r.completions
        out.skipped += r.skipped
        out.skips += r.skips
        out.schedules |= r.schedules
    return out


def stale_fires(r: Release, now_ms: float) -> set[str]:
    """The ids of the release's cron fires that their schedule's misfire policy would not
    fire any more, published at ``now_ms``: none while the release is on time; after a
    stall between plan and publish, :func:`app.misfire.still_fires` decides."""
    if now_ms - r.at_ms <= LATE_TOLERANCE_MS:
        return set()
    now = from_ms(int(now_ms))
    out = set()
    for f in (*r.fires, *r.forbid_fires):
        s = r.schedules.get(f.schedule_id or "")
        if s is not None and not still_fires(
            timing_of(s),
            from_ms(f.scheduled_at),
            now,
            policy=s.misfire.policy,
            grace_seconds=s.misfire.grace_seconds,
        ):
            out.add(f.id)
    return out


@dataclass
class BatchPlan:
    releases: list[Release]  # oldest instant first
    forbid_ttl_s: dict[str, int]  # schedule id -> active-fire marker lifetime
    dropped: list[str] = field(default_factory=list)  # unreadable or unplannable items


def marker_ttl_s(s: Schedule) -> int:
    """A running long job holds the marker too: its last attempt may start at the end of
    the retry window and then run for its whole timeout. A fan-out fire holds it until its
    last shard ends: one more target timeout per shard (docs/fanout.md)."""
    job = s.target.job.timeout_seconds if s.target.job else 0
    shards = s.fanout.count * s.target.timeout_seconds if s.fanout else 0
    longest = s.retry.max_retry_seconds + s.target.timeout_seconds + job + shards
    return int(longest) + _MARKER_SLACK_S


def _plan_watch(rel: Release, c: Claimed, watch: JobWatch, fields: Sequence[str | None]) -> None:
    """A long job's watch item (app/jobs/state.py ``watch_step``), as of its release."""
    step = watch_step(fields, watch.attempt, rel.at_ms)
    if step.action == "settle":
        rel.messages.append(watch.settle_message())
    rel.completions.append(Completion(c.item, step.due_ms if step.action == "retime" else -1))


def plan_batch(
    now_ms: int,
    items: Sequence[tuple[Claimed, ScheduleRef | FireMessage | JobWatch | None, Schedule | None]],
    jobs: Mapping[str, Sequence[str | None]] | None = None,
) -> BatchPlan:
    """Split a claimed batch into releases. ``items`` pairs each claimed item with its
    parsed payload and, for schedule items, the schedule (None: deleted); ``jobs`` maps a
    long job's watch item to its job's WATCH_FIELDS. A schedule item is planned as of its
    release instant, so an item claimed ahead is on time; a missing or paused schedule
    finishes its item; an unplannable one is dropped (and reported)."""
    by_at: dict[int, Release] = {}
    forbid: dict[str, int] = {}
    dropped: list[str] = []
    for c, item, s in items:
        at = max(c.due_ms, now_ms)
        rel = by_at.get(at)
        if rel is None:
            rel = by_at[at] = Release(at)
        rel.items.append(c)
        if isinstance(item, FireMessage):
            rel.messages.append(item)
            rel.completions.append(Completion(c.item, -1))
            continue
        if isinstance(item, JobWatch):
            _plan_watch(rel, c, item, (jobs or {}).get(c.item) or [None] * 5)
            continue
        if item is None or s is None or s.paused:
            if item is None:
                dropped.append(c.item)
            rel.completions.append(Completion(c.item, -1))
            continue
        try:
            plan = plan_schedule(s, c.due_ms, at, created_ms=now_ms)
        except (ValueError, CronhookError):
            dropped.append(c.item)
            rel.completions.append(Completion(c.item, -1))
            continue
        if s.overlap == "forbid":
            forbid[s.id] = marker_ttl_s(s)
            rel.forbid_fires.extend(plan.fires)
        else:
            rel.fires.extend(plan.fires)
        rel.skipped += plan.skipped
        if plan.skipped:
            rel.skips.append(Skip(s.tenant_id, s.id, "misfire", plan.skipped))
        if plan.fires:
            rel.schedules[s.id] = s
        rel.completions.append(Completion(c.item, plan.next_due_ms))
    return BatchPlan([by_at[k] for k in sorted(by_at)], forbid, dropped)
