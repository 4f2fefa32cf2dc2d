"""A long job as its tenant follows it, end to end on real processes (api, dispatcher,
invoker) and the real Redis and RabbitMQ: the event stream (``GET /v1/events``) carries
``fire.running`` and then ``fire.progress`` with the fields docs/jobs.md promises, and the
outcome callbacks, signed like any webhook, carry the job's status, result and last
progress, when the job completes and when it times out; the API's ``cronhook_jobs_running``
counts the jobs an invoker started, on a single Redis and on a Redis Cluster."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.api.conftest import check_response
from tests.api.live import UNLIMITED, Live, live_api
from tests.api.sse import Stream, streaming, until
from tests.e2e.procs import base_env, fleet, wait_http
from tests.e2e.rig import FAST
from tests.e2e.services import redis_cluster
from tests.e2e.test_processes import _delete_queues
from tests.receiver import Receiver, RecordedRequest, Reply
from tests.spec import schema_errors

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]
HOOKS = {"response": [check_response]}  # every response as the contract says
EVENT = {"$ref": "#/components/schemas/Event"}


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with live_api(CRONHOOK_LEASE_SECONDS="10") as lv:
        lv.fleet.env["CRONHOOK_PUBLIC_URL"] = lv.base  # what cronhook-job-url names
        lv.fleet.start("dispatcher")
        lv.fleet.start("invoker")
        yield lv


def instant(raw: str) -> datetime:
    return datetime.fromisoformat(raw.replace("Z", "+00:00"))


def of(stream: Stream, fire_id: str, name: str) -> list[dict[str, Any]]:
    return [d for n, d in stream.events if n == name and d["fire_id"] == fire_id]


def lifecycle(stream: Stream, fire_id: str) -> list[str]:
    """The fire's events but ``fire.dispatched`` (the dispatcher publishes it on its own,
    so it may come anywhere before the attempt's end)."""
    return [n for n in stream.of(fire_id) if n != "fire.dispatched"]


def signed_body(secret: str, request: RecordedRequest) -> dict[str, Any]:
    """The callback's JSON body, after its Standard Webhooks signature was verified."""
    Webhook(secret).verify(request.body, dict(request.headers))
    body: dict[str, Any] = json.loads(request.body)
    return body


async def jobs_running(c: httpx.AsyncClient, wanted: float, within: float = 15.0) -> None:
    """Wait until the API process's /metrics says ``wanted`` jobs run (it refreshes its
    gauges every 5 s; it never saw the job's 202, an invoker did)."""
    seen: list[str] = []

    async def poll() -> bool:
        text = (await c.get("/metrics")).text
        seen[:] = [x for x in text.splitlines() if x.startswith("cronhook_jobs_running ")]
        return seen == [f"cronhook_jobs_running {wanted}"]

    for _ in range(int(within * 5)):
        if await poll():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"cronhook_jobs_running is {seen}, not {wanted}")


async def tenant(c: httpx.AsyncClient, live: Live) -> tuple[dict[str, str], str, str]:
    """A fresh tenant: (API auth header, API key, signing secret)."""
    admin = {"Authorization": f"Bearer {live.admin_token}"}
    r = await c.post("/v1/tenants", json={"name": "jobs", "limits": UNLIMITED}, headers=admin)
    assert r.status_code == 201, r.text
    t = r.json()
    return {"Authorization": f"Bearer {t['api_key']}"}, t["api_key"], t["signing_secret"]


