"""The event stream as the contract declares it: each server-sent event, as schemathesis
reads a `text/event-stream`, matches the schema of `GET /v1/events` (its `event:` one of
the types, its `data:` an `Event`), for every kind of event the workers publish."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
import schemathesis

from app.bus.message import FireMessage
from app.events import attempt_events, dispatched_event, publish
from app.ids import new_id
from app.models import Attempt, Fire, RetrySettings, Target
from app.store import open_store
from tests.api.live import Live, live_api
from tests.conftest import REDIS_URL
from tests.e2e.procs import ROOT

pytestmark = [pytest.mark.external_service]


def _fire(tenant_id: str, schedule_id: str | None) -> Fire:
    now = int(time.time() * 1000)
    return Fire(
        id=new_id("fire"),
        tenant_id=tenant_id,
        schedule_id=schedule_id,
        kind="cron" if schedule_id else "message",
        scheduled_at=now,
        status="delivering",
        created_at=now,
        updated_at=now,
        target=Target(url="http://127.0.0.1:9/"),
        retry=RetrySettings(),
    )


def _events(tenant_id: str) -> list[dict[str, object]]:
    now = int(time.time() * 1000)
    ok, failing = _fire(tenant_id, new_id("sch")), _fire(tenant_id, None)
    done = Attempt(1, now, 12.5, 200, None, "", "success")
    bad = Attempt(2, now, 30.0, None, "connection refused", "", "fail", replay=True)
    retry = Attempt(1, now, 3.0, 503, None, "busy", "retry")
    return [
        dispatched_event(FireMessage(ok.id, tenant_id, 1, ok.scheduled_at), ok.schedule_id, now),
        *attempt_events(ok, done, "succeeded", None, now),
        *attempt_events(failing, retry, "retrying", now + 5000, now),
        *attempt_events(failing, bad, "failed", None, now),
    ]


@pytest.fixture(scope="module")
def live() -> Iterator[Live]:
    with live_api() as lv:
        yield lv


async def test_every_published_event_matches_the_streams_schema(live: Live) -> None:
    auth = {"Authorization": f"Bearer {live.key}"}
    store = open_store(REDIS_URL, prefix=live.prefix, shards=16, retention_s=60)
    chunks: list[bytes] = []
    async with httpx.AsyncClient(base_url=live.base, timeout=10) as c:
        tenant_id = (await c.get("/v1/tenant", headers=auth)).json()["id"]
        events = _events(tenant_id)
        # given an open stream
        async with c.stream("GET", "/v1/events", headers=auth) as r:
            assert r.status_code == 200
            # when the workers publish one event of each kind
            await publish(store, [(tenant_id, e) for e in events])

            async def read() -> None:
                async for chunk in r.aiter_bytes():
                    chunks.append(chunk)
                    if b"".join(chunks).count(b"\ndata: ") >= len(events):
                        return

            await asyncio.wait_for(read(), 10)
            request, headers = r.request, r.headers
    await store.aclose()
    # then schemathesis reads the stream and finds every event as the contract says
    body = b"".join(chunks)
    response = httpx.Response(200, headers=headers, content=body, request=request)
    response.elapsed = timedelta(0)
    op = schemathesis.openapi.from_path(ROOT / "openapi.yaml")["/v1/events"]["GET"]
    op.validate_response(response)
    assert body.count(b"\ndata: ") == len(events)
