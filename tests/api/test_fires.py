"""Fires through the API: one-off messages, dead letters and replays."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.keys import fire_item
from app.models import Attempt, from_ms, rfc3339
from app.store import Store
from tests.api.conftest import Tenant, onboard

TARGET = {"url": "http://127.0.0.1:9/x", "body": {"n": 1}}


async def _item(store: Store, fire_id: str) -> dict[str, Any] | None:
    shard = store.keys.shard_for(fire_item(fire_id))
    raw = await store.client.hget(shard.items, fire_item(fire_id))
    return None if raw is None else dict(json.loads(raw))


@pytest.mark.parametrize("when", ["now", "deliver_at", "delay_seconds", "past"])
async def test_a_message_is_a_fire_waiting_in_the_time_index(
    api: httpx.AsyncClient, tenant: Tenant, store: Store, when: str
) -> None:
    now = await store.now_ms()
    body: dict[str, Any] = {"target": TARGET, "retry": {"max_attempts": 2}}
    expected = now
    if when == "deliver_at":
        expected = now + 30 * 86_400_000
        body["deliver_at"] = rfc3339(from_ms(expected))
    elif when == "delay_seconds":
        body["delay_seconds"], expected = 90, now + 90_000
    elif when == "past":
        body["deliver_at"] = "2001-01-01T00:00:00Z"
    r = await api.post("/v1/messages", json=body, headers=tenant.auth)
    assert r.status_code == 202, r.text
    fire = r.json()
    assert fire["kind"] == "message" and fire["schedule_id"] is None
    assert fire["status"] == "scheduled"
    due = await store.time.due_at(fire_item(fire["id"]))
    assert due is not None and abs(due - expected) < 2000
    assert (await _item(store, fire["id"]) or {})["a"] == 1
    stored = await store.fires.get(tenant.id, fire["id"])
    assert stored is not None and stored.retry.max_attempts == 2
    assert stored.target.body == {"n": 1}
    got = (await api.get(f"/v1/fires/{fire['id']}", headers=tenant.auth)).json()
    assert got["id"] == fire["id"] and got["scheduled_at"] == fire["scheduled_at"]


async def test_a_message_takes_deliver_at_or_delay_not_both(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = {"target": TARGET, "deliver_at": "2035-01-01T00:00:00Z", "delay_seconds": 5}
    r = await api.post("/v1/messages", json=body, headers=tenant.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "delay_seconds"
    r = await api.post(
        "/v1/messages", json={"target": TARGET, "schedule_id": "sch_x"}, headers=tenant.auth
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "schedule_id"


async def _failed_fire(api: httpx.AsyncClient, t: Tenant, store: Store) -> str:
    """A message whose only attempt failed for good (recorded as the invoker would)."""
    r = await api.post(
        "/v1/messages", json={"target": TARGET, "retry": {"max_attempts": 1}}, headers=t.auth
    )
    fid: str = r.json()["id"]
    await store.time.remove(fire_item(fid))
    now = await store.now_ms()
    assert await store.fires.begin(t.id, fid, "inv", 1, 30_000, now) == "go"
    attempt = Attempt(1, now, 12.5, 500, None, "boom", "fail")
    assert await store.fires.finish(t.id, fid, "inv", attempt, "failed", now, None) == "failed"
    return fid


async def test_a_dead_letter_is_listed_and_replayed_as_its_next_attempt(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    fid = await _failed_fire(api, tenant, store)
    dead = (await api.get("/v1/dead-letters", headers=tenant.auth)).json()
    assert [f["id"] for f in dead["items"]] == [fid]
    assert dead["items"][0]["attempts"][0]["status_code"] == 500
    # when it is replayed
    r = await api.post(f"/v1/fires/{fid}/replay", headers=tenant.auth)
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "dispatched"
    # then it leaves the dead letters and waits in the time index as attempt 2, a replay
    assert (await api.get("/v1/dead-letters", headers=tenant.auth)).json()["items"] == []
    item = await _item(store, fid)
    assert item is not None and item["a"] == 2 and item["r"] is True and item["f"] == fid
    assert await store.time.due_at(fire_item(fid)) is not None
    # and the invoker may begin attempt 2 (not 'done', not 'stale')
    assert await store.fires.begin(tenant.id, fid, "inv2", 2, 30_000, await store.now_ms()) == "go"
    # a fire in progress cannot be replayed
    r = await api.post(f"/v1/fires/{fid}/replay", headers=tenant.auth)
    assert r.status_code == 409


async def test_a_scheduled_fire_is_not_replayed(api: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await api.post(
        "/v1/messages", json={"target": TARGET, "delay_seconds": 60}, headers=tenant.auth
    )
    r = await api.post(f"/v1/fires/{r.json()['id']}/replay", headers=tenant.auth)
    assert r.status_code == 409 and "scheduled" in r.json()["detail"]


async def test_another_tenants_fire_is_404_everywhere(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    fid = await _failed_fire(api, tenant, store)
    other = await onboard(api, "other")
    assert (await api.get(f"/v1/fires/{fid}", headers=other.auth)).status_code == 404
    assert (await api.post(f"/v1/fires/{fid}/replay", headers=other.auth)).status_code == 404
    assert (await api.get("/v1/dead-letters", headers=other.auth)).json()["items"] == []
    fire = await store.fires.get(tenant.id, fid)
    assert fire is not None and fire.status == "failed"


async def test_fire_pages_walk_every_fire_once(api: httpx.AsyncClient, tenant: Tenant) -> None:
    sid = (
        await api.post(
            "/v1/schedules",
            json={"name": "x", "cron": "0 0 1 1 *", "target": TARGET},
            headers=tenant.auth,
        )
    ).json()["id"]
    made = [
        (await api.post(f"/v1/schedules/{sid}/trigger", headers=tenant.auth)).json()["id"]
        for _ in range(5)
    ]
    seen, cursor = [], None
    while True:
        q = "?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = (await api.get(f"/v1/schedules/{sid}/fires{q}", headers=tenant.auth)).json()
        seen += [f["id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(made) and len(seen) == 5
