"""Fan-out under chaos, every role a separate process: two fires of 1,500 shards each,
expanded in small steps, while the invokers are SIGKILLed mid-expansion and again
mid-delivery (and started again). At the receiver every (fire, shard) arrives, each with
exactly one webhook-id, and both parents gather every shard and end once."""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import pytest

from app.fanout import parent_of
from tests.conftest import delete_prefix
from tests.e2e.flow import onboard
from tests.e2e.procs import Fleet, Proc, base_env, fleet, wait_http
from tests.e2e.test_processes import _delete_queues
from tests.receiver import Receiver

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]

SHARDS = 1500
FIRES = 2
STEP = 20  # shards per expansion step: 75 steps per fire, so a kill lands mid-expansion
RETRY = {"max_attempts": 8, "min_backoff_seconds": 0.5, "max_backoff_seconds": 1}


async def _restart(f: Fleet, procs: list[Proc]) -> list[Proc]:
    for p in procs:
        p.kill()
    for p in procs:
        p.popen.wait(10)
    return [f.start("invoker") for _ in procs]


async def _fanouts(api: httpx.AsyncClient, key: str, ids: list[str]) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {key}"}
    out = []
    for fid in ids:
        r = await api.get(f"/v1/fires/{fid}", headers=auth)
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


async def test_every_shard_arrives_with_one_webhook_id_through_kill_9_of_invokers(
    redis_url: str, amqp_url: str, prefix: str, queue_name: str, free_port: int
) -> None:
    base = f"http://127.0.0.1:{free_port}"
    admin_token = secrets.token_urlsafe(16)
    env = base_env(
        CRONHOOK_REDIS_URL=redis_url,
        CRONHOOK_AMQP_URL=amqp_url,
        CRONHOOK_PREFIX=prefix,
        CRONHOOK_QUEUE=queue_name,
        CRONHOOK_ADMIN_TOKEN=admin_token,
        CRONHOOK_PORT=str(free_port),
        CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
        CRONHOOK_FANOUT_STEP=str(STEP),
        CRONHOOK_REDIS_TIMEOUT="2",
        CRONHOOK_LOG_LEVEL="WARNING",
    )
    made_at_kill: list[int] = []
    try:
        async with (
            fleet(env) as f,
            Receiver() as rx,
            httpx.AsyncClient(base_url=base, timeout=10) as api,
        ):
            api_proc = f.start("api")
            f.start("dispatcher")
            invokers = [f.start("invoker") for _ in range(2)]
            await wait_http(f"{base}/healthz", proc=api_proc)
            tenant = await onboard(api, admin_token)
            fast = {"per_second": 10000, "burst": 10000}
            limits = {"rate_limit": fast, "api_rate_limit": fast, "max_concurrency": 1000,
                      "max_fanout_shards": SHARDS}  # fmt: skip
            r = await api.patch(
                f"/v1/tenants/{tenant['id']}",
                json={"limits": limits},
                headers={"Authorization": f"Bearer {admin_token}"},
            )
            assert r.status_code == 200, r.text
            key = tenant["api_key"]
            # given two fan-out fires on their way
            ids = []
            for _ in range(FIRES):
                body = {"target": {"url": rx.url("/shard")}, "retry": RETRY,
                        "fanout": {"shards": SHARDS}}  # fmt: skip
                r = await api.post("/v1/messages", json=body,
                                   headers={"Authorization": f"Bearer {key}"})  # fmt: skip
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
            # when every invoker is SIGKILLed while the parents are being expanded
            await rx.wait_for(1, path="/shard", within=30)
            invokers = await _restart(f, invokers)
            made_at_kill = [x["fanout"]["made"] for x in await _fanouts(api, key, ids)]
            # and one invoker again while shards are being delivered
            await rx.wait_for(FIRES * SHARDS // 2, path="/shard", within=90)
            invokers[:1] = await _restart(f, invokers[:1])
            # then both parents end
            fires: list[dict[str, Any]] = []
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                fires = await _fanouts(api, key, ids)
                if all(x["status"] in ("succeeded", "failed") for x in fires):
                    break
                await asyncio.sleep(0.5)
            await asyncio.sleep(1.0)  # any late duplicate would arrive by now
            hits = rx.requests_to("/shard")
    finally:
        await _delete_queues(amqp_url, queue_name)
        await delete_prefix(redis_url, prefix)
    assert any(0 < m < SHARDS for m in made_at_kill), f"no kill mid-expansion: {made_at_kill}"
    assert [x["status"] for x in fires] == ["succeeded"] * FIRES, [x["fanout"] for x in fires]
    for x in fires:
        assert x["fanout"] == {"shards": SHARDS, "max_failed_shards": 0, "made": SHARDS,
                               "succeeded": SHARDS, "failed": 0, "open": 0}  # fmt: skip
    seen: dict[tuple[str, int], set[str]] = {}
    for h in hits:
        ref = parent_of(h.headers["webhook-id"])
        assert ref is not None, h.headers["webhook-id"]
        index, count = map(int, h.headers["cronhook-shard"].split("/"))
        assert (ref[1], count) == (index, SHARDS)
        seen.setdefault(ref, set()).add(h.headers["webhook-id"])
    want = {(fid, i) for fid in ids for i in range(SHARDS)}
    assert set(seen) == want, f"missing: {sorted(want - set(seen))[:10]}"
    assert all(len(v) == 1 for v in seen.values())
    print(
        f"fan-out chaos: {FIRES} x {SHARDS} shards, {len(hits)} deliveries "
        f"({len(hits) - len(want)} repeated), made at the first kill: {made_at_kill}"
    )
