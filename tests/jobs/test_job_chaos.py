"""Long jobs under chaos, every role a separate process on a Redis with AOF (port 7301):
200 jobs answer 202 and report from the test's own tasks while an invoker, a dispatcher and
the API are SIGKILLed (and started again) and Redis itself is SIGKILLed and restarted. No
job's outcome is lost, none is applied twice, and the running jobs keep their deadlines."""

from __future__ import annotations

import asyncio
import random
import secrets
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.keys import Keys, job_item
from tests.e2e.flow import onboard
from tests.e2e.procs import Fleet, Proc, base_env, fleet, wait_http
from tests.e2e.services import RedisServer
from tests.e2e.test_processes import _delete_queues
from tests.receiver import Receiver, RecordedRequest, Reply

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]

JOBS = 200
REDIS_PORT = 7301  # this suite's own Redis (7301-7309)
RETRY = {"max_attempts": 6, "min_backoff_seconds": 1, "max_backoff_seconds": 2}
JOB = {"timeout_seconds": 45, "heartbeat_seconds": 20}


@pytest.fixture
async def aof() -> AsyncIterator[RedisServer]:
    tmp = Path(tempfile.mkdtemp(prefix="cronhook-jobs-aof-"))
    server = RedisServer(REDIS_PORT, tmp, ["--appendonly", "yes", "--appendfsync", "always"])
    try:
        await server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


