"""The invoker's side of fan-out (docs/fanout.md; the records are app/store/fanout.py).

Expansion: a fan-out parent's message makes one step -- ``fanout_step`` shard records (those that
exist are kept), their messages published with confirms, the cursor moved
(``fanout_advance.lua``, which also ends the step's lease, the parent's in-flight marker)
-- and, while shards are left to make, publishes the parent's message again for the next
step. No invoker is held for a whole fan-out, and a crash at any point redoes at most one
step: shard ids are deterministic, so a shard made twice is one record and its second
message is a stale copy the admission drops.

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
from app.models import Fire, Tenant
from dispatcher.http.client import DeliveryResult

if TYPE_CHECKING:
    from dispatcher.invoke.invoker import Invoker

log = logging.getLogger("cronhook.invoker")

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
        inv, fanout = self._inv, parent.fanout
        assert fanout is not None
        made = parent.gathered[0]
        end = min(made + inv.settings.fanout_step, fanout.count)
        if made < end:
            shards = [shard_fire(parent, i, _now_ms()) for i in range(made, end)]
            if await inv.store.fanout.make(parent, shards) < 0:
                return  # the parent is gone
            messages = [FireMessage(s.id, tenant.id, 1, s.scheduled_at) for s in shards]
            await inv.bus.publish(messages)
            await events.dispatched(inv.store, messages, shards)
            inv.metrics.shards_made.inc(len(shards))
        await inv.store.fanout.advance(tenant.id, parent.id, lease, end)
        if end < fanout.count:
            await inv.bus.publish([msg])
        log.debug("fan-out %s: %d of %d shards made", parent.id, end, fanout.count)

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
