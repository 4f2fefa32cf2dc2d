"""The live event stream: a real fire through real Redis, RabbitMQ, a dispatcher and an
invoker reaches the tenant's SSE stream as fire.dispatched, attempt.finished and
fire.succeeded (or fire.failed); another tenant's stream hears none of it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from tests.api.conftest import check_response
from tests.api.live import Live, live_api
from tests.api.sse import streaming, until
from tests.receiver import Receiver, Reply

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]
HOOKS = {"response": [check_response]}  # every response as the contract says


@pytest.fixture
def live() -> Iterator[Live]:
    with live_api(CRONHOOK_LEASE_SECONDS="10") as lv:
        lv.fleet.start("dispatcher")
        lv.fleet.start("invoker")
        yield lv


async def test_a_real_fire_streams_its_events_to_its_tenant_only(live: Live) -> None:
    admin = {"Authorization": f"Bearer {live.admin_token}"}
    async with (
        Receiver() as rx,
        httpx.AsyncClient(base_url=live.base, timeout=30, event_hooks=HOOKS) as c,
    ):
        other = (await c.post("/v1/tenants", json={"name": "other"}, headers=admin)).json()
        auth = {"Authorization": f"Bearer {live.key}"}
        async with streaming(c, live.key) as mine, streaming(c, other["api_key"]) as theirs:
            # when a cron fire and a failing one-off message are delivered
            body = {"name": "sse", "cron": "* * * * * *", "target": {"url": rx.url("/ok")}}
            sid = (await c.post("/v1/schedules", json=body, headers=auth)).json()["id"]
            rx.script("/fail", Reply(500))
            msg = {"target": {"url": rx.url("/fail")}, "retry": {"max_attempts": 1}}
            failing = (await c.post("/v1/messages", json=msg, headers=auth)).json()["id"]

            def cron_done() -> bool:
                return any(
                    n == "fire.succeeded" and d["schedule_id"] == sid for n, d in mine.events
                )

            await until(lambda: cron_done() and "fire.failed" in mine.of(failing))
            await c.delete(f"/v1/schedules/{sid}", headers=auth)
            # then the tenant saw each fire's life in order
            fid = next(
                d["fire_id"]
                for n, d in mine.events
                if n == "fire.succeeded" and d["schedule_id"] == sid
            )
            # (dispatcher and invoker publish independently: the order may vary)
            assert sorted(mine.of(fid)) == ["attempt.finished", "fire.dispatched", "fire.succeeded"]
            done = next(
                d for n, d in mine.events if n == "attempt.finished" and d["fire_id"] == fid
            )
            assert done["status_code"] == 200 and done["attempt"] == 1
            assert done["outcome"] == "success" and done["schedule_id"] == sid
            dispatched = next(
                d for n, d in mine.events if n == "fire.dispatched" and d["fire_id"] == fid
            )
            assert dispatched["schedule_id"] == sid and dispatched["status"] == "dispatched"
            assert sorted(mine.of(failing)) == [
                "attempt.finished",
                "fire.dispatched",
                "fire.failed",
            ]
            # (a single attempt allowed: it had no retry left, and both events say so)
            assert {
                n: d["outcome"]
                for n, d in mine.events
                if n != "fire.dispatched" and d["fire_id"] == failing
            } == {"attempt.finished": "exhausted", "fire.failed": "exhausted"}
            # and the other tenant heard nothing
            assert theirs.events == []


async def test_the_stream_filters_by_type_and_refuses_unknown_types(live: Live) -> None:
    async with (
        Receiver() as rx,
        httpx.AsyncClient(base_url=live.base, timeout=30, event_hooks=HOOKS) as c,
    ):
        auth = {"Authorization": f"Bearer {live.key}"}
        r = await c.get("/v1/events?types=fire.exploded", headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "types"
        async with streaming(c, live.key, "?types=fire.succeeded") as only:
            msg = {"target": {"url": rx.url("/ok")}}
            fid = (await c.post("/v1/messages", json=msg, headers=auth)).json()["id"]
            await until(lambda: only.of(fid) != [])
            await asyncio.sleep(0.3)
            assert only.of(fid) == ["fire.succeeded"]
            assert {n for n, _ in only.events} == {"fire.succeeded"}


async def test_the_stream_filters_by_schedule_also_for_triggered_and_retried_fires(
    live: Live,
) -> None:
    async with (
        Receiver() as rx,
        httpx.AsyncClient(base_url=live.base, timeout=30, event_hooks=HOOKS) as c,
    ):
        auth = {"Authorization": f"Bearer {live.key}"}
        rx.script("/flaky", Reply(503), Reply(200))
        body = {
            "name": "t",
            "cron": "0 0 1 1 *",
            "paused": True,
            "target": {"url": rx.url("/flaky")},
            "retry": {"min_backoff_seconds": 0.1, "max_backoff_seconds": 0.2},
        }
        sid = (await c.post("/v1/schedules", json=body, headers=auth)).json()["id"]
        async with streaming(c, live.key, f"?schedule_id={sid}") as only:
            # when the schedule is triggered (its first attempt fails, the retry succeeds)
            # and an unrelated message goes out meanwhile
            fid = (await c.post(f"/v1/schedules/{sid}/trigger", headers=auth)).json()["id"]
            msg = {"target": {"url": rx.url("/ok")}}
            other = (await c.post("/v1/messages", json=msg, headers=auth)).json()["id"]
            await until(lambda: "fire.succeeded" in only.of(fid))
            await asyncio.sleep(0.3)
            # then every event of the schedule's fire came, retry included, and nothing else
            # (dispatcher and invoker publish independently: the retry's dispatch may come
            # before the first attempt's outcome)
            got = only.of(fid)
            assert sorted(got) == sorted(
                ["fire.dispatched", "attempt.finished"] * 2 + ["fire.succeeded"]
            )
            assert only.of(other) == []
            attempts = sorted(d["attempt"] for n, d in only.events if n == "fire.dispatched")
            assert attempts == [1, 2]
            assert all(d["schedule_id"] == sid for _, d in only.events)
