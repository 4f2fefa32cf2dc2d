"""SIGTERM to real processes on the real Redis and RabbitMQ: each role stops within its
bound and nothing is lost. The API finishes requests in flight; a dispatcher completes or
gives back its claims (none is left to wait out its lease); an invoker finishes what it
can and requeues the rest, and another invoker delivers it at once."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from app.keys import Keys
from tests.conftest import delete_prefix
from tests.e2e.procs import Fleet, Proc, base_env, fleet, wait_http
from tests.receiver import Receiver, Reply

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]

RAISED = {
    "max_schedules": 100_000,
    "max_concurrency": 100_000,
    "rate_limit": {"per_second": 100_000, "burst": 100_000},
    "api_rate_limit": {"per_second": 100_000, "burst": 100_000},
}


@pytest.fixture
async def shut_fleet(
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
        CRONHOOK_LEASE_SECONDS="60",  # a claim left behind would hold its fire a minute
    )
    async with fleet(env) as f:
        yield f
    await delete_prefix(redis_url, prefix)
    from tests.e2e.test_processes import _delete_queues

    await _delete_queues(amqp_url, queue_name)


def start(f: Fleet, role: str, **env: str) -> Proc:
    saved = dict(f.env)
    f.env.update(env)
    try:
        return f.start(role)
    finally:
        f.env.clear()
        f.env.update(saved)


async def sigterm(f: Fleet, proc: Proc) -> float:
    """SIGTERM, wait for the exit; returns the seconds it took (exit code must be 0)."""
    started = time.monotonic()
    code = await f.stop(proc, grace=30)
    assert code == 0, proc.output()[-3000:]
    return time.monotonic() - started


def api_base(f: Fleet) -> str:
    return f"http://127.0.0.1:{f.env['CRONHOOK_PORT']}"


async def onboard(api: httpx.AsyncClient, f: Fleet) -> dict[str, Any]:
    admin = {"Authorization": f"Bearer {f.env['CRONHOOK_ADMIN_TOKEN']}"}
    r = await api.post("/v1/tenants", json={"name": "stop", "limits": RAISED}, headers=admin)
    assert r.status_code == 201, r.text
    tenant: dict[str, Any] = r.json()
    return tenant


async def schedules_at(
    api: httpx.AsyncClient, key: str, at: datetime, url: str, count: int
) -> list[str]:
    """``count`` daily schedules whose next fire is the whole second ``at``."""
    cron = f"{at.second} {at.minute} {at.hour} * * *"
    auth = {"Authorization": f"Bearer {key}"}
    sem = asyncio.Semaphore(16)

    async def one(n: int) -> str:
        body = {"name": f"s{n}", "cron": cron, "target": {"url": url}}
        async with sem:
            r = await api.post("/v1/schedules", json=body, headers=auth)
        assert r.status_code == 201, r.text
        sid: str = r.json()["id"]
        return sid

    return list(await asyncio.gather(*(one(n) for n in range(count))))


def whole_second_in(seconds: float) -> datetime:
    return datetime.fromtimestamp(int(time.time() + seconds) + 1, UTC)


async def leases(redis_url: str, prefix: str) -> int:
    keys = Keys(prefix, 16)
    r = aioredis.Redis.from_url(redis_url)
    try:
        return sum([await r.zcard(keys.shard(n).lease) for n in range(16)])
    finally:
        await r.aclose()


async def sleep_until(at: datetime) -> None:
    await asyncio.sleep(max(0.0, at.timestamp() - time.time()))


async def test_api_finishes_a_request_in_flight_and_then_refuses_new_ones(
    shut_fleet: Fleet,
) -> None:
    f = shut_fleet
    api = start(f, "api", CRONHOOK_SHUTDOWN_SECONDS="10")
    await wait_http(f"{api_base(f)}/healthz", proc=api)
    port = int(f.env["CRONHOOK_PORT"])
    # given a request whose body is still arriving
    body = json.dumps({"name": "in-flight"}).encode()
    head = (
        f"POST /v1/tenants HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {f.env['CRONHOOK_ADMIN_TOKEN']}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(head + body[:5])
    await writer.drain()
    await asyncio.sleep(0.3)
    # when the API is told to stop
    started = time.monotonic()
    api.kill(15)
    await asyncio.sleep(0.5)
    # then it takes no new connection, but the request in flight completes
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)
    writer.write(body[5:])
    await writer.drain()
    status_line = await asyncio.wait_for(reader.readline(), 5)
    assert status_line.startswith(b"HTTP/1.1 201"), status_line
    writer.close()
    assert await asyncio.to_thread(api.popen.wait, 15) == 0, api.output()[-2000:]
    assert time.monotonic() - started < 12
    assert "api stopped" in api.output()


@pytest.mark.parametrize("grace", ["10", "0.01"], ids=["completes", "out-of-time"])
async def test_dispatcher_stopped_in_a_burst_leaves_no_claim_and_loses_no_fire(
    shut_fleet: Fleet, redis_url: str, grace: str
) -> None:
    f = shut_fleet
    count = 600
    async with Receiver() as rx, httpx.AsyncClient(base_url=api_base(f), timeout=30) as api:
        api_proc = start(f, "api")
        start(f, "invoker")
        dispatcher = start(f, "dispatcher", CRONHOOK_SHUTDOWN_SECONDS=grace)
        await wait_http(f"{api_base(f)}/healthz", proc=api_proc)
        tenant = await onboard(api, f)
        # given 600 schedules due at the same instant (far enough ahead for a loaded box)
        at = whole_second_in(12)
        await schedules_at(api, tenant["api_key"], at, rx.url("/burst"), count)
        assert time.time() < at.timestamp(), "creating the schedules took too long"
        # when the dispatcher gets SIGTERM while it works through the burst
        await sleep_until(at)
        await asyncio.sleep(0.05)
        took = await sigterm(f, dispatcher)
        # then it stopped within its bound, holding no claim
        assert took < float(grace) + 5
        assert await leases(redis_url, f.env["CRONHOOK_PREFIX"]) == 0
        # and a fresh dispatcher delivers every fire once, long before a lease could lapse
        start(f, "dispatcher")
        hits = await rx.wait_for(count, path="/burst", within=40)
        await asyncio.sleep(1.0)
        ids = Counter(h.headers["webhook-id"] for h in rx.requests_to("/burst"))
        assert len(ids) == count and set(ids.values()) == {1}, ids.most_common(3)
        assert len(hits) >= count


async def test_invoker_lets_deliveries_in_flight_finish(shut_fleet: Fleet) -> None:
    f = shut_fleet
    async with Receiver() as rx, httpx.AsyncClient(base_url=api_base(f), timeout=30) as api:
        api_proc = start(f, "api")
        start(f, "dispatcher")
        invoker = start(f, "invoker", CRONHOOK_SHUTDOWN_SECONDS="10")
        await wait_http(f"{api_base(f)}/healthz", proc=api_proc)
        tenant = await onboard(api, f)
        # given 20 deliveries in flight to an endpoint that takes 1.5 s
        at = whole_second_in(2)
        sids = await schedules_at(api, tenant["api_key"], at, rx.url("/slow/1.5"), 20)
        await rx.wait_for(20, path="/slow/1.5", within=15)
        # when the invoker gets SIGTERM
        took = await sigterm(f, invoker)
        # then it waited for them: all 20 are recorded as delivered, none was sent twice
        assert took < 10
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        for sid in sids:
            fires = (await api.get(f"/v1/schedules/{sid}/fires", headers=auth)).json()["items"]
            assert [x["status"] for x in fires] == ["succeeded"], fires
        start(f, "invoker")
        await asyncio.sleep(1.5)
        assert len(rx.requests_to("/slow/1.5")) == 20


async def test_invoker_out_of_time_requeues_and_another_delivers_at_once(
    shut_fleet: Fleet,
) -> None:
    f = shut_fleet
    async with Receiver() as rx, httpx.AsyncClient(base_url=api_base(f), timeout=30) as api:
        api_proc = start(f, "api")
        start(f, "dispatcher")
        invoker = start(f, "invoker", CRONHOOK_SHUTDOWN_SECONDS="0.5")
        await wait_http(f"{api_base(f)}/healthz", proc=api_proc)
        tenant = await onboard(api, f)
        # given 20 deliveries in flight to an endpoint that would take 60 s
        rx.script("/hook", *[Reply(delay=60)] * 20)
        at = whole_second_in(2)
        sids = await schedules_at(api, tenant["api_key"], at, rx.url("/hook"), 20)
        await rx.wait_for(20, path="/hook", within=15)
        # when the invoker gets SIGTERM with half a second to finish
        took = await sigterm(f, invoker)
        assert took < 0.5 + 5
        # then another invoker makes those attempts at once (no marker left to expire)
        start(f, "invoker")
        await rx.wait_for(40, path="/hook", within=15)
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        await asyncio.sleep(0.5)
        for sid in sids:
            fires = (await api.get(f"/v1/schedules/{sid}/fires", headers=auth)).json()["items"]
            assert [x["status"] for x in fires] == ["succeeded"], fires
            assert [a["number"] for a in fires[0]["attempts"]] == [1]
        ids = Counter(h.headers["webhook-id"] for h in rx.requests_to("/hook"))
        assert set(ids.values()) == {2}


async def test_workers_serve_metrics_and_readiness_on_their_port(shut_fleet: Fleet) -> None:
    f = shut_fleet
    ports = {}
    for role in ("dispatcher", "invoker"):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports[role] = s.getsockname()[1]
        start(f, role, CRONHOOK_METRICS_PORT=str(ports[role]))
    async with httpx.AsyncClient(timeout=5) as c:
        for role, port in ports.items():
            base = f"http://127.0.0.1:{port}"
            await wait_http(f"{base}/healthz")
            r = await c.get(f"{base}/readyz")
            assert r.status_code == 200, r.text
            assert r.json()["checks"] == {"redis": "ok", "scripts": "ok", "rabbitmq": "ok"}
            text = (await c.get(f"{base}/metrics")).text
            assert f"cronhook_{role}_" in text and "cronhook_time_index_items" in text
            assert "process_cpu_seconds_total" in text
