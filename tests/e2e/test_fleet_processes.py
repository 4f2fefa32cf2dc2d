"""The fleet as separate processes: the admin route shows dispatchers and invokers live and
a SIGKILLed one lost, while the survivors deliver every instant (failover is lease expiry);
and the same end-to-end flow on a three-master Redis Cluster (the hash-tag discipline)."""

from __future__ import annotations

import asyncio
import itertools
import secrets
import signal
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from app.api.contract import validator
from tests.conftest import delete_prefix
from tests.e2e.flow import check_delivery, check_fires_via_api, every_second, onboard
from tests.e2e.procs import Fleet, base_env, fleet, wait_http
from tests.e2e.rig import FAST
from tests.e2e.services import redis_cluster
from tests.e2e.test_processes import _delete_queues
from tests.receiver import Receiver

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]


def _env(redis_url: str, amqp_url: str, prefix: str, queue: str, port: int) -> dict[str, str]:
    return base_env(
        CRONHOOK_REDIS_URL=redis_url,
        CRONHOOK_AMQP_URL=amqp_url,
        CRONHOOK_PREFIX=prefix,
        CRONHOOK_QUEUE=queue,
        CRONHOOK_ADMIN_TOKEN=secrets.token_urlsafe(16),
        CRONHOOK_PORT=str(port),
        CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
        **FAST,
    )


@pytest.fixture
async def procs(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, free_port: int
) -> AsyncIterator[Fleet]:
    async with fleet(_env(redis_url, amqp_url, prefix, queue_name, free_port)) as f:
        yield f
    await delete_prefix(redis_url, prefix)
    await _delete_queues(amqp_url, queue_name)


