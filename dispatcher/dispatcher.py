"""The dispatcher: time index -> bus.

The loop claims, from every shard in one round trip, the items due within the lookahead
(``CRONHOOK_LOOKAHEAD_SECONDS``) under a lease, and hands each claimed batch to a task:

1. prepare, ahead of the instant: read the schedules, plan the fires (misfire policy),
   create the fire records (overlap ``allow``);
2. at each instant of the batch (Redis time, tracked with the monotonic clock): create the
   overlap-``forbid`` fires (the check belongs to the instant), publish with confirms, and
   only then complete the claims, fenced by the owner token.

A crash anywhere before completion leaves the claim to expire; the item returns with its
original instant and the deterministic fire id makes the re-publish recognisable. A batch
that would publish after its lease is over gives its items back instead. Work per tick is
O(due items): nothing scans the set of schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from app import events
from app.bus.base import Bus
from app.bus.message import FireMessage
from app.errors import BusUnavailable, CronhookError, StoreUnavailable
from app.logs import fire_fields
from app.metrics import DispatcherMetrics
from app.models import Fire
from app.settings import Settings
from app.store import Store
from app.store.timeindex import ClaimBatch, Completion
from dispatcher.fairness import interleave_by_tenant
from dispatcher.planning import BatchPlan, Release, merge_releases, parse_payload, plan_batch
from dispatcher.registry import Clock, Heartbeat, Rates, beating
from dispatcher.schedules import ScheduleReader
from dispatcher.stats import DispatcherStats, report

log = logging.getLogger("cronhook.dispatcher")

_PUBLISHABLE = frozenset({"new", "dispatched"})
MAX_BATCHES_IN_FLIGHT = 32  # claimed batches waiting for their instants or publishing
MAX_SENDING = 8  # releases of one batch publishing at once (each awaits its confirms)
SHORT_WAIT_S = 0.05  # waits shorter than this sleep instead of watching the stop event


@dataclass
class _Batch:
    owner: str
    claim: ClaimBatch
    claimed_at: float  # time.monotonic() when the claim returned
    done: set[str] = field(default_factory=set)  # items completed or given back


class Dispatcher:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        settings: Settings,
        *,
        node_id: str | None = None,
        clock: Clock = time.time,
        metrics: DispatcherMetrics | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.node_id = node_id or f"dispatcher-{secrets.token_hex(4)}"
        self.stats = DispatcherStats()
        self.metrics = metrics or DispatcherMetrics()
        self.heartbeat = Heartbeat(
            store,
            settings,
            role="dispatcher",
            node_id=self.node_id,
            report=self._report,
            clock=clock,
        )
        self._rates = Rates()
        self._schedules = ScheduleReader(store)
        self._inflight: set[asyncio.Task[None]] = set()
        self._stop = asyncio.Event()  # run()'s stop: batches not yet due give their items back
        self._lease_ms = int(settings.lease_seconds * 1000)
        self._lookahead_ms = int(settings.lookahead_seconds * 1000)
        # Dense schedules leave something due just past every lookahead edge: claiming
        # that each millisecond would make a batch per item. A claim covers at least this.
        self._claim_spacing_s = min(settings.poll_seconds, settings.lookahead_seconds / 4)

    # -- the loop ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Claim and dispatch until ``stop``; then finish the batches being published and
        give back the claims of those not yet due. Cancelled (a shutdown out of time), it
        gives back every claim it still holds."""
        log.info("dispatcher started", extra={"node": self.node_id})
        self._stop = stop
        with contextlib.suppress(StoreUnavailable):
            await self.heartbeat.beat()  # the clock is judged before the first claim
        async with beating(self.heartbeat):
            try:
                await self._loop(stop)
                if self._inflight:
                    await asyncio.wait(set(self._inflight))
            finally:
                await self._cancel_inflight()
        log.info("dispatcher stopped", extra={"node": self.node_id})

    async def _loop(self, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            delay = self.settings.poll_seconds
            if not self.heartbeat.clock_ok:
                delay = self.settings.heartbeat_seconds
            elif len(self._inflight) >= MAX_BATCHES_IN_FLIGHT:
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                continue
            else:
                try:
                    batch = await self._claim()
                    backoff = 0.1
                    if batch.claim.items:
                        self._spawn(batch)
                    delay = self._sleep_for(batch.claim)
                except StoreUnavailable as e:
                    self.metrics.tick_errors.inc()
                    log.warning("claim failed, retrying in %.1fs: %s", backoff, e)
                    delay, backoff = backoff, min(backoff * 2, 5.0)
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)

    def _sleep_for(self, claim: ClaimBatch) -> float:
        if len(claim.items) >= self.settings.claim_batch:
            return 0.0  # a shard may be full: claim again at once
        poll = self.settings.poll_seconds
        if claim.next_due_ms is None:
            return poll
        wake = claim.next_due_ms - self._lookahead_ms
        return max(self._claim_spacing_s, min(poll, (wake - claim.now_ms) / 1000))

    def _spawn(self, batch: _Batch) -> None:
        task = asyncio.create_task(self._handle(batch))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)

    async def _cancel_inflight(self) -> None:
        tasks = list(self._inflight)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def tick(self) -> ClaimBatch:
        """Claim once and handle the batch to the end (tests, benchmarks)."""
        batch = await self._claim()
        if batch.claim.items:
            await self._handle(batch)
        return batch.claim

    async def _claim(self) -> _Batch:
        # A fresh token per claim: a completion can only ever fence its own claim.
        owner = f"{self.node_id}:{secrets.token_hex(6)}"
        claim = await self.store.time.claim(
            owner, self._lease_ms, self.settings.claim_batch, lookahead_ms=self._lookahead_ms
        )
        self.stats.claimed += len(claim.items)
        self.metrics.on_claim((c.item for c in claim.items), claim.reclaimed)
        return _Batch(owner, claim, time.monotonic())

    # -- one batch --------------------------------------------------------------------------
    async def _handle(self, batch: _Batch) -> None:
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

    async def _release_all(self, batch: _Batch, plan: BatchPlan) -> None:
        """Release each instant when it comes. Instants already due by then go as one
        release, and a release does not wait for the previous one's confirms (at most
        ``MAX_SENDING`` at once): a batch of schedules a millisecond apart keeps up.
        A failed release fails the batch once the others have settled."""
        pending = deque(plan.releases)
        sending: set[asyncio.Task[None]] = set()
        try:
            while pending and await self._until(batch, pending[0].at_ms):
                now = self._redis_now(batch)
                group = [pending.popleft()]
                while pending and pending[0].at_ms <= now:
                    group.append(pending.popleft())
                release = merge_releases(group)
                sending.add(asyncio.create_task(self._release(batch, release, plan.forbid_ttl_s)))
                if len(sending) >= MAX_SENDING:
                    done, sending = await asyncio.wait(sending, return_when=asyncio.FIRST_COMPLETED)
                    _raise_first(done)
            _raise_first(await _settled(sending))
        except BaseException:
            for task in sending:
                task.cancel()
            await asyncio.gather(*sending, return_exceptions=True)
            raise

    async def _prepare(self, batch: _Batch) -> BatchPlan:
        parsed = [(c, parse_payload(c.payload)) for c in batch.claim.items]
        refs = [(d["t"], d["s"]) for _, d in parsed if d.get("k") == "s" and "t" in d]
        found = iter(await self._schedules.get_many(refs))
        items = [(c, d, next(found) if d.get("k") == "s" and "t" in d else None) for c, d in parsed]
        plan = plan_batch(batch.claim.now_ms, items)
        for item in plan.dropped:
            log.error("dropping unreadable or unplannable time-index item %s", item)
        ahead = [f for r in plan.releases for f in r.fires]
        statuses = iter(await self.store.fires.create_many(ahead))
        for r in plan.releases:
            self._queue(r, r.fires, [next(statuses) for _ in r.fires])
        return plan

    def _queue(self, release: Release, fires: list[Fire], statuses: list[str]) -> None:
        for fire, status in zip(fires, statuses, strict=True):
            if status in _PUBLISHABLE:
                release.messages.append(FireMessage(fire.id, fire.tenant_id, 1, fire.scheduled_at))
            elif status == "skipped":
                self.stats.skipped_overlap += 1

    async def _release(self, batch: _Batch, r: Release, forbid_ttl_s: dict[str, int]) -> None:
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
        self.stats.lags_ms.extend(now - c.due_ms for c in r.items)
        self.metrics.on_publish(r.messages)
        if log.isEnabledFor(logging.DEBUG):
            for m in r.messages:
                log.debug("fire published", extra=fire_fields(m.fire_id, m.tenant_id, m.attempt))
        await events.dispatched(self.store, r.messages, [*r.fires, *r.forbid_fires])
        results = await self.store.time.complete(batch.owner, r.completions)
        batch.done.update(c.item for c in r.items)
        self.stats.published += len(r.messages)
        self.stats.skipped_misfire += r.skipped
        self.metrics.skipped.inc(r.skipped)
        lost = sum(1 for x in results if x == 0)
        self.metrics.on_lost(lost)
        if lost:
            self.stats.lost_leases += lost
            log.warning("%d claims were lost to lease expiry before completion", lost)

    def _lease_margin_ms(self) -> float:
        """A lease ends lease_seconds after the release instant (ti_claim.lua); publishing
        later than this after the instant risks a lease that another dispatcher now holds."""
        return self._lease_ms - self.settings.redis_timeout * 1000

    def _redis_now(self, batch: _Batch) -> float:
        return batch.claim.now_ms + (time.monotonic() - batch.claimed_at) * 1000

    async def _until(self, batch: _Batch, at_ms: int) -> bool:
        """Wait for the instant ``at_ms`` (Redis time); False if stopping came first."""
        wait_s = (at_ms - self._redis_now(batch)) / 1000
        if wait_s <= 0:
            return True
        if self._stop.is_set():
            return False
        if wait_s < SHORT_WAIT_S:  # a timer instead of a task watching the stop event
            await asyncio.sleep(wait_s)
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=wait_s)
            return False
        return True

    async def _give_back(self, batch: _Batch, only: Release | None = None) -> None:
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

    # -- the heartbeat's report -------------------------------------------------------------
    def _report(self) -> dict[str, Any]:
        extra = {
            "batches_in_flight": len(self._inflight),
            "lookahead_seconds": self.settings.lookahead_seconds,
            "lease_seconds": self.settings.lease_seconds,
        }
        return report(self.stats, self._rates, extra)


async def _settled(tasks: set[asyncio.Task[None]]) -> set[asyncio.Task[None]]:
    if tasks:
        await asyncio.wait(tasks)
    return tasks


def _raise_first(done: set[asyncio.Task[None]]) -> None:
    for task in done:
        if not task.cancelled() and (e := task.exception()) is not None:
            raise e
