"""One claimed batch, from its claim to its completions.

1. prepare, ahead of the instant: read the schedules, plan the fires (misfire policy),
   create the fire records (overlap ``allow``);
2. ``CRONHOOK_PUBLISH_AHEAD_SECONDS`` before each instant of the batch (Redis time, tracked
   with the monotonic clock): publish with confirms, each message stamped with its instant
   (``not_before_ms``; the invoker holds it until then), and only then complete the claims,
   fenced by the owner token. An instant with overlap-``forbid`` fires goes at the instant
   itself: their check belongs to it (create them, then publish). Releases already due go
   together, and a release does not wait for the previous one's confirms. Releases within
   ``RELEASE_WINDOW_MS`` of the first pending one go together at the last of them: at 500
   fires/s spread over the second, a 5 ms window cut the dispatcher's CPU from ~0.38 to
   ~0.30 cores.

Publishing ahead takes the publish (and the broker's delivery to the invokers) out of the
instant: a herd due at one second is in the invokers, held, when the second comes. It
changes nothing a tenant can see: a claimed instant already fires as it was claimed
(docs/fleet.md), and the claim comes at least as early as the publish.

Whatever is not released (a stop before its instant, a failure) is given back at its
original instant instead of waiting out the lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from dataclasses import dataclass, field, replace

from app import events
from app.bus.base import Bus
from app.bus.message import FireMessage
from app.errors import BusUnavailable, CronhookError, StoreUnavailable
from app.logs import fire_fields
from app.metrics import DispatcherMetrics
from app.models import Fire
from app.payloads import JobWatch, ScheduleRef, read_payload
from app.planning import BatchPlan, Release, merge_releases, plan_batch, stale_fires
from app.settings import Settings
from app.store import Store
from app.store.skips import Skip
from app.store.timeindex import ClaimBatch, Claimed, Completion
from dispatcher.dispatch.fairness import interleave_by_tenant
from dispatcher.dispatch.schedules import ScheduleReader
from dispatcher.dispatch.stats import DispatcherStats

log = logging.getLogger("cronhook.dispatcher")

_PUBLISHABLE = frozenset({"new", "dispatched"})
MAX_SENDING = 8  # releases of one batch publishing at once (each awaits its confirms)
RELEASE_WINDOW_MS = 5  # instants this close to the first pending one go with it (see below)
SHORT_WAIT_S = 0.05  # waits shorter than this sleep instead of watching the stop event


@dataclass
class Batch:
    """A claim under one owner token, and what of it is settled."""

    owner: str
    claim: ClaimBatch
    claimed_at: float  # time.monotonic() when the claim returned
    done: set[str] = field(default_factory=set)  # items completed or given back


class BatchRunner:
    """Handles claimed batches for one dispatcher; ``stop`` is its run's stop event
    (batches not yet due give their items back once it is set)."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        settings: Settings,
        stats: DispatcherStats,
        metrics: DispatcherMetrics,
    ) -> None:
        self.store = store
        self.bus = bus
        self.stats = stats
        self.metrics = metrics
        self.stop = asyncio.Event()
        self._settings = settings
        self._schedules = ScheduleReader(store)
        self._lease_ms = int(settings.lease_seconds * 1000)
        ahead_s = min(settings.publish_ahead_seconds, settings.lookahead_seconds)
        self._ahead_ms = int(ahead_s * 1000)

    async def handle(self, batch: Batch) -> None:
        try:
            plan = await self._prepare(batch)
            await self._release_all(batch, plan)
            await self._give_back(batch)  # whatever a stop left unreleased
        except (StoreUnavailable, BusUnavailable) as e:
            self.metrics.tick_errors.inc()
            log.warning("batch failed, giving its claims back: %s", e)
            await self._give_back(batch)
        except asyncio.CancelledError:
            await self._give_back(batch)  # a shutdown out of time: nothing waits on a lease
            raise
        except Exception:
            log.exception("batch failed; its claims return when their lease ends")

    async def _release_all(self, batch: Batch, plan: BatchPlan) -> None:
        """Release each instant when it comes. Instants already due by then go as one
        release, and a release does not wait for the previous one's confirms (at most
        ``MAX_SENDING`` at once): a batch of schedules a millisecond apart keeps up.
        A failed release fails the batch once the others have settled."""
        pending = deque(plan.releases)
        sending: set[asyncio.Task[None]] = set()
        try:
            while pending and await self._until(batch, self._window_end(pending)):
                now = self._redis_now(batch)
                group = [pending.popleft()]
                while pending and self._goes_at(pending[0]) <= now:
                    group.append(pending.popleft())
                for r in group:
                    if r.at_ms > now:  # published ahead: the invokers hold it until at_ms
                        r.messages = [replace(m, not_before_ms=r.at_ms) for m in r.messages]
                release = merge_releases(group)
                sending.add(asyncio.create_task(self._release(batch, release, plan.forbid_ttl_s)))
                if len(sending) >= MAX_SENDING:
                    done, sending = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                    _raise_first(done)
            if sending:
                await asyncio.wait(sending)
            _raise_first(sending)
        except BaseException:
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
            raise

    async def _prepare(self, batch: Batch) -> BatchPlan:
        parsed = [(c, read_payload(c.payload)) for c in batch.claim.items]
        refs = [d for _, d in parsed if type(d) is ScheduleRef]
        found = iter(await self._schedules.get_many(refs))
        items = [(c, d, next(found) if type(d) is ScheduleRef else None) for c, d in parsed]
        plan = plan_batch(batch.claim.now_ms, items, await self._watched_jobs(parsed))
        for item in plan.dropped:
            log.error("dropping unreadable or unplannable time-index item %s", item)
        ahead = [f for r in plan.releases for f in r.fires]
        statuses = iter(await self.store.fires.create_many(ahead))
        for r in plan.releases:
            self._queue(r, r.fires, [next(statuses) for _ in r.fires])
        return plan

    async def _watched_jobs(
        self, parsed: list[tuple[Claimed, ScheduleRef | FireMessage | JobWatch | None]]
    ) -> dict[str, list[str | None]]:
        """The state of the long jobs whose watch items were claimed (one round trip)."""
        watches = [(c.item, d) for c, d in parsed if type(d) is JobWatch]
        if not watches:
            return {}
        fields = await self.store.jobs.watch_fields([(d.tenant_id, d.fire_id) for _, d in watches])
        return {item: f for (item, _), f in zip(watches, fields, strict=True)}

    def _queue(self, release: Release, fires: list[Fire], statuses: list[str]) -> None:
        for fire, status in zip(fires, statuses, strict=True):
            if status in _PUBLISHABLE:
                release.messages.append(
                    FireMessage(
                        fire.id,
                        fire.tenant_id,
                        1,
                        fire.scheduled_at,
                        schedule_id=(fire.schedule_id or "") if fire.schedule_stamp else "",
                    )
                )
            elif status == "skipped":
                self.stats.skipped_overlap += 1
                if fire.schedule_id:
                    release.skips.append(Skip(fire.tenant_id, fire.schedule_id, "overlap"))

    async def _drop_stale(self, r: Release, now_ms: float) -> None:
        """The misfire policy applied at publish time: a release that comes late (the fleet
        stalled after planning it) publishes only the fires the policy still fires; the
        others are recorded as skipped (reason ``misfire``)."""
        stale = stale_fires(r, now_ms)
        if not stale:
            return
        dropped = [f for f in r.forbid_fires if f.id in stale]  # not created yet: never will be
        r.forbid_fires = [f for f in r.forbid_fires if f.id not in stale]
        queued = [m for m in r.messages if m.fire_id in stale]
        r.messages = [m for m in r.messages if m.fire_id not in stale]
        await self.store.skips.mark_fires(
            [(m.tenant_id, m.fire_id) for m in queued], "misfire", int(now_ms)
        )
        by_id = {f.id: f for f in r.fires}
        for fire in [*dropped, *(by_id[m.fire_id] for m in queued)]:
            if fire.schedule_id:
                r.skips.append(Skip(fire.tenant_id, fire.schedule_id, "misfire"))
        r.skipped += len(dropped) + len(queued)
        log.warning("%d fires published too late for their misfire policy: skipped", len(stale))

    async def _release(self, batch: Batch, r: Release, forbid_ttl_s: dict[str, int]) -> None:
        await self._drop_stale(r, self._redis_now(batch))
        if r.forbid_fires:
            statuses = await self.store.fires.create_many(r.forbid_fires, forbid_ttl_s=forbid_ttl_s)
            self._queue(r, r.forbid_fires, statuses)
        if self._redis_now(batch) > r.at_ms + self._lease_margin_ms():
            log.warning(
                "lease about to end before publishing %d items; giving them back", len(r.items)
            )
            await self._give_back(batch, r)
            return
        await self.bus.publish(interleave_by_tenant(r.messages))
        now = self._redis_now(batch)
        self.stats.lags_ms.extend(max(0.0, now - c.due_ms) for c in r.items)
        self.metrics.on_publish(r.messages)
        if log.isEnabledFor(logging.DEBUG):
            for m in r.messages:
                log.debug("fire published", extra=fire_fields(m.fire_id, m.tenant_id, m.attempt))
        await events.dispatched(self.store, r.messages, [*r.fires, *r.forbid_fires])
        results = await self.store.time.complete(batch.owner, r.completions)
        await self.store.skips.count(r.skips, int(now))
        batch.done.update(c.item for c in r.items)
        self.stats.published += len(r.messages)
        self.stats.skipped_misfire += r.skipped
        self.metrics.skipped.inc(r.skipped)
        lost = sum(1 for x in results if x == 0)
        self.metrics.on_lost(lost)
        if lost:
            self.stats.lost_leases += lost
            log.warning("%d claims were lost to lease expiry before completion", lost)

    def _goes_at(self, r: Release) -> int:
        """When release ``r`` may be published (Redis time): ahead of its instant, or at
        it when it has overlap-forbid fires (their check belongs to the instant)."""
        return r.at_ms if r.forbid_fires else r.at_ms - self._ahead_ms

    def _window_end(self, pending: deque[Release]) -> int:
        """When the next release goes: at the last publish time within ``RELEASE_WINDOW_MS``
        of the first pending one's, so instants a few ms apart share one publish and one
        completion round trip (none published before its own publish time)."""
        end = self._goes_at(pending[0])
        limit = end + RELEASE_WINDOW_MS
        for r in pending:
            at = self._goes_at(r)
            if at > limit:
                break
            end = max(end, at)
        return end

    def _lease_margin_ms(self) -> float:
        """A lease ends lease_seconds after the release instant (ti_claim.lua); publishing
        later than this after the instant risks a lease that another dispatcher now holds."""
        return self._lease_ms - self._settings.redis_timeout * 1000

    def _redis_now(self, batch: Batch) -> float:
        return batch.claim.now_ms + (time.monotonic() - batch.claimed_at) * 1000

    async def _until(self, batch: Batch, at_ms: int) -> bool:
        """Wait for the instant ``at_ms`` (Redis time); False if stopping came first."""
        wait_s = (at_ms - self._redis_now(batch)) / 1000
        if wait_s <= 0:
            return True
        if self.stop.is_set():
            return False
        if wait_s < SHORT_WAIT_S:  # a timer instead of a task watching the stop event
            await asyncio.sleep(wait_s)
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), timeout=wait_s)
            return False
        return True

    async def _give_back(self, batch: Batch, only: Release | None = None) -> None:
        """Return claims at their original instant now instead of waiting out the lease."""
        items = only.items if only else [c for c in batch.claim.items if c.item not in batch.done]
        if not items:
            return
        batch.done.update(c.item for c in items)
        self.stats.given_back += len(items)
        with contextlib.suppress(CronhookError):
            await self.store.time.complete(
                batch.owner, [Completion(c.item, c.due_ms) for c in items]
            )


def _raise_first(done: set[asyncio.Task[None]]) -> None:
    for task in done:
        if not task.cancelled() and (e := task.exception()) is not None:
            raise e