async def _fleet_view(api: httpx.AsyncClient, admin: str) -> dict[str, Any]:
    r = await api.get("/v1/admin/fleet", headers={"Authorization": f"Bearer {admin}"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    assert not list(validator("Fleet").iter_errors(body))
    return body


async def _until(api: httpx.AsyncClient, admin: str, check: Any, within: float = 15) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        view = await _fleet_view(api, admin)
        if check(view):
            return view
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"fleet view never satisfied the check: {view}")
        await asyncio.sleep(0.2)


def _seconds(hits: list[Any]) -> list[float]:
    stamps = {
        datetime.fromisoformat(h.headers["cronhook-scheduled-at"].replace("Z", "+00:00"))
        for h in hits
    }
    return sorted(s.timestamp() for s in stamps)


async def test_the_fleet_view_shows_a_killed_dispatcher_lost_while_the_others_deliver(
    procs: Fleet,
) -> None:
    env = procs.env
    admin = env["CRONHOOK_ADMIN_TOKEN"]
    base = f"http://127.0.0.1:{env['CRONHOOK_PORT']}"
    async with Receiver() as rx, httpx.AsyncClient(base_url=base, timeout=10) as api:
        # given an api, two dispatchers and an invoker, and a schedule firing every second
        api_proc = procs.start("api")
        victim, _survivor = procs.start("dispatcher"), procs.start("dispatcher")
        procs.start("invoker")
        await wait_http(f"{base}/healthz", proc=api_proc)
        tenant = await onboard(api, admin)
        schedule = await every_second(api, tenant["api_key"], rx.url("/hook"))
        view = await _until(
            api,
            admin,
            lambda v: v["summary"]["live_dispatchers"] == 2 and v["summary"]["live_invokers"] == 1,
        )
        await rx.wait_for(3, path="/hook", within=15)
        view = await _until(api, admin, lambda v: v["summary"]["claims_per_second"] > 0)
        assert all(d["state"] == "active" for d in view["dispatchers"])
        assert all(abs(d["clock_skew_ms"]) < 1000 for d in view["dispatchers"])
        # when one dispatcher is SIGKILLed (holding claims: its lookahead keeps some)
        victim.kill(signal.SIGKILL)
        killed_at = asyncio.get_running_loop().time()
        # then the view shows it lost within a few heartbeats, and the survivor live
        view = await _until(
            api, admin, lambda v: any(d["state"] == "lost" for d in v["dispatchers"])
        )
        [lost] = [d for d in view["dispatchers"] if d["state"] == "lost"]
        assert lost["live"] is False and view["summary"]["live_dispatchers"] == 1
        # and every second is delivered, through the lease expiry of what it held
        await asyncio.sleep(max(0.0, killed_at + 6 - asyncio.get_running_loop().time()))
        hits = rx.requests_to("/hook")
        stamps = _seconds(hits)
        assert stamps == [stamps[0] + i for i in range(len(stamps))], "a second was skipped"
        assert stamps[-1] - stamps[0] >= 8
        ids = [h.headers["webhook-id"] for h in hits]
        for h in hits:
            check_delivery(h, tenant["signing_secret"], schedule["id"])
        assert len(set(ids)) == len(stamps)  # one fire id per instant, duplicates or not


async def test_the_end_to_end_flow_on_a_three_master_redis_cluster(
    amqp_url: str, prefix: str, queue_name: str, free_port: int
) -> None:
    async with redis_cluster(3) as nodes:
        url = f"redis+cluster://127.0.0.1:{nodes[0].port}"
        env = _env(url, amqp_url, prefix, queue_name, free_port)
        env["CRONHOOK_SHARDS"] = "16"
        base = f"http://127.0.0.1:{env['CRONHOOK_PORT']}"
        try:
            async with (
                fleet(env) as f,
                Receiver() as rx,
                httpx.AsyncClient(base_url=base, timeout=10) as api,
            ):
                # given the three roles as processes on a Redis Cluster of three masters
                api_proc = f.start("api")
                f.start("dispatcher")
                f.start("dispatcher")
                f.start("invoker")
                await wait_http(f"{base}/healthz", proc=api_proc)
                tenant = await onboard(api, env["CRONHOOK_ADMIN_TOKEN"])
                # when a schedule fires every second
                schedule = await every_second(api, tenant["api_key"], rx.url("/hook"))
                hits = await rx.wait_for(4, path="/hook", within=20)
                # then deliveries are signed and on record, exactly as on a single Redis
                instants = [
                    check_delivery(h, tenant["signing_secret"], schedule["id"]) for h in hits
                ]
                assert len(set(instants)) == len(instants)
                await asyncio.sleep(0.5)
                await check_fires_via_api(
                    api, tenant["api_key"], schedule["id"], {h.headers["webhook-id"] for h in hits}
                )
                await _until(
                    api,
                    env["CRONHOOK_ADMIN_TOKEN"],
                    lambda v: v["summary"]["live_dispatchers"] == 2,
                )
                # and the data really is spread over the three masters: 40 more (paused)
                # schedules put items in most of the 16 shards, whose slots every master owns
                for n in range(40):
                    r = await api.post(
                        "/v1/schedules",
                        headers={"Authorization": f"Bearer {tenant['api_key']}"},
                        json={
                            "name": f"spread-{n}",
                            "cron": "0 0 * * *",
                            "paused": True,
                            "target": {"url": rx.url("/spread")},
                        },
                    )
                    assert r.status_code == 201, r.text
                sizes = []
                for node in nodes:
                    r = aioredis.Redis(port=node.port)
                    try:
                        sizes.append(await r.dbsize())
                    finally:
                        await r.aclose()
                assert all(n > 0 for n in sizes), sizes
        finally:
            await _delete_queues(amqp_url, queue_name)


async def test_overlap_forbid_skips_instants_while_a_slow_delivery_runs(procs: Fleet) -> None:
    env = procs.env
    base = f"http://127.0.0.1:{env['CRONHOOK_PORT']}"
    async with Receiver() as rx, httpx.AsyncClient(base_url=base, timeout=10) as api:
        api_proc = procs.start("api")
        procs.start("dispatcher")
        procs.start("invoker")
        await wait_http(f"{base}/healthz", proc=api_proc)
        tenant = await onboard(api, env["CRONHOOK_ADMIN_TOKEN"])
        auth = {"Authorization": f"Bearer {tenant['api_key']}"}
        # given a schedule every second, overlap forbidden, whose endpoint takes 2.5 s
        r = await api.post(
            "/v1/schedules",
            headers=auth,
            json={
                "name": "slow",
                "cron": "* * * * * *",
                "overlap": "forbid",
                "target": {"url": rx.url("/slow/2.5"), "timeout_seconds": 10},
            },
        )
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        # when it runs for about eight seconds
        await rx.wait_for(3, path="/slow/2.5", within=20)
        r = await api.post(f"/v1/schedules/{sid}/pause", headers=auth)
        assert r.status_code == 200, r.text
        await asyncio.sleep(3)
        # then no two deliveries overlapped: each began after the previous one's 2.5 s
        starts = sorted(h.arrived_monotonic for h in rx.requests_to("/slow/2.5"))
        assert all(b - a >= 2.4 for a, b in itertools.pairwise(starts)), starts
        # and the instants in between are on record as skipped, never delivered
        fires = (await api.get(f"/v1/schedules/{sid}/fires?limit=100", headers=auth)).json()
        statuses = [f["status"] for f in fires["items"]]
        assert statuses.count("skipped") >= 4, statuses
        assert statuses.count("succeeded") == len(starts), statuses