class Driver:
    """The jobs' side: for every delivery, a task that waits a little, reports progress,
    waits again and completes, retrying through outages until it gets an answer."""

    def __init__(self, receiver: Receiver) -> None:
        self.receiver = receiver
        self.answers: dict[tuple[str, int], list[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._seen = 0

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=5) as http:
            while not stop.is_set():
                hits = self.receiver.requests_to("/job")
                for hit in hits[self._seen :]:
                    task = asyncio.create_task(self._job(http, hit))
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                self._seen = len(hits)
                await asyncio.sleep(0.05)
            for t in list(self._tasks):
                t.cancel()

    async def _job(self, http: httpx.AsyncClient, hit: RecordedRequest) -> None:
        key = (hit.headers["webhook-id"], int(hit.headers["cronhook-attempt"]))
        url, token = hit.headers["cronhook-job-url"], hit.headers["cronhook-job-token"]
        await asyncio.sleep(random.uniform(0.5, 4))
        await self._post(http, f"{url}/progress", token, {"percent": 50}, key)
        await asyncio.sleep(random.uniform(0.5, 4))
        await self._post(http, f"{url}/complete", token, {"status": "succeeded"}, key)

    async def _post(
        self, http: httpx.AsyncClient, url: str, token: str, body: Any, key: tuple[str, int]
    ) -> None:
        for _ in range(400):
            try:
                r = await http.post(url, json=body, headers={"Authorization": f"Bearer {token}"})
            except httpx.HTTPError:
                await asyncio.sleep(0.2)
                continue
            if r.status_code < 500:
                self.answers.setdefault(key, []).append(r.status_code)
                return
            await asyncio.sleep(0.2)


async def _restart(f: Fleet, proc: Proc, role: str) -> Proc:
    proc.kill()
    proc.popen.wait(10)
    return f.start(role)


async def _fires(api: httpx.AsyncClient, key: str, ids: list[str]) -> list[dict[str, Any]]:
    auth = {"Authorization": f"Bearer {key}"}
    out = []
    for fid in ids:
        r = await api.get(f"/v1/fires/{fid}", headers=auth)
        assert r.status_code == 200, r.text
        out.append(r.json())
    return out


async def _deadlines(server: RedisServer, keys: Keys, tenant: str, ids: list[str]) -> dict:
    """Running jobs: fire id -> (attempt, deadline, the watch item's due instant)."""
    import redis.asyncio as aioredis

    r = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        out = {}
        for fid in ids:
            job = await r.hgetall(keys.job(tenant, fid))
            if job.get("state") == "running":
                item = job_item(fid, int(job["attempt"]))
                due = await r.zscore(keys.shard_for(item).due, item)
                claimed = await r.hexists(keys.shard_for(item).claimed, item)
                out[fid] = (int(job["attempt"]), int(job["deadline"]), due, claimed)
        return out
    finally:
        await r.aclose()


async def test_jobs_survive_kill_9_of_every_role_and_a_redis_restart(
    aof: RedisServer, amqp_url: str, prefix: str, queue_name: str, free_port: int
) -> None:
    base = f"http://127.0.0.1:{free_port}"
    env = base_env(
        CRONHOOK_REDIS_URL=aof.url,
        CRONHOOK_AMQP_URL=amqp_url,
        CRONHOOK_PREFIX=prefix,
        CRONHOOK_QUEUE=queue_name,
        CRONHOOK_ADMIN_TOKEN=secrets.token_urlsafe(16),
        CRONHOOK_PORT=str(free_port),
        CRONHOOK_PUBLIC_URL=base,
        CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
        CRONHOOK_LEASE_SECONDS="5",
        CRONHOOK_REDIS_TIMEOUT="2",
        CRONHOOK_LOG_LEVEL="WARNING",
    )
    stop = asyncio.Event()
    try:
        async with (
            fleet(env) as f,
            Receiver() as rx,
            httpx.AsyncClient(base_url=base, timeout=10) as api,
        ):
            rx.script("/job", *[Reply(202, b"accepted")] * (JOBS * 4))
            api_proc = f.start("api")
            dispatchers = [f.start("dispatcher") for _ in range(2)]
            invokers = [f.start("invoker") for _ in range(2)]
            await wait_http(f"{base}/healthz", proc=api_proc)
            admin = {"Authorization": f"Bearer {env['CRONHOOK_ADMIN_TOKEN']}"}
            tenant = await onboard(api, env["CRONHOOK_ADMIN_TOKEN"])
            # the test polls every fire's record: the API key's own limit (100/s) must not
            # answer 429 to the test's reads
            fast = {"per_second": 1000, "burst": 1000}
            limits = {"limits": {"rate_limit": fast, "api_rate_limit": fast}}
            r = await api.patch(f"/v1/tenants/{tenant['id']}", json=limits, headers=admin)
            assert r.status_code == 200, r.text
            driver = Driver(rx)
            driving = asyncio.create_task(driver.run(stop))
            # given 200 job fires, delivered and running
            auth = {"Authorization": f"Bearer {tenant['api_key']}"}
            target = {"url": rx.url("/job"), "job": JOB}
            ids = []
            for _ in range(JOBS):
                r = await api.post(
                    "/v1/messages", json={"target": target, "retry": RETRY}, headers=auth
                )
                assert r.status_code == 202, r.text
                ids.append(r.json()["id"])
            await rx.wait_for(JOBS // 2, path="/job", within=30)
            # when every role is SIGKILLed mid-run and started again
            invokers[0] = await _restart(f, invokers[0], "invoker")
            await asyncio.sleep(0.5)
            dispatchers[0] = await _restart(f, dispatchers[0], "dispatcher")
            await asyncio.sleep(0.5)
            api_proc = await _restart(f, api_proc, "api")
            await wait_http(f"{base}/healthz", proc=api_proc)
            await asyncio.sleep(0.5)
            # and Redis too (AOF, fsync always)
            keys = Keys(prefix, 16)
            before = await _deadlines(aof, keys, tenant["id"], ids)
            aof.kill()
            after_kill = time.time()
            await asyncio.sleep(1.5)
            aof.spawn()
            await aof.wait_ready()
            after = await _deadlines(aof, keys, tenant["id"], ids)
            # then the running jobs kept their attempt, their deadline and their watch
            assert before, "no job was running when Redis was killed"
            kept = [fid for fid in before if fid in after]
            for fid in kept:
                assert after[fid][:2] == before[fid][:2] or after[fid][1] > before[fid][1], fid
                assert after[fid][2] is not None or after[fid][3], f"{fid}: no watch"
            assert time.time() - after_kill < 20
            # and every job ends succeeded, each attempt with one outcome
            fires: list[dict[str, Any]] = []
            for _ in range(240):
                fires = await _fires(api, tenant["api_key"], ids)
                if all(x["status"] in ("succeeded", "failed") for x in fires):
                    break
                await asyncio.sleep(0.5)
            stop.set()
            await driving
    finally:
        stop.set()
        await _delete_queues(amqp_url, queue_name)
    statuses = [x["status"] for x in fires]
    assert statuses == ["succeeded"] * JOBS, {s: statuses.count(s) for s in set(statuses)}
    for x in fires:
        numbers = [a["number"] for a in x["attempts"]]
        assert len(numbers) == len(set(numbers)), (x["id"], numbers)
        assert [a["outcome"] for a in x["attempts"]].count("success") == 1, x
        assert x["job"]["state"] == "succeeded"
        ok = [n for (fid, n), codes in driver.answers.items() if fid == x["id"] and 200 in codes]
        assert x["attempts"][-1]["number"] in ok, (x["id"], ok)
    print(
        f"jobs chaos: {JOBS} jobs, {len(rx.requests_to('/job'))} deliveries, "
        f"{sum(len(x['attempts']) for x in fires)} attempts recorded, "
        f"{len(before)} running at the Redis kill"
    )
