"""The control plane on a three-master Redis Cluster, as separate processes: every
multi-key write of the API (quota-checked creates, compare-and-set updates, replays,
idempotency markers, the rate limit, tenant removal by SCAN) touches one slot, and the
event stream works over cluster pub/sub."""

from __future__ import annotations

import secrets

import httpx
import pytest
import redis.asyncio as aioredis

from tests.api.conftest import check_response
from tests.api.live import delete_queues
from tests.api.sse import streaming, until
from tests.e2e.procs import base_env, fleet, wait_http
from tests.e2e.services import redis_cluster
from tests.receiver import Receiver, Reply

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]
HOOKS = {"response": [check_response]}  # every response as the contract says


async def _keys_of(ports: list[int], pattern: str) -> list[str]:
    found: list[str] = []
    for port in ports:
        r = aioredis.Redis(port=port, decode_responses=True)
        try:
            found += [k async for k in r.scan_iter(match=pattern)]
        finally:
            await r.aclose()
    return found


async def test_the_control_plane_on_a_redis_cluster(
    amqp_url: str, prefix: str, queue_name: str, free_port: int
) -> None:
    async with redis_cluster(3) as nodes:
        env = base_env(
            CRONHOOK_REDIS_URL=f"redis+cluster://127.0.0.1:{nodes[0].port}",
            CRONHOOK_AMQP_URL=amqp_url,
            CRONHOOK_PREFIX=prefix,
            CRONHOOK_QUEUE=queue_name,
            CRONHOOK_ADMIN_TOKEN=secrets.token_urlsafe(16),
            CRONHOOK_PORT=str(free_port),
            CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
        )
        base = f"http://127.0.0.1:{free_port}"
        admin = {"Authorization": f"Bearer {env['CRONHOOK_ADMIN_TOKEN']}"}
        try:
            await _exercise(env, base, admin, prefix, [n.port for n in nodes])
        finally:
            await delete_queues(queue_name)


async def _exercise(
    env: dict[str, str], base: str, admin: dict[str, str], prefix: str, ports: list[int]
) -> None:
    async with (
        fleet(env) as f,
        Receiver() as rx,
        httpx.AsyncClient(base_url=base, timeout=30, event_hooks=HOOKS) as c,
    ):
        api = f.start("api")
        f.start("dispatcher")
        f.start("invoker")
        await wait_http(f"{base}/healthz", proc=api)
        limits = {"max_schedules": 2, "api_rate_limit": {"per_second": 0.2, "burst": 40}}
        r = await c.post("/v1/tenants", json={"name": "c", "limits": limits}, headers=admin)
        assert r.status_code == 201, r.text
        t = r.json()
        auth = {"Authorization": f"Bearer {t['api_key']}"}
        await _schedules_fires_and_events(c, rx, t["api_key"], auth)
        r = await c.get("/v1/forecast", headers=auth)
        assert r.status_code == 200 and r.json()["schedules"] == 2
        # the rate limit (burst 40) holds on the cluster too
        codes = [(await c.get("/v1/tenant", headers=auth)).status_code for _ in range(45)]
        assert 429 in codes
        # removing the tenant leaves no key of its slot on any master
        assert (await c.delete(f"/v1/tenants/{t['id']}", headers=admin)).status_code == 204
        assert await _keys_of(ports, f"{prefix}:{{t:{t['id']}}}:*") == []
        assert (await c.get("/v1/tenant", headers=auth)).status_code == 401


async def _schedules_fires_and_events(
    c: httpx.AsyncClient, rx: Receiver, key: str, auth: dict[str, str]
) -> None:
    async with streaming(c, key) as events:
        # quota-checked create, compare-and-set patch, pause and resume
        body = {"name": "s", "cron": "0 0 * * *", "target": {"url": rx.url("/ok")}}
        sid = (await c.post("/v1/schedules", json=body, headers=auth)).json()["id"]
        await c.post("/v1/schedules", json=body, headers=auth)
        r = await c.post("/v1/schedules", json=body, headers=auth)
        assert r.status_code == 422  # max_schedules: 2
        r = await c.patch(f"/v1/schedules/{sid}", json={"name": "x"}, headers=auth)
        assert r.status_code == 200 and r.json()["version"] == 2
        for verb in ("pause", "resume"):
            r = await c.post(f"/v1/schedules/{sid}/{verb}", headers=auth)
            assert r.status_code == 200, r.text
        # an idempotent trigger, delivered, streamed
        key_header = {"Idempotency-Key": "cluster-1"}
        one = await c.post(f"/v1/schedules/{sid}/trigger", headers=auth | key_header)
        two = await c.post(f"/v1/schedules/{sid}/trigger", headers=auth | key_header)
        assert one.json()["id"] == two.json()["id"]
        fid = one.json()["id"]
        await until(lambda: "fire.succeeded" in events.of(fid))
        # a dead letter, replayed
        rx.script("/fail", Reply(500), Reply(200))
        msg = {"target": {"url": rx.url("/fail")}, "retry": {"max_attempts": 1}}
        dead = (await c.post("/v1/messages", json=msg, headers=auth)).json()["id"]
        await until(lambda: "fire.failed" in events.of(dead))
        r = await c.post(f"/v1/fires/{dead}/replay", headers=auth)
        assert r.status_code == 202, r.text
        await until(lambda: events.of(dead).count("fire.succeeded") == 1)
