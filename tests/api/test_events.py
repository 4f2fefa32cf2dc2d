"""The live event stream: a real fire through real Redis, RabbitMQ, a dispatcher and an
invoker reaches the tenant's SSE stream as fire.dispatched, attempt.finished and
fire.succeeded (or fire.failed); another tenant's stream hears none of it."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.api.live import Live, live_api
from tests.receiver import Receiver, Reply

pytestmark = [pytest.mark.external_service, pytest.mark.e2e]


@pytest.fixture
def live() -> Iterator[Live]:
    with live_api(CRONHOOK_LEASE_SECONDS="10") as lv:
        lv.fleet.start("dispatcher")
        lv.fleet.start("invoker")
        yield lv


class Stream:
    """An open SSE stream, parsed into (event, data) as it arrives."""

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.comments = 0
        self.ready = asyncio.Event()

    async def run(self, client: httpx.AsyncClient, key: str, query: str = "") -> None:
        headers = {"Authorization": f"Bearer {key}"}
        async with client.stream("GET", f"/v1/events{query}", headers=headers) as r:
            assert r.status_code == 200
            assert r.headers["content-type"].startswith("text/event-stream")
            name = ""
            async for line in r.aiter_lines():
                if line.startswith(":"):
                    self.comments += 1
                    self.ready.set()
                elif line.startswith("event: "):
                    name = line[7:]
                elif line.startswith("data: "):
                    self.events.append((name, json.loads(line[6:])))

    def of(self, fire_id: str) -> list[str]:
        return [n for n, d in self.events if d["fire_id"] == fire_id]


@contextlib.asynccontextmanager
async def streaming(client: httpx.AsyncClient, key: str, query: str = "") -> AsyncIterator[Stream]:
    s = Stream()
    task = asyncio.create_task(s.run(client, key, query))
    await asyncio.wait_for(s.ready.wait(), 10)
    try:
        yield s
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _until(pred: Any, within: float = 20.0) -> None:
    for _ in range(int(within * 20)):
        if pred():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the events did not arrive in time")


async def test_a_real_fire_streams_its_events_to_its_tenant_only(live: Live) -> None:
    admin = {"Authorization": f"Bearer {live.admin_token}"}
    async with Receiver() as rx, httpx.AsyncClient(base_url=live.base, timeout=30) as c:
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

            await _until(lambda: cron_done() and "fire.failed" in mine.of(failing))
            await c.delete(f"/v1/schedules/{sid}", headers=auth)
            # then the tenant saw each fire's life in order
            fid = next(
                d["fire_id"]
                for n, d in mine.events
                if n == "fire.succeeded" and d["schedule_id"] == sid
            )
            assert mine.of(fid) == ["fire.dispatched", "attempt.finished", "fire.succeeded"]
            done = next(
                d for n, d in mine.events if n == "attempt.finished" and d["fire_id"] == fid
            )
            assert done["status_code"] == 200 and done["attempt"] == 1
            assert done["outcome"] == "success" and done["schedule_id"] == sid
            dispatched = next(d for n, d in mine.events if d["fire_id"] == fid)
            assert dispatched["schedule_id"] == sid and dispatched["status"] == "dispatched"
            assert mine.of(failing) == ["fire.dispatched", "attempt.finished", "fire.failed"]
            # and the other tenant heard nothing
            assert theirs.events == []


async def test_the_stream_filters_by_type_and_refuses_unknown_types(live: Live) -> None:
    async with Receiver() as rx, httpx.AsyncClient(base_url=live.base, timeout=30) as c:
        auth = {"Authorization": f"Bearer {live.key}"}
        r = await c.get("/v1/events?types=fire.exploded", headers=auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "types"
        async with streaming(c, live.key, "?types=fire.succeeded") as only:
            msg = {"target": {"url": rx.url("/ok")}}
            fid = (await c.post("/v1/messages", json=msg, headers=auth)).json()["id"]
            await _until(lambda: only.of(fid) != [])
            await asyncio.sleep(0.3)
            assert only.of(fid) == ["fire.succeeded"]
            assert {n for n, _ in only.events} == {"fire.succeeded"}
