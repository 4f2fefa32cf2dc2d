"""Fire events for a tenant's live stream (``GET /v1/events``).

The dispatcher and the invoker call :func:`dispatched` and :func:`attempt_finished` (one
line each); events go out on the tenant's Redis pub/sub channel. Publishing is best
effort: an event that cannot be published is logged and dropped, never failing a
delivery (the fire records stay the source of truth). Events are only built and published
for tenants with an open stream (checked at most once a second per process); the stream
endpoint answers only after that long, so a stream hears every event from its answer on.

Event types: ``fire.dispatched`` (published to the queue, every attempt),
``attempt.finished`` (every attempt's outcome), ``fire.succeeded`` and ``fire.failed``
(final); for long jobs (docs/jobs.md) ``fire.running`` (the endpoint answered 202) and
``fire.progress`` (the job reported progress). A fan-out's shards (docs/fanout.md) have
events of their own, with ``shard`` (``{"parent_id", "index", "count"}``); the parent has
one final event when its last shard has ended, with ``fanout`` (the gathered counts).
``schedule_id`` is null for one-off
messages. The dispatcher and the invoker publish independently, so a fast delivery's
``attempt.finished`` may overtake its ``fire.dispatched``; ``attempt`` numbers order them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.models import Attempt, Fire, ms_rfc3339

if TYPE_CHECKING:
    from app.bus.message import FireMessage
    from app.store import Store

log = logging.getLogger("cronhook.events")

TYPES = (
    "fire.dispatched",
    "attempt.finished",
    "fire.succeeded",
    "fire.failed",
    "fire.running",
    "fire.progress",
)
_FINAL = {"succeeded": "fire.succeeded", "failed": "fire.failed"}
LISTENERS_TTL_S = 1.0  # how stale a process's view of open event streams may be


def _at(ms: int | None) -> str | None:
    return None if ms is None else ms_rfc3339(ms)


def dispatched_event(msg: FireMessage, schedule_id: str | None, now_ms: int) -> dict[str, Any]:
    return {
        "type": "fire.dispatched",
        "fire_id": msg.fire_id,
        "schedule_id": schedule_id,
        "at": _at(now_ms),
        "scheduled_at": _at(msg.scheduled_at_ms),
        "status": "dispatched",
        "attempt": msg.attempt,
        "replay": msg.replay,
    }


def attempt_events(
    fire: Fire, attempt: Attempt, status: str, next_ms: int | None, now_ms: int
) -> list[dict[str, Any]]:
    base: dict[str, Any] = {
        "fire_id": fire.id,
        "schedule_id": fire.schedule_id,
        "at": _at(now_ms),
        "scheduled_at": _at(fire.scheduled_at),
        "status": status,
        "attempt": attempt.number,
        "status_code": attempt.status_code,
        "error": attempt.error,
        "outcome": attempt.outcome,
        "replay": attempt.replay,
        "next_attempt_at": _at(next_ms),
    }
    if fire.shard is not None:
        shard = fire.shard
        base["shard"] = {"parent_id": shard.parent_id, "index": shard.index, "count": shard.count}
    out = [{"type": "attempt.finished", **base}]
    if status in _FINAL:
        out.append({"type": _FINAL[status], **base})
    return out


async def publish(store: Store, batch: Sequence[tuple[str, dict[str, Any]]]) -> None:
    """Publish (tenant id, event) pairs; never raises for a store failure. On a single
    Redis, only to channels someone listens to (one PUBSUB NUMSUB first): a dispatcher
    publishing ten thousand fires at one instant then spends nothing on events nobody reads.
    """
    if not batch:
        return
    try:
        batch = await _listened(store, batch)
        frames = [(store.keys.events(tid), json.dumps(event)) for tid, event in batch]
        if not frames:
            return
        if store.cluster:  # a cluster pipeline does not carry PUBLISH: send them side by side
            await asyncio.gather(*(store.client.publish(ch, data) for ch, data in frames))
        else:
            async with store.client.pipeline(transaction=False) as pipe:
                for ch, data in frames:
                    pipe.publish(ch, data)
                await pipe.execute()
    except Exception as e:  # any driver error: an event must never fail a delivery
        log.warning("%d events not published: %r", len(batch), e)


async def _schedule_ids(
    store: Store, messages: Sequence[FireMessage], fires: Sequence[Fire]
) -> dict[str, str | None]:
    """Each published fire's schedule: from the records just created, else (retries,
    triggers, replays, messages) read from the fire records in one pipeline."""
    known: dict[str, str | None] = {f.id: f.schedule_id for f in fires}
    missing = [m for m in messages if m.fire_id not in known]
    if missing:
        try:
            async with store.client.pipeline(transaction=False) as pipe:
                for m in missing:
                    pipe.hget(store.keys.fire(m.tenant_id, m.fire_id), "schedule_id")
                found = await pipe.execute()
        except Exception as e:  # best effort, like the events themselves
            log.warning("schedule ids of %d events not read: %r", len(missing), e)
            found = [None] * len(missing)
        known |= {m.fire_id: sid or None for m, sid in zip(missing, found, strict=True)}
    return known


@dataclass
class _Listeners:
    checked_at: float = -math.inf
    tenants: frozenset[str] = frozenset()


_listeners: weakref.WeakKeyDictionary[Store, _Listeners] = weakref.WeakKeyDictionary()


async def _listening(store: Store, tenant_ids: set[str]) -> set[str]:
    """The tenants among ``tenant_ids`` with an open event stream, from PUBSUB CHANNELS read
    at most once per ``LISTENERS_TTL_S`` per process: when nobody listens, events cost no
    round trip and no encoding. On Redis Cluster a node only knows its own subscribers, so
    every tenant counts as listening there."""
    if store.cluster or not tenant_ids:
        return tenant_ids
    entry = _listeners.setdefault(store, _Listeners())
    now = time.monotonic()
    if now - entry.checked_at >= LISTENERS_TTL_S:
        entry.checked_at = now
        try:
            channels = await store.client.pubsub_channels(store.keys.events_pattern)
            entry.tenants = frozenset(store.keys.events_tenant(str(c)) for c in channels)
        except Exception as e:  # best effort: publish to all rather than drop
            log.warning("event subscribers not listed: %r", e)
            entry.checked_at = -math.inf
            return tenant_ids
    return tenant_ids & entry.tenants


async def dispatched(store: Store, messages: Sequence[FireMessage], fires: Sequence[Fire]) -> None:
    """The dispatcher published ``messages`` (``fires``: the records it created)."""
    listening = await _listening(store, {m.tenant_id for m in messages})
    messages = [m for m in messages if m.tenant_id in listening]
    if not messages:
        return
    schedules = await _schedule_ids(store, messages, fires)
    now = int(time.time() * 1000)
    await publish(
        store,
        [(m.tenant_id, dispatched_event(m, schedules.get(m.fire_id), now)) for m in messages],
    )


async def attempt_finished(
    store: Store, fire: Fire, attempt: Attempt, status: str, next_ms: int | None
) -> None:
    """The invoker recorded ``attempt`` of ``fire``; the fire is now ``status``."""
    if not await _listening(store, {fire.tenant_id}):
        return
    now = int(time.time() * 1000)
    events = attempt_events(fire, attempt, status, next_ms, now)
    await publish(store, [(fire.tenant_id, e) for e in events])


async def _listened(
    store: Store, batch: Sequence[tuple[str, dict[str, Any]]]
) -> Sequence[tuple[str, dict[str, Any]]]:
    """The pairs whose tenant channel has a subscriber now. On Cluster every pair: a
    subscriber may sit on any node, and NUMSUB answers for one."""
    if store.cluster:
        return batch
    tenants = list(dict.fromkeys(tid for tid, _ in batch))
    counts = await store.client.pubsub_numsub(*(store.keys.events(t) for t in tenants))
    heard = {t for t, (_ch, n) in zip(tenants, counts, strict=True) if int(n) > 0}
    return [pair for pair in batch if pair[0] in heard]


async def running(store: Store, fire: Fire, attempt: int, deadline_ms: int) -> None:
    """Attempt ``attempt`` of ``fire``'s long job answered 202 and runs."""
    if not await _listening(store, {fire.tenant_id}):
        return
    event = {
        "type": "fire.running",
        "fire_id": fire.id,
        "schedule_id": fire.schedule_id,
        "at": _at(int(time.time() * 1000)),
        "scheduled_at": _at(fire.scheduled_at),
        "status": "running",
        "attempt": attempt,
        "deadline_at": _at(deadline_ms),
    }
    await publish(store, [(fire.tenant_id, event)])


