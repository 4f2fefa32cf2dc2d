"""Dispatcher and invoker metrics and log fields, from a real pipeline on both stores:
schedules fire to a loopback receiver through a dispatcher and an invoker in-process."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from app.api import create_app
from app.bus.memory import MemoryBus
from app.logs import JsonFormatter
from app.metrics import DispatcherMetrics, InvokerMetrics, SystemMetrics, new_registry
from app.observe import refresh_gauges
from app.settings import Settings
from app.store import Store
from dispatcher.dispatch.dispatcher import Dispatcher
from dispatcher.http.client import WebhookClient
from dispatcher.invoke.invoker import Invoker
from tests.receiver import Receiver, Reply

ADMIN = "admin-token-for-tests"
FAST_RETRY = {"max_attempts": 3, "min_backoff_seconds": 0.1, "max_backoff_seconds": 0.2}


@dataclass
class Pipeline:
    api: httpx.AsyncClient
    registry: CollectorRegistry
    store: Store
    bus: MemoryBus
    receiver: Receiver
    stop: asyncio.Event

    def value(self, name: str, **labels: str) -> float:
        return self.registry.get_sample_value(name, labels) or 0.0

    async def tenant(self) -> dict[str, Any]:
        r = await self.api.post(
            "/v1/tenants", json={"name": "t"}, headers={"Authorization": f"Bearer {ADMIN}"}
        )
        assert r.status_code == 201, r.text
        body: dict[str, Any] = r.json()
        return body

    async def schedule(self, key: str, path: str, **extra: Any) -> str:
        body = {"name": "m", "cron": "* * * * * *", "target": {"url": self.receiver.url(path)}}
        r = await self.api.post(
            "/v1/schedules", json=body | extra, headers={"Authorization": f"Bearer {key}"}
        )
        assert r.status_code == 201, r.text
        sid: str = r.json()["id"]
        return sid


@pytest.fixture
async def pipeline(store: Store) -> AsyncIterator[Pipeline]:
    registry = new_registry()
    settings = Settings(admin_token=ADMIN, allow_private_targets=True, poll_seconds=0.02)
    bus = MemoryBus()
    app = create_app(store, settings, bus=bus, registry=registry)
    stop = asyncio.Event()
    async with (
        Receiver() as receiver,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://a") as api,
    ):
        yield Pipeline(api, registry, store, bus, receiver, stop)
        stop.set()
        await bus.aclose()


async def run(p: Pipeline, tenants: tuple[str, ...] = ()) -> asyncio.Task[None]:
    settings = Settings(allow_private_targets=True, poll_seconds=0.02)
    client = WebhookClient()
    metrics = InvokerMetrics(p.registry, tenants=tenants)
    await Invoker(p.store, p.bus, client, settings, metrics=metrics).start()
    dispatcher = Dispatcher(p.store, p.bus, settings, metrics=DispatcherMetrics(p.registry))

    async def loop() -> None:
        try:
            await dispatcher.run(p.stop)
        finally:
            await p.bus.drain(2)
            await client.aclose()

    return asyncio.create_task(loop())


async def settle(p: Pipeline, name: str, want: float, **labels: str) -> None:
    for _ in range(200):
        if p.value(name, **labels) >= want:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{name}{labels} = {p.value(name, **labels)}, wanted {want}")


async def delivered(p: Pipeline, count: int, tenant: str = "_other") -> None:
    await settle(p, "cronhook_invoker_deliveries_total", count, outcome="succeeded", tenant=tenant)


async def test_a_retried_then_delivered_fire_shows_in_every_counter(pipeline: Pipeline) -> None:
    p = pipeline
    # given a schedule whose endpoint fails once, then succeeds
    tenant = await p.tenant()
    p.receiver.script("/flaky", Reply(500))
    await p.schedule(tenant["api_key"], "/flaky", retry=FAST_RETRY)
    # when the pipeline runs until a retry and two successes were recorded
    task = await run(p)
    await delivered(p, 2)
    p.stop.set()
    await task
    # then claims, publishes, lags, outcomes, retries and durations all add up
    ok = p.value("cronhook_invoker_deliveries_total", outcome="succeeded", tenant="_other")
    retrying = p.value("cronhook_invoker_deliveries_total", outcome="retrying", tenant="_other")
    assert retrying == 1 and p.value("cronhook_invoker_retries_total") == 1
    assert p.value("cronhook_dispatcher_claimed_total", kind="fire") >= 1  # the retry
    schedule_claims = p.value("cronhook_dispatcher_claimed_total", kind="schedule")
    published = p.value("cronhook_dispatcher_published_total")
    assert schedule_claims >= 2 and published >= ok + retrying
    first_attempts = p.value("cronhook_dispatcher_publish_lag_seconds_count")
    assert first_attempts == published - 1  # every publish but the retry
    assert p.value("cronhook_invoker_delivery_lag_seconds_count", tenant="_other") == ok
    durations = sum(
        p.value("cronhook_invoker_attempt_duration_seconds_count", result=r)
        for r in ("success", "retry")
    )
    assert durations == ok + retrying
    assert p.value("cronhook_invoker_attempt_duration_seconds_count", result="retry") == 1
    assert p.value("cronhook_invoker_in_flight") == 0
    assert p.value("cronhook_dispatcher_publish_lag_seconds_sum") < 5 * first_attempts


async def test_a_fire_that_fails_for_good_counts_as_a_dead_letter(pipeline: Pipeline) -> None:
    p = pipeline
    tenant = await p.tenant()
    await p.schedule(tenant["api_key"], "/status/503", retry={"max_attempts": 1})
    task = await run(p)
    await settle(p, "cronhook_invoker_dead_letters_total", 1)
    p.stop.set()
    await task
    failed = p.value("cronhook_invoker_deliveries_total", outcome="failed", tenant="_other")
    assert failed == p.value("cronhook_invoker_dead_letters_total") >= 1
    assert p.value("cronhook_invoker_retries_total") == 0


async def test_an_attempt_without_a_response_counts_its_error_class(
    pipeline: Pipeline, free_port: int
) -> None:
    # given a schedule whose endpoint refuses connections (nothing listens on the port)
    p = pipeline
    tenant = await p.tenant()
    body = {"name": "m", "cron": "* * * * * *", "target": {"url": f"http://127.0.0.1:{free_port}/"}}
    headers = {"Authorization": f"Bearer {tenant['api_key']}"}
    r = await p.api.post(
        "/v1/schedules", json=body | {"retry": {"max_attempts": 1}}, headers=headers
    )
    assert r.status_code == 201, r.text
    # when it fires
    task = await run(p)
    await settle(p, "cronhook_invoker_attempt_errors_total", 1, error="connect")
    p.stop.set()
    await task
    # then the attempt counts as a connect error, and no other class moved
    text = (await p.api.get("/metrics")).text
    classes = {
        line.split('error="')[1].split('"')[0]
        for line in text.splitlines()
        if line.startswith("cronhook_invoker_attempt_errors_total{")
    }
    assert classes == {"connect"}


async def test_only_named_tenants_get_their_own_label(pipeline: Pipeline) -> None:
    p = pipeline
    named, other = await p.tenant(), await p.tenant()
    await p.schedule(named["api_key"], "/ok")
    await p.schedule(other["api_key"], "/ok")
    task = await run(p, tenants=(named["id"],))
    await delivered(p, 1)
    await delivered(p, 1, tenant=named["id"])
    p.stop.set()
    await task
    text = (await p.api.get("/metrics")).text
    assert other["id"] not in text


async def test_a_dispatcher_counts_the_leases_it_finds_expired(store: Store) -> None:
    # given an item claimed by a dispatcher that died with it
    await store.time.put("f:fire_x", '{"k":"f","t":"ten_x","f":"fire_x","a":1}', 1)
    await store.time.claim("dead", 50, 100)
    await asyncio.sleep(0.2)
    # when a live dispatcher ticks
    metrics = DispatcherMetrics()
    bus = MemoryBus()
    await Dispatcher(store, bus, Settings(), metrics=metrics).tick()
    # then it reclaimed the item, counted the expiry, and published the fire
    assert metrics.leases_expired._value.get() == 1
    assert metrics.claimed.labels("fire")._value.get() == 1
    assert await bus.depth() == 1


async def test_gauges_show_the_time_index_and_queue_depths(store: Store) -> None:
    now = await store.now_ms()
    for n in range(3):
        await store.time.put(f"s:later{n}", "{}", now + 60_000)
    await store.time.put("s:due", "{}", now - 1)
    await store.time.put("s:claimed", "{}", now - 1)
    await store.time.claim("x", 60_000, 1, shards=[store.keys.shard_of("s:claimed")])
    bus = MemoryBus()
    bus.put_raw(b"{}")
    gauges = SystemMetrics()
    await refresh_gauges(gauges, store, bus)
    depth = {s: gauges.time_index.labels(s)._value.get() for s in ("scheduled", "due", "claimed")}
    assert depth == {"scheduled": 3, "due": 1, "claimed": 1}
    assert gauges.queue._value.get() == 1


async def test_gauges_show_how_late_the_oldest_due_item_is_and_the_dead_letters(
    store: Store,
) -> None:
    gauges = SystemMetrics()
    bus = MemoryBus()
    # nothing due: no age, no dead letters
    await refresh_gauges(gauges, store, bus)
    assert gauges.oldest_due._value.get() == 0
    assert gauges.dead_letters._value.get() == 0
    # given items due 30 s and 5 s ago (in whichever shards they hash to) and one ahead
    now = await store.now_ms()
    await store.time.put("s:old", "{}", now - 30_000)
    await store.time.put("s:newer", "{}", now - 5_000)
    await store.time.put("s:ahead", "{}", now + 60_000)
    bus.dead += [b"poison", b"past the delivery limit"]
    # when the gauges refresh
    await refresh_gauges(gauges, store, bus)
    # then the age is the oldest one's, and the dead-letter queue's depth shows
    assert 30 <= gauges.oldest_due._value.get() < 35
    assert gauges.dead_letters._value.get() == 2


async def test_the_fleet_gauge_counts_live_nodes_by_role(store: Store) -> None:
    now = await store.now_ms()
    await store.nodes.beat("d1", {"role": "dispatcher"}, now, 60)
    await store.nodes.beat("i1", {"role": "invoker"}, now, 60)
    await store.nodes.beat("i2", {"role": "invoker"}, now, 60)
    await store.nodes.beat("i3", {"role": "invoker"}, now - 20_000, 60)  # stopped beating
    gauges = SystemMetrics()
    await refresh_gauges(gauges, store, None, fresh_ms=10_000)
    live = {r: gauges.fleet.labels(r)._value.get() for r in ("dispatcher", "invoker")}
    assert live == {"dispatcher": 1, "invoker": 2}


async def test_attempt_log_lines_carry_the_fire_fields(
    pipeline: Pipeline, caplog: pytest.LogCaptureFixture
) -> None:
    p = pipeline
    tenant = await p.tenant()
    sid = await p.schedule(tenant["api_key"], "/ok")
    with caplog.at_level(logging.DEBUG, logger="cronhook.invoker"):  # a success: DEBUG
        task = await run(p)
        await delivered(p, 1)
        p.stop.set()
        await task
    record = next(
        r
        for r in caplog.records
        if r.name == "cronhook.invoker" and r.getMessage().startswith("attempt ")
    )
    assert record.levelno == logging.DEBUG
    line = json.loads(JsonFormatter().format(record))
    assert line["tenant_id"] == tenant["id"] and line["schedule_id"] == sid
    assert line["fire_id"].startswith("fire_") and line["attempt"] == 1
    assert line["outcome"] == "succeeded" and line["status_code"] == 200


async def test_a_fan_out_counts_its_shards_and_its_end(pipeline: Pipeline) -> None:
    # given a one-off message of 5 shards, on the backends of `cronhook dev` too
    p = pipeline
    tenant = await p.tenant()
    body = {"target": {"url": p.receiver.url("/fan")}, "fanout": {"shards": 5}}
    auth = {"Authorization": f"Bearer {tenant['api_key']}"}
    r = await p.api.post("/v1/messages", json=body, headers=auth)
    assert r.status_code == 202, r.text
    # when the pipeline runs until the parent has ended
    task = await run(p)
    await settle(p, "cronhook_fanouts_ended_total", 1, status="succeeded")
    p.stop.set()
    await task
    # then each shard was made and delivered once, and the parent ended once
    assert p.value("cronhook_fanout_shards_made_total") == 5
    assert p.value("cronhook_invoker_deliveries_total", outcome="succeeded", tenant="_other") == 5
    hits = p.receiver.requests_to("/fan")
    assert sorted(h.headers["cronhook-shard"] for h in hits) == [f"{i}/5" for i in range(5)]
    fire = (await p.api.get(f"/v1/fires/{r.json()['id']}", headers=auth)).json()
    assert fire["status"] == "succeeded" and fire["fanout"]["succeeded"] == 5
