"""The dispatcher: time index -> bus.

Each tick claims the due items of every shard under a lease (one pipelined round trip of
atomic per-shard scripts), turns them into fire records and messages, publishes with
confirms, and only then completes the claims (fenced by the owner token). A crash anywhere
before completion leaves the claim to expire; the item returns with its original instant
and the deterministic fire id makes the re-publish recognisable downstream.

Work per tick is O(due items): nothing scans the set of schedules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from dataclasses import dataclass

from app.bus.base import Bus
from app.bus.message import FireMessage
from app.errors import BusUnavailable, CronhookError, StoreUnavailable
from app.logs import fire_fields
from app.metrics import DispatcherMetrics
from app.models import Fire
from app.settings import Settings
from app.store import Store
from app.store.timeindex import ClaimBatch, Claimed, Completion
from dispatcher.fairness import interleave_by_tenant
from dispatcher.planning import fire_message, parse_payload, plan_schedule

log = logging.getLogger("cronhook.dispatcher")

_PUBLISHABLE = frozenset({"new", "dispatched"})


@dataclass
class TickStats:
    claimed: int = 0
    published: int = 0
    skipped: int = 0


class Dispatcher:
    def __init__(
        self,
        store: Store,
        bus: Bus,
        settings: Settings,
        *,
        node_id: str | None = None,
        metrics: DispatcherMetrics | None = None,
    ) -> None:
        self.store = store
        self.bus = bus
        self.settings = settings
        self.node_id = node_id or f"dispatcher-{secrets.token_hex(4)}"
        self.stats = TickStats()
        self.metrics = metrics or DispatcherMetrics()

    def _owner(self) -> str:
        # A fresh token per tick: a completion can only ever fence its own claim.
        return f"{self.node_id}:{secrets.token_hex(6)}"

    async def run(self, stop: asyncio.Event) -> None:
        log.info("dispatcher started", extra={"node": self.node_id})
        backoff = 0.1
        while not stop.is_set():
            try:
                batch = await self.tick()
                backoff = 0.1
                delay = self._sleep_for(batch)
            except (StoreUnavailable, BusUnavailable) as e:
                self.metrics.tick_errors.inc()
                log.warning("dispatcher tick failed, retrying in %.1fs: %s", backoff, e)
                delay, backoff = backoff, min(backoff * 2, 5.0)
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay)
        log.info("dispatcher stopped", extra={"node": self.node_id})

    def _sleep_for(self, batch: ClaimBatch) -> float:
        if len(batch.items) >= self.settings.claim_batch:
            return 0.0  # a shard was full: claim again at once
        poll = self.settings.poll_seconds
        if batch.next_due_ms is None:
            return poll
        return max(0.0, min(poll, (batch.next_due_ms - batch.now_ms) / 1000))

    async def tick(self) -> ClaimBatch:
        owner = self._owner()
        lease_ms = int(self.settings.lease_seconds * 1000)
        batch = await self.store.time.claim(owner, lease_ms, self.settings.claim_batch)
        self.metrics.on_claim((c.item for c in batch.items), batch.reclaimed)
        if batch.items:
            await self._process(owner, batch)
        return batch

    async def _process(self, owner: str, batch: ClaimBatch) -> None:
        fires, messages, completions = await self._plan(batch)
        try:
            statuses = await self.store.fires.create_many(fires)
            for fire, status in zip(fires, statuses, strict=True):
                if status in _PUBLISHABLE:
                    messages.append(FireMessage(fire.id, fire.tenant_id, 1, fire.scheduled_at))
            await self.bus.publish(interleave_by_tenant(messages))
        except (StoreUnavailable, BusUnavailable, asyncio.CancelledError):
            # Give every claim back at its original instant instead of waiting out the lease
            # (also when cancelled: a shutdown that ran out of time).
            with contextlib.suppress(CronhookError):
                await self.store.time.complete(
                    owner, [Completion(c.item, c.due_ms) for c in batch.items]
                )
            raise
        self.metrics.on_publish(messages)
        if log.isEnabledFor(logging.DEBUG):
            for m in messages:
                log.debug("fire published", extra=fire_fields(m.fire_id, m.tenant_id, m.attempt))
        results = await self.store.time.complete(owner, completions)
        lost = sum(1 for r in results if r == 0)
        self.metrics.on_lost(lost)
        if lost:
            log.warning("%d claims were lost to lease expiry before completion", lost)
        self.stats.claimed += len(batch.items)
        self.stats.published += len(messages)

    async def _plan(
        self, batch: ClaimBatch
    ) -> tuple[list[Fire], list[FireMessage], list[Completion]]:
        fires: list[Fire] = []
        messages: list[FireMessage] = []
        completions: list[Completion] = []
        sched_items: list[tuple[Claimed, dict[str, str]]] = []
        for c in batch.items:
            data = parse_payload(c.payload)
            if data.get("k") == "s":
                sched_items.append((c, data))
            elif data.get("k") == "f":
                messages.append(fire_message(data))
                completions.append(Completion(c.item, -1))
            else:
                log.error("dropping unreadable time-index item %s", c.item)
                completions.append(Completion(c.item, -1))
        schedules = await self.store.records.get_schedules(
            [(d["t"], d["s"]) for _, d in sched_items]
        )
        for (c, _), s in zip(sched_items, schedules, strict=True):
            if s is None or s.paused:
                completions.append(Completion(c.item, -1))
                continue
            try:
                plan = plan_schedule(s, c.due_ms, batch.now_ms)
            except (ValueError, CronhookError) as e:
                log.error(
                    "schedule %s cannot be planned, dropping its item: %s",
                    s.id,
                    e,
                    extra={"schedule_id": s.id, "tenant_id": s.tenant_id},
                )
                completions.append(Completion(c.item, -1))
                continue
            fires.extend(plan.fires)
            self.stats.skipped += plan.skipped
            self.metrics.skipped.inc(plan.skipped)
            completions.append(Completion(c.item, plan.next_due_ms))
        return fires, messages, completions
