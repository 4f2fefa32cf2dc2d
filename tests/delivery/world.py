"""A delivery world on the real Redis and RabbitMQ: a dispatcher and an invoker running in
the test's loop, tenants, schedules and one-off fires written straight into the store, and
helpers to wait for outcomes. Each world has its own key prefix and queues."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from app.bus.message import FireMessage
from app.bus.rabbitmq import RabbitBus
from app.ids import new_id, new_signing_secret
from app.keys import fire_item
from app.models import (
    FINAL_STATUSES,
    Fire,
    Misfire,
    RateLimit,
    RetrySettings,
    Schedule,
    SigningSecret,
    Target,
    Tenant,
    TenantLimits,
)
from app.payloads import fire_item_payload
from app.planning import first_due_ms
from app.settings import Settings
from app.store import Store, open_store
from dispatcher.dispatch.dispatcher import Dispatcher
from dispatcher.http.client import Resolver, WebhookClient
from dispatcher.invoke.invoker import Invoker
from tests.conftest import delete_prefix

FAST_RETRY = RetrySettings(
    max_attempts=4, min_backoff_seconds=0.2, max_backoff_seconds=0.4, max_retry_seconds=60
)


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class World:
    store: Store
    bus: RabbitBus
    settings: Settings
    invokers: list[Invoker] = field(default_factory=list)
    clients: list[WebhookClient] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def invoker(self) -> Invoker:
        return self.invokers[0]

    async def start_invoker(
        self, *, prefetch: int | None = None, resolver: Resolver | None = None
    ) -> Invoker:
        settings = self.settings
        if prefetch is not None:
            settings = settings.with_(invoker_concurrency=prefetch)
        bus = RabbitBus(
            settings.amqp_url,
            settings.queue,
            queues=settings.queues,
            delivery_limit=settings.delivery_limit,
        )
        await bus.start()
        client = WebhookClient(resolver=resolver)
        invoker = Invoker(self.store, bus, client, settings)
        await invoker.start()
        self.invokers.append(invoker)
        self.clients.append(client)
        return invoker

    def start_dispatcher(self) -> None:
        d = Dispatcher(self.store, self.bus, self.settings)
        self.tasks.append(asyncio.create_task(d.run(self.stop)))

    # -- the tenant's side -------------------------------------------------------------
    async def tenant(
        self,
        *,
        per_second: float = 1000,
        burst: int = 1000,
        max_concurrency: int = 1000,
        private: bool = True,
        secrets: tuple[SigningSecret, ...] | None = None,
    ) -> Tenant:
        now = now_ms()
        t = Tenant(
            id=new_id("ten"),
            name="delivery-test",
            created_at=now,
            limits=TenantLimits(
                rate_limit=RateLimit(per_second=per_second, burst=burst),
                max_concurrency=max_concurrency,
                allowed_private_targets=private,
                min_interval_seconds=0.001,
            ),
            secrets=secrets or (SigningSecret(new_signing_secret(), now),),
        )
        await self.store.records.put_tenant(t)
        return t

    async def schedule(
        self,
        tenant: Tenant,
        url: str,
        *,
        cron: str = "* * * * * *",
        retry: RetrySettings = FAST_RETRY,
        deadline: float = 5.0,
        **changes: Any,
    ) -> Schedule:
        now = now_ms()
        s = Schedule(
            id=new_id("sch"),
            tenant_id=tenant.id,
            name="delivery-test",
            cron=cron,
            timezone="UTC",
            target=Target(url=url, body={"n": 1}, timeout_seconds=deadline),
            retry=retry,
            created_at=now,
            updated_at=now,
            misfire=Misfire(policy="fire_all", grace_seconds=60),
        )
        s = replace(s, **changes)
        await self.store.records.put_schedule(s, first_due_ms(s, now))
        return s

    async def message(
        self,
        tenant: Tenant,
        url: str,
        *,
        due_ms: int | None = None,
        retry: RetrySettings = FAST_RETRY,
        deadline: float = 5.0,
        body: Any = None,
        method: str = "POST",
    ) -> Fire:
        """A one-off fire due at ``due_ms`` (default now), through the time index."""
        due = now_ms() if due_ms is None else due_ms
        fire = Fire(
            id=new_id("fire"),
            tenant_id=tenant.id,
            schedule_id=None,
            kind="message",
            scheduled_at=due,
            status="scheduled",
            created_at=now_ms(),
            updated_at=now_ms(),
            target=Target(url=url, method=method, body=body, timeout_seconds=deadline),
            retry=retry,
        )
        await self.store.fires.create(fire)
        await self.store.time.put(
            fire_item(fire.id), fire_item_payload(tenant.id, fire.id, 1, due), due
        )
        return fire

    async def held_fire(self, tenant: Tenant, url: str, not_before_ms: int) -> Fire:
        """A message fire due at ``not_before_ms``, published now as the dispatcher publishes
        one ahead of its instant (the bus's copy is the only one)."""
        fire = await self.message(tenant, url, due_ms=not_before_ms)
        await self.store.time.remove(fire_item(fire.id))
        await self.bus.publish(
            [FireMessage(fire.id, tenant.id, 1, fire.scheduled_at, not_before_ms=not_before_ms)]
        )
        return fire

    # -- waiting for outcomes -----------------------------------------------------------
    async def fire(self, tenant_id: str, fire_id: str) -> Fire:
        f = await self.store.fires.get(tenant_id, fire_id)
        assert f is not None, f"no fire {fire_id}"
        return f

    async def settled(
        self,
        tenant_id: str,
        fire_ids: Iterable[str],
        *,
        within: float = 20.0,
        statuses: frozenset[str] = FINAL_STATUSES,
    ) -> list[Fire]:
        """Wait until every fire has one of ``statuses``; return them in order."""
        ids = list(fire_ids)
        deadline = time.monotonic() + within
        while True:
            fires = await self.store.fires.get_many(tenant_id, ids)
            if len(fires) == len(ids) and all(f.status in statuses for f in fires):
                return fires
            if time.monotonic() > deadline:
                pending = [await self._explain(f) for f in fires if f.status not in statuses]
                raise AssertionError(f"not settled within {within}s: {pending}")
            await asyncio.sleep(0.05)

    async def _explain(self, f: Fire) -> dict[str, Any]:
        """Where a fire that did not settle is stuck (for the failure message)."""
        nxt = fire_item(f.id, f.attempt_count + 1)
        sk = self.store.keys.shard_for(nxt)
        return {
            "id": f.id,
            "status": f.status,
            "attempts": f.attempt_count,
            "next_attempt_at": f.next_attempt_at,
            "now": now_ms(),
            "item_due": await self.store.time.due_at(nxt),
            "item_claimed": await self.store.client.hget(sk.claimed, nxt),
            "item_pending": await self.store.client.hget(sk.pending, nxt),
            "item_payload": await self.store.client.hget(sk.items, nxt),
        }

    async def aclose(self) -> None:
        self.stop.set()
        for t in self.tasks:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(t, 5)
        for inv in self.invokers:
            await inv.bus.drain(1)
            await inv.bus.aclose()
        for c in self.clients:
            await c.aclose()


@contextlib.asynccontextmanager
async def world(
    redis_url: str,
    amqp_url: str,
    prefix: str,
    queue: str,
    *,
    delivery_limit: int = 5,
    **settings: Any,
) -> AsyncIterator[World]:
    s = Settings(
        redis_url=redis_url,
        amqp_url=amqp_url,
        prefix=prefix,
        queue=queue,
        shards=4,
        redis_timeout=2.0,
        lease_seconds=10.0,
        poll_seconds=0.05,
        invoker_concurrency=16,
        delivery_limit=delivery_limit,
        **settings,
    )
    store = open_store(redis_url, prefix=prefix, shards=4, retention_s=3600, timeout=2)
    bus = RabbitBus(amqp_url, queue, queues=s.queues, delivery_limit=delivery_limit)
    await bus.start()
    w = World(store, bus, s)
    try:
        yield w
    finally:
        await w.aclose()
        await bus.purge_and_delete()
        await bus.aclose()
        await store.aclose()
        await delete_prefix(redis_url, prefix)
