"""The dispatcher: time index -> bus.

The loop claims, from every shard in one round trip, the items due within the lookahead
(``CRONHOOK_LOOKAHEAD_SECONDS``) under a lease, and hands each claimed batch to a task
(dispatcher/dispatch/batches.py: prepare ahead, publish at the instant with confirms, then complete
the claims, fenced by the owner token).

A herd (``CRONHOOK_HERD_SIZE`` items or more due within ``CRONHOOK_HERD_LOOKAHEAD_SECONDS``,
counted by each claim) is claimed and prepared that far ahead instead: reading schedules,
planning and creating fire records are most of a fire's cost, and done seconds before the
instant they leave only the publish for it. Publishing still waits for
``CRONHOOK_PUBLISH_AHEAD_SECONDS``, so the broker's queues do not fill with messages that
fires due sooner would wait behind (docs/scaling.md).

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
from typing import Any

from app.bus.base import Bus
from app.errors import StoreUnavailable
from app.metrics import DispatcherMetrics
from app.settings import Settings
from app.store import Store
from app.store.timeindex import ClaimBatch
from dispatcher.dispatch.batches import Batch, BatchRunner
from dispatcher.dispatch.stats import DispatcherStats, report
from dispatcher.registry import Clock, Heartbeat, Rates, beating

log = logging.getLogger("cronhook.dispatcher")

MAX_BATCHES_IN_FLIGHT = 32  # claimed batches waiting for their instants or publishing
# Claimed items not yet settled, at most: a few seconds of publishing for one dispatcher
# process (~15,000 fires/s on one core), far inside a lease (which runs from the item's
# instant), so a huge herd is claimed as the fleet gets through it rather than all at once.
MAX_ITEMS_IN_FLIGHT = 64_000
# A herd is claimed ahead only while fewer than this are in flight: the rest stays free for
# what falls due before the herd's instant (written after the herd was claimed).
HERD_ITEMS_IN_FLIGHT = 48_000


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
        self._batches = BatchRunner(store, bus, settings, self.stats, self.metrics)
        self._inflight: set[asyncio.Task[None]] = set()
        self._items_in_flight = 0
        self._lease_ms = int(settings.lease_seconds * 1000)
        self._lookahead_ms = int(settings.lookahead_seconds * 1000)
        herd_s = max(settings.herd_lookahead_seconds, settings.lookahead_seconds)
        self._herd_ms = int(herd_s * 1000) if settings.herd_lookahead_seconds > 0 else 0
        self._herd = False  # the last claim counted a herd within the herd lookahead
        # Dense schedules leave something due just past every lookahead edge: claiming
        # that each millisecond would make a batch per item. A claim covers at least this.
        self._claim_spacing_s = min(settings.poll_seconds, settings.lookahead_seconds / 4)

    # -- the loop ---------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Claim and dispatch until ``stop``; then finish the batches being published and
        give back the claims of those not yet due. Cancelled (a shutdown out of time), it
        gives back every claim it still holds."""
        log.info("dispatcher started", extra={"node": self.node_id})
        self._batches.stop = stop
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
            elif self._full():
                await asyncio.wait(self._inflight, return_when=asyncio.FIRST_COMPLETED)
                continue
            else:
                try:
                    horizon_ms = self._horizon_ms()
                    batch = await self._claim(horizon_ms)
                    backoff = 0.1
                    if batch.claim.items:
                        self._spawn(batch)
                    delay = self._sleep_for(batch.claim, horizon_ms)
                except StoreUnavailable as e:
                    self.metrics.tick_errors.inc()
                    log.warning("claim failed, retrying in %.1fs: %s", backoff, e)
                    delay, backoff = backoff, min(backoff * 2, 5.0)
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)

    def _horizon_ms(self) -> int:
        """How far ahead the next claim reaches: the herd lookahead while the last claim
        counted a herd and there is room for it, else the lookahead."""
        if self._herd and self._items_in_flight < HERD_ITEMS_IN_FLIGHT:
            return self._herd_ms  # never 0 here: a herd is only counted with a window
        return self._lookahead_ms

    def _sleep_for(self, claim: ClaimBatch, horizon_ms: int) -> float:
        if len(claim.items) >= self.settings.claim_batch:
            return 0.0  # a shard may be full: claim again at once
        if self._horizon_ms() > horizon_ms:
            return 0.0  # a herd is coming: claim it now
        poll = self.settings.poll_seconds
        if claim.next_due_ms is None:
            return poll
        wake = claim.next_due_ms - horizon_ms
        return max(self._claim_spacing_s, min(poll, (wake - claim.now_ms) / 1000))

    def _full(self) -> bool:
        """Enough claimed: more would wait behind these and could outlive its lease."""
        return (
            len(self._inflight) >= MAX_BATCHES_IN_FLIGHT
            or self._items_in_flight >= MAX_ITEMS_IN_FLIGHT
        )

    def _spawn(self, batch: Batch) -> None:
        task = asyncio.create_task(self._batches.handle(batch))
        self._inflight.add(task)
        n = len(batch.claim.items)
        self._items_in_flight += n

        def done(t: asyncio.Task[None]) -> None:
            self._inflight.discard(t)
            self._items_in_flight -= n

        task.add_done_callback(done)

    async def _cancel_inflight(self) -> None:
        tasks = list(self._inflight)
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def tick(self) -> ClaimBatch:
        """Claim once and handle the batch to the end (tests, benchmarks)."""
        batch = await self._claim(self._horizon_ms())
        if batch.claim.items:
            await self._batches.handle(batch)
        return batch.claim

    async def _claim(self, horizon_ms: int) -> Batch:
        # A fresh token per claim: a completion can only ever fence its own claim.
        owner = f"{self.node_id}:{secrets.token_hex(6)}"
        claim = await self.store.time.claim(
            owner,
            self._lease_ms,
            self.settings.claim_batch,
            lookahead_ms=horizon_ms,
            window_ms=self._herd_ms,
        )
        # A herd starts at herd_size items due within the window and lasts until a claim
        # leaves none there: the herd's tail is claimed ahead too.
        herd = self._herd_ms > 0 and (
            claim.left >= self.settings.herd_size or (self._herd and claim.left > 0)
        )
        if herd and not self._herd:
            self.metrics.herds.inc()
            log.info(
                "a herd is due: claiming %.0f s ahead",
                self._herd_ms / 1000,
                extra={"node": self.node_id, "due_within": claim.left},
            )
        self._herd = herd
        self.stats.claimed += len(claim.items)
        self.metrics.on_claim((c.item for c in claim.items), claim.reclaimed)
        return Batch(owner, claim, time.monotonic())

    # -- the heartbeat's report -------------------------------------------------------------
    def _report(self) -> dict[str, Any]:
        extra = {
            "batches_in_flight": len(self._inflight),
            "lookahead_seconds": self.settings.lookahead_seconds,
            "claim_horizon_seconds": self._horizon_ms() / 1000,
            "lease_seconds": self.settings.lease_seconds,
        }
        return report(self.stats, self._rates, extra)