async def test_a_job_streams_running_then_progress_and_its_callback_has_its_result(
    live: Live,
) -> None:
    async with (
        Receiver() as rx,
        httpx.AsyncClient(base_url=live.base, timeout=30, event_hooks=HOOKS) as c,
    ):
        auth, key, secret = await tenant(c, live)
        rx.script("/job", Reply(202, b"accepted"))
        async with streaming(c, key) as stream:
            # given a job message with a callback, whose endpoint answers 202
            target = {
                "url": rx.url("/job"),
                "job": {"timeout_seconds": 60, "heartbeat_seconds": 30},
            }
            msg = {"target": target, "callback_url": rx.url("/cb")}
            r = await c.post("/v1/messages", json=msg, headers=auth)
            assert r.status_code == 202, r.text
            fid = r.json()["id"]
            [delivery] = await rx.wait_for(1, path="/job", within=15)
            job_url = delivery.headers["cronhook-job-url"]
            job = {"Authorization": f"Bearer {delivery.headers['cronhook-job-token']}"}

            # then the stream says it runs, with the deadline the fire shows
            await until(lambda: of(stream, fid, "fire.running") != [])
            [running] = of(stream, fid, "fire.running")
            view = (await c.get(f"/v1/fires/{fid}", headers=auth)).json()
            assert running["deadline_at"] == view["job"]["deadline_at"]
            assert (running["status"], running["attempt"], running["schedule_id"]) == (
                "running",
                1,
                None,
            )
            window = (instant(running["deadline_at"]) - instant(running["at"])).total_seconds()
            assert 25 <= window <= 30  # the heartbeat interval from the 202
            await jobs_running(c, 1.0)  # the API's own gauge, read from Redis

            # when the job reports progress twice, then its success
            reports = [
                {"percent": 30, "message": "rows 1-300", "data": {"rows": 300}},
                {"percent": 70, "message": "rows 301-700", "data": {"rows": 700}},
            ]
            answers = []
            for report in reports:
                r = await c.post(f"{job_url}/progress", json=report, headers=job)
                assert r.status_code == 200, r.text
                answers.append(r.json())
            await until(lambda: len(of(stream, fid, "fire.progress")) == 2)
            done = {"status": "succeeded", "result": {"rows": 1000, "file": "r.csv"}}
            r = await c.post(f"{job_url}/complete", json=done, headers=job)
            assert r.status_code == 200, r.text
            await until(lambda: "fire.succeeded" in stream.of(fid))

            # then the stream told it in order: running, each report, the end
            assert lifecycle(stream, fid) == [
                "fire.running",
                "fire.progress",
                "fire.progress",
                "attempt.finished",
                "fire.succeeded",
            ]
            progress = of(stream, fid, "fire.progress")
            assert [p["progress"] for p in progress] == reports
            assert [p["deadline_at"] for p in progress] == [a["deadline_at"] for a in answers]
            assert all((p["status"], p["attempt"]) == ("running", 1) for p in progress)
            [finished] = of(stream, fid, "attempt.finished")
            assert (finished["status_code"], finished["outcome"]) == (202, "success")
            for _, data in stream.events:  # the job's and its callbacks' own fires
                assert schema_errors(EVENT, data) == []

        await jobs_running(c, 0.0)
        # and the callback, signed, carries the job's status, result and last progress
        [cb] = await rx.wait_for(1, path="/cb", within=15)
        body = signed_body(secret, cb)
        assert (body["type"], body["fire_id"], body["status"]) == (
            "fire.succeeded",
            fid,
            "succeeded",
        )
        assert body["job"] == {
            "status": "succeeded",
            "result": {"rows": 1000, "file": "r.csv"},
            "progress": reports[-1],
        }
        assert body["response"]["status_code"] == 202


async def test_a_silent_job_times_out_on_the_stream_and_in_its_callbacks(live: Live) -> None:
    async with (
        Receiver() as rx,
        httpx.AsyncClient(base_url=live.base, timeout=30, event_hooks=HOOKS) as c,
    ):
        auth, key, secret = await tenant(c, live)
        rx.script("/job", Reply(202, b"accepted"))
        async with streaming(c, key) as stream:
            # given a job with a 2 s timeout and no retry, which reports once, then nothing
            msg = {
                "target": {"url": rx.url("/job"), "job": {"timeout_seconds": 2}},
                "retry": {"max_attempts": 1},
                "callback_url": rx.url("/cb"),
                "failure_callback_url": rx.url("/fcb"),
            }
            r = await c.post("/v1/messages", json=msg, headers=auth)
            assert r.status_code == 202, r.text
            fid = r.json()["id"]
            [delivery] = await rx.wait_for(1, path="/job", within=15)
            job = {"Authorization": f"Bearer {delivery.headers['cronhook-job-token']}"}
            await until(lambda: of(stream, fid, "fire.running") != [])
            report = {"percent": 10, "message": "started"}
            url = delivery.headers["cronhook-job-url"] + "/progress"
            r = await c.post(url, json=report, headers=job)
            assert r.status_code == 200, r.text

            # when its timeout passes
            await until(lambda: "fire.failed" in stream.of(fid))

            # then the stream told it in order, the end a job_timeout
            assert lifecycle(stream, fid) == [
                "fire.running",
                "fire.progress",
                "attempt.finished",
                "fire.failed",
            ]
            [running] = of(stream, fid, "fire.running")
            [progress] = of(stream, fid, "fire.progress")
            # without a heartbeat interval, a report leaves the deadline at the timeout
            assert progress["deadline_at"] == running["deadline_at"]
            assert progress["progress"] == report
            [finished] = of(stream, fid, "attempt.finished")
            assert (finished["error"], finished["outcome"]) == ("job_timeout", "exhausted")
            for _, data in stream.events:  # the job's and its callbacks' own fires
                assert schema_errors(EVENT, data) == []

        # and both callbacks, signed, say it timed out, with no result and its last report
        [cb] = await rx.wait_for(1, path="/cb", within=15)
        [fcb] = await rx.wait_for(1, path="/fcb", within=15)
        for request in (cb, fcb):
            body = signed_body(secret, request)
            assert (body["type"], body["fire_id"]) == ("fire.failed", fid)
            assert body["job"] == {"status": "timeout", "result": None, "progress": report}
            assert body["response"]["error"] == "job_timeout"
            assert body["response"]["duration_ms"] >= 2000


