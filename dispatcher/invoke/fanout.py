"""The invoker's side of fan-out (docs/fanout.md; the records are app/store/fanout.py).

Expansion: a fan-out parent's message makes one step, under a short lease (the parent's
in-flight marker, taken by ``fire_begin.lua``): ``fanout_step`` shard records (those that
exist are kept); then the cursor moves, the range is noted as pending and the lease ends
(``fanout_advance.lua``); then the parent's message for the next step is published
*first*, so the next step runs beside the deliveries of this one instead of queueing
behind them, and this step's shard messages after it, with confirms; then the range is no
longer pending. No invoker is held for a whole fan-out. A crash before the cursor moves
redoes the step (shard ids are deterministic: a shard made twice is one record, its second
message a stale copy the admission drops); a crash after it leaves the range pending past
its deadline, and a later step publishes it again. The last step, while ranges of other
steps are pending, looks again once their deadlines have passed.

Gathering: when a shard's outcome is final -- a plain delivery, a long job's completion or
timeout, or a copy dropped because the shard had ended (the crash between recording an
outcome and gathering it) -- ``fanout_gather.lua`` counts it once. The call that sees
every shard ended queues the parent's callbacks, then ends the parent
(``fanout_close.lua``: once), then sends its event.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from app import events
from app.bus.message import FireMessage
from app.fanout import ShardRef, parent_of, shard_id
from app.keys import fire_item
from app.models import Fire, Tenant
from app.payloads import fire_item_payload
from dispatcher.http.client import DeliveryResult

if TYPE_CHECKING:
    from dispatcher.invoke.invoker import Invoker

log = logging.getLogger("cronhook.invoker")

PUBLISH_WINDOW_MS = 15_000  # a step publishes its range within this, or a later one does


def _now_ms() -> int:
    return int(time.time() * 1000)


def shard_fire(parent: Fire, index: int, now_ms: int) -> Fire:
    """Shard ``index`` of ``parent``: its own delivery of the parent's target, with the
    parent's retry policy; no callbacks of its own (the parent's are sent at its end)."""
    fanout = parent.fanout
    assert fanout is not None
    ref = ShardRef(parent.id, index, fanout.count, fanout.param(index))
    return Fire.new(shard_id(parent.id, index), parent.tenant_id, parent.kind,
                    parent.scheduled_at, now_ms, parent.target, parent.retry,
                    status="dispatched", schedule_id=parent.schedule_id,
                    shard=ref)  # fmt: skip


def summary(fire: Fire, succeeded: int, failed: int) -> dict[str, Any]:
    """A parent's gathered counts, as its callback and event carry them."""
    assert fire.fanout is not None
    count = fire.fanout.count
    return {
        "shards": count,
        "max_failed_shards": fire.fanout.max_failed_shards,
        "made": count,
        "succeeded": succeeded,
        "failed": failed,
        "open": count - succeeded - failed,
    }


class FanoutSide:
    def __init__(self, invoker: Invoker) -> None:
        self._inv = invoker

    async def expand(self, parent: Fire, tenant: Tenant, msg: FireMessage, lease: str) -> None:
        """One expansion step of ``parent`` (its lease taken by the admission)."""
        inv, fanout, store = self._inv, parent.fanout, self._inv.store
        assert fanout is not None
        now, made = _now_ms(), parent.gathered[0]
        end = min(made + inv.settings.fanout_step, fanout.count)
        pending = await store.fanout.pending(tenant.id, parent.id)
        shards = [shard_fire(parent, i, now) for i in range(made, end)]
        if shards and await store.fanout.make(parent, shards) < 0:
            return  # the parent is gone
        window = (made, end) if shards else None
        deadline = now + PUBLISH_WINDOW_MS
        await store.fanout.advance(tenant.id, parent.id, lease, end, window, deadline)
        await self._publish(parent, tenant, made, end, [msg] if end < fanout.count else [])
        inv.metrics.shards_made.inc(len(shards))
        for start, stop, due in pending:
            if due <= now:  # its publisher is gone: publish it again
                await self._publish(parent, tenant, start, stop, [])
        if end >= fanout.count and any(due > now for _, _, due in pending):
            # the last step: look again once the other steps' ranges are due
            again = max(due for _, _, due in pending) + 100
            payload = fire_item_payload(tenant.id, parent.id, msg.attempt, parent.scheduled_at)
            await store.time.put(fire_item(parent.id, msg.attempt), payload, again)
        log.debug("fan-out %s: %d of %d shards made", parent.id, end, fanout.count)

    async def _publish(
        self, parent: Fire, tenant: Tenant, start: int, end: int, first: list[FireMessage]
    ) -> None:
        """Publish ``first`` and shards ``start`` to ``end``, then mark the range published."""
        inv = self._inv
        ids = [shard_id(parent.id, i) for i in range(start, end)]
        messages = [FireMessage(s, tenant.id, 1, parent.scheduled_at) for s in ids]
        await inv.bus.publish([*first, *messages])
        if start < end:
            await inv.store.fanout.published(tenant.id, parent.id, start, end)
            await events.dispatched(inv.store, messages, [])

    async def gather(self, tenant: Tenant, fire_id: str) -> None:
        """Count the final outcome of shard ``fire_id`` into its parent (nothing for a fire
        that is not a shard, or a shard not ended); end the parent after its last shard."""
        ref = parent_of(fire_id)
        if ref is None:
            return
        inv, parent_id = self._inv, ref[0]
        got = await inv.store.fanout.gather(tenant.id, parent_id, fire_id)
        if got.state != "end":
            return
        parent = await inv.store.fires.get_record(tenant.id, parent_id)
        if parent is None or parent.fanout is None:
            return
        assert got.status is not None
        now = _now_ms()
        counts = summary(parent, got.succeeded, got.failed)
        started = parent.first_attempt_at or parent.created_at
        result = DeliveryResult(
            status_code=None,
            error=None if got.status == "succeeded" else "shards_failed",
            duration_ms=float(max(now - started, 0)),
            excerpt="",
            retry_after_seconds=None,
        )
        # the callbacks first (idempotent: deterministic ids), then the end, once
        await inv.callbacks.outcome(parent, got.round + 1, got.status, result, now, fanout=counts)
        state, status = await inv.store.fanout.close(tenant.id, parent.id, parent.schedule_id, now)
        if state != "closed" or status is None:
            return
        inv.metrics.fanouts_ended.labels(status).inc()
        await events.fanout_ended(inv.store, parent, status, counts, now)
        log.info(
            "fan-out %s: %s (%d succeeded, %d failed)",
            parent.id,
            status,
            got.succeeded,
            got.failed,
        )
