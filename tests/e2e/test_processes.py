"""End to end on the real Redis and RabbitMQ, each role a separate OS process."""

from __future__ import annotations

import asyncio
import itertools
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator

import httpx
import pytest

from tests.conftest import delete_prefix
from tests.e2e.flow import check_delivery, check_fires_via_api, every_second, onboard
from tests.e2e.procs import Fleet, base_env, fleet, wait_http
from tests.receiver import Receiver

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]


@pytest.fixture
async def real_fleet(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, free_port: int
) -> AsyncIterator[Fleet]:
    env = base_env(
        CRONHOOK_REDIS_URL=redis_url,
        CRONHOOK_AMQP_URL=amqp_url,
        CRONHOOK_PREFIX=prefix,
        CRONHOOK_QUEUE=queue_name,
        CRONHOOK_ADMIN_TOKEN=secrets.token_urlsafe(16),
        CRONHOOK_PORT=str(free_port),
        CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
        CRONHOOK_LEASE_SECONDS="10",
    )
    async with fleet(env) as f:
        yield f
    await delete_prefix(redis_url, prefix)
    await _delete_queues(amqp_url, queue_name)


async def _delete_queues(amqp_url: str, queue: str) -> None:
    import aio_pika

    conn = await aio_pika.connect(amqp_url)
    async with conn:
        ch = await conn.channel()
        for name in (queue, f"{queue}.dlq"):
            await ch.queue_delete(name)


async def test_signed_webhooks_flow_through_separate_api_dispatcher_invoker_processes(
    real_fleet: Fleet,
) -> None:
    env = real_fleet.env
    base = f"http://127.0.0.1:{env['CRONHOOK_PORT']}"
    async with Receiver() as rx, httpx.AsyncClient(base_url=base) as api:
        # given the three roles as separate processes on the real services
        api_proc = real_fleet.start("api")
        real_fleet.start("dispatcher")
        real_fleet.start("invoker")
        await wait_http(f"{base}/healthz", proc=api_proc)
        tenant = await onboard(api, env["CRONHOOK_ADMIN_TOKEN"])
        # when a schedule fires every second
        schedule = await every_second(api, tenant["api_key"], rx.url("/hook"))
        hits = await rx.wait_for(3, path="/hook", within=20)
        # then each delivery is signed, carries the contract's headers, and is on record
        instants = [check_delivery(h, tenant["signing_secret"], schedule["id"]) for h in hits]
        assert len(set(instants)) == len(instants)
        await asyncio.sleep(0.5)  # let the last attempt be recorded
        await check_fires_via_api(
            api, tenant["api_key"], schedule["id"], {h.headers["webhook-id"] for h in hits}
        )


async def test_two_dispatchers_give_exactly_one_fire_per_instant(real_fleet: Fleet) -> None:
    env = real_fleet.env
    base = f"http://127.0.0.1:{env['CRONHOOK_PORT']}"
    async with Receiver() as rx, httpx.AsyncClient(base_url=base) as api:
        # given two dispatchers racing for the same time index
        api_proc = real_fleet.start("api")
        real_fleet.start("dispatcher")
        real_fleet.start("dispatcher")
        real_fleet.start("invoker")
        await wait_http(f"{base}/healthz", proc=api_proc)
        tenant = await onboard(api, env["CRONHOOK_ADMIN_TOKEN"])
        # when a schedule fires every second for ten seconds
        schedule = await every_second(api, tenant["api_key"], rx.url("/hook"))
        await asyncio.sleep(10.5)
        r = await api.delete(
            f"/v1/schedules/{schedule['id']}",
            headers={"Authorization": f"Bearer {tenant['api_key']}"},
        )
        assert r.status_code == 204
        await asyncio.sleep(1.5)
        # then every instant has one fire id, delivered once, and no second was missed
        by_instant: dict[str, list[str]] = defaultdict(list)
        for h in rx.requests_to("/hook"):
            check_delivery(h, tenant["signing_secret"], schedule["id"])
            by_instant[h.headers["cronhook-scheduled-at"]].append(h.headers["webhook-id"])
        assert len(by_instant) >= 9, sorted(by_instant)
        doubled = {at: ids for at, ids in by_instant.items() if len(ids) != 1}
        assert doubled == {}
        seconds = sorted(by_instant)
        from datetime import datetime

        stamps = [datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() for s in seconds]
        assert [b - a for a, b in itertools.pairwise(stamps)] == [1.0] * (len(stamps) - 1)