async def test_jobs_on_a_redis_cluster_are_counted_across_slots_and_complete(
    amqp_url: str, prefix: str, queue_name: str, free_port: int
) -> None:
    async with redis_cluster(3) as nodes:
        base = f"http://127.0.0.1:{free_port}"
        env = base_env(
            CRONHOOK_REDIS_URL=f"redis+cluster://127.0.0.1:{nodes[0].port}",
            CRONHOOK_AMQP_URL=amqp_url,
            CRONHOOK_PREFIX=prefix,
            CRONHOOK_QUEUE=queue_name,
            CRONHOOK_ADMIN_TOKEN=secrets.token_urlsafe(16),
            CRONHOOK_PORT=str(free_port),
            CRONHOOK_PUBLIC_URL=base,
            CRONHOOK_ALLOW_PRIVATE_TARGETS="true",
            **FAST,
        )
        try:
            async with (
                fleet(env) as f,
                Receiver() as rx,
                httpx.AsyncClient(base_url=base, timeout=10, event_hooks=HOOKS) as c,
            ):
                # given the roles on a three-master cluster, and a job of each of three
                # tenants (three hash slots) whose endpoint answers 202
                api_proc = f.start("api")
                f.start("dispatcher")
                f.start("invoker")
                await wait_http(f"{base}/healthz", proc=api_proc)
                admin = {"Authorization": f"Bearer {env['CRONHOOK_ADMIN_TOKEN']}"}
                rx.script("/job", *[Reply(202, b"accepted")] * 3)
                fires = []
                for n in range(3):
                    r = await c.post("/v1/tenants", json={"name": f"t{n}"}, headers=admin)
                    auth = {"Authorization": f"Bearer {r.json()['api_key']}"}
                    msg = {"target": {"url": rx.url("/job"), "job": {"timeout_seconds": 60}}}
                    r = await c.post("/v1/messages", json=msg, headers=auth)
                    assert r.status_code == 202, r.text
                    fires.append((auth, r.json()["id"]))
                deliveries = await rx.wait_for(3, path="/job", within=20)

                # then the API counts the three running
                await jobs_running(c, 3.0)

                # when each job reports and completes
                for d in deliveries:
                    job = {"Authorization": f"Bearer {d.headers['cronhook-job-token']}"}
                    url = d.headers["cronhook-job-url"]
                    r = await c.post(f"{url}/progress", json={"percent": 50}, headers=job)
                    assert r.status_code == 200, r.text
                    r = await c.post(f"{url}/complete", json={"status": "succeeded"}, headers=job)
                    assert r.status_code == 200, r.text

                # then every fire succeeded and none is counted as running
                for auth, fid in fires:
                    for _ in range(100):
                        view = (await c.get(f"/v1/fires/{fid}", headers=auth)).json()
                        if view["status"] == "succeeded":
                            break
                        await asyncio.sleep(0.1)
                    assert view["status"] == "succeeded", view
                    assert view["job"]["heartbeats"] == 1
                await jobs_running(c, 0.0)
        finally:
            await _delete_queues(amqp_url, queue_name)