async def progress(
    store: Store,
    tenant_id: str,
    fire_id: str,
    attempt: int,
    report: dict[str, Any],
    deadline_ms: int,
) -> None:
    """A long job reported progress (``report``: percent, message, data as sent)."""
    if not await _listening(store, {tenant_id}):
        return
    try:
        schedule_id = await store.client.hget(store.keys.fire(tenant_id, fire_id), "schedule_id")
    except Exception as e:  # best effort, like the events themselves
        log.warning("schedule id of a progress event not read: %r", e)
        schedule_id = None
    event = {
        "type": "fire.progress",
        "fire_id": fire_id,
        "schedule_id": schedule_id or None,
        "at": _at(int(time.time() * 1000)),
        "status": "running",
        "attempt": attempt,
        "progress": report,
        "deadline_at": _at(deadline_ms),
    }
    await publish(store, [(tenant_id, event)])


async def fanout_ended(
    store: Store, parent: Fire, status: str, fanout: dict[str, Any], now_ms: int
) -> None:
    """Fan-out parent ``parent`` ended as ``status`` (its last shard has ended)."""
    if not await _listening(store, {parent.tenant_id}):
        return
    event = {
        "type": _FINAL[status],
        "fire_id": parent.id,
        "schedule_id": parent.schedule_id,
        "at": _at(now_ms),
        "scheduled_at": _at(parent.scheduled_at),
        "status": status,
        "fanout": fanout,
    }
    await publish(store, [(parent.tenant_id, event)])
