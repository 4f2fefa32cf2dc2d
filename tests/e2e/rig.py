"""A dispatch rig for process tests: ``cronhook dispatcher`` processes on a Redis (the shared
one or a private one) and the loopback RabbitMQ, schedules written through the store, and a
consumer in the test's loop recording every published fire message. No invoker: what the
fleet published is read off the queue itself."""

from __future__ import annotations

import contextlib
import secrets
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field

from app.bus.message import FireMessage
from app.bus.rabbitmq import RabbitBus
from app.ids import cron_fire_id
from app.keys import schedule_item
from app.models import Misfire, RetrySettings, Schedule, Target, from_ms, to_ms
from app.planning import first_due_ms, timing_of
from app.store import Store, open_store
from tests.e2e.plant import wait_log
from tests.e2e.procs import Fleet, Proc, base_env, fleet

SHARDS = 4
TENANT = "ten_0rig00000000000000000000"
FAST = {
    "CRONHOOK_SHARDS": str(SHARDS),
    "CRONHOOK_LEASE_SECONDS": "3",
    "CRONHOOK_REDIS_TIMEOUT": "1",
    "CRONHOOK_LOOKAHEAD_SECONDS": "0.5",
    "CRONHOOK_POLL_SECONDS": "0.05",
    "CRONHOOK_HEARTBEAT_SECONDS": "0.5",
    "CRONHOOK_SHUTDOWN_SECONDS": "5",
}


@dataclass
class Rig:
    store: Store
    fleet: Fleet
    consumer: RabbitBus
    schedules: list[Schedule] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)  # fire id -> copies published
    scheduled: dict[str, int] = field(default_factory=dict)  # fire id -> scheduled ms

    async def dispatcher(self) -> Proc:
        proc = self.fleet.start("dispatcher")
        await wait_log(proc, "dispatcher started")
        return proc

    async def add(
        self,
        cron: str,
        count: int,
        *,
        policy: str = "fire_all",
        due_ms: int | None = None,
        **kw: object,
    ) -> None:
        """``count`` schedules of ``cron`` (misfire ``policy``), due from their next instant
        (or all at ``due_ms``)."""
        now = await self.store.now_ms()
        for _ in range(count):
            s = Schedule(
                id=f"sch_{secrets.token_hex(12)}",
                tenant_id=TENANT,
                name="rig",
                cron=cron,
                timezone="UTC",
                target=Target(url="http://127.0.0.1:9/never-called"),
                retry=RetrySettings(),
                created_at=now,
                updated_at=now,
                misfire=Misfire(policy=policy, **kw),  # type: ignore[arg-type]
            )
            due = first_due_ms(s, now) if due_ms is None else due_ms
            await self.store.records.put_schedule(s, due)
            self.schedules.append(s)

    async def _record(self, body: bytes) -> None:
        m = FireMessage.decode(body)
        self.seen[m.fire_id] += 1
        self.scheduled[m.fire_id] = m.scheduled_at_ms

    def grid(self, s: Schedule, until_ms: int) -> list[int]:
        """Every instant of ``s`` from its creation to ``until_ms``."""
        timing, out = timing_of(s), []
        at = timing.next_after(from_ms(s.created_at))
        while at is not None and to_ms(at) <= until_ms:
            out.append(to_ms(at))
            at = timing.next_after(at)
        return out

    def published(self, s: Schedule, until_ms: int) -> list[int]:
        """The instants of ``s`` published so far (each once), checked against its grid:
        an id the schedule's grid does not produce fails the test."""
        ids = {cron_fire_id(s.id, ms): ms for ms in self.grid(s, until_ms)}
        mine = [fid for fid in self.seen if self.scheduled[fid] <= until_ms and fid in ids]
        return sorted(ids[fid] for fid in mine)

    def foreign(self, until_ms: int) -> list[str]:
        """Published fire ids that belong to no (schedule, grid instant) pair."""
        known = {cron_fire_id(s.id, ms) for s in self.schedules for ms in self.grid(s, until_ms)}
        return [f for f in self.seen if f not in known and self.scheduled[f] <= until_ms]

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.seen.values())

    async def leases(self) -> int:
        return sum([await self.store.client.zcard(self.store.keys.shard(n).lease)
                    for n in range(SHARDS)])  # fmt: skip

    async def due_at(self, s: Schedule) -> int | None:
        return await self.store.time.due_at(schedule_item(s.id))


def missing(rig: Rig, until_ms: int) -> dict[str, list[int]]:
    """Schedule id -> grid instants up to ``until_ms`` never published."""
    out: dict[str, list[int]] = {}
    for s in rig.schedules:
        gap = sorted(set(rig.grid(s, until_ms)) - set(rig.published(s, until_ms)))
        if gap:
            out[s.id] = gap
    return out


def next_after(rig: Rig, s: Schedule, ms: int) -> int:
    at = timing_of(s).next_after(from_ms(ms))
    assert at is not None
    return to_ms(at)


@contextlib.asynccontextmanager
async def rig(
    redis_url: str, amqp_url: str, prefix: str, queue: str, **env: str
) -> AsyncIterator[Rig]:
    store = open_store(redis_url, prefix=prefix, shards=SHARDS, retention_s=3600, timeout=5)
    consumer = RabbitBus(amqp_url, queue)
    await consumer.start()
    settings = {
        "CRONHOOK_REDIS_URL": redis_url,
        "CRONHOOK_AMQP_URL": amqp_url,
        "CRONHOOK_PREFIX": prefix,
        "CRONHOOK_QUEUE": queue,
        **FAST,
        **env,
    }
    try:
        async with fleet(base_env(**settings)) as f:
            r = Rig(store, f, consumer)
            await consumer.consume(r._record, prefetch=1000)
            yield r
    finally:
        await consumer.drain(1)
        await consumer.purge_and_delete()
        await consumer.aclose()
        with contextlib.suppress(Exception):
            await _delete_prefix(store, prefix)
        await store.aclose()


async def _delete_prefix(store: Store, prefix: str) -> None:
    async for key in store.client.scan_iter(match=f"{prefix}:*", count=1000):
        await store.client.delete(key)


def counts_line(name: str, rig: Rig, expected: int, extra: Iterable[str] = ()) -> str:
    parts = [
        f"{len(rig.schedules)} schedules",
        f"{expected} expected fires",
        f"{len(rig.seen)} distinct published",
        f"{sum(rig.seen.values())} messages",
        f"{rig.duplicates()} duplicates (same fire id)",
        *extra,
    ]
    return f"{name}: " + ", ".join(parts)
