"""Bulk creation of schedules: each item validated and created as a single create would
be, per-item errors in order, the quota exact, a refused item writes nothing."""

from __future__ import annotations

import httpx

from app.store import Store
from tests.api.conftest import Tenant, onboard, schedule_body


async def test_a_bulk_creates_every_valid_item_and_names_each_error(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    # given three good items and three bad ones (bad cron, bad URL, missing field)
    items = [
        schedule_body(name="a"),
        schedule_body(name="b", cron="not a cron"),
        schedule_body(name="c"),
        schedule_body(name="d", target={"url": "ftp://example.com/x"}),
        {"name": "e"},
        schedule_body(name="f", paused=True),
    ]
    r = await api.post("/v1/schedules/bulk", json={"items": items}, headers=tenant.auth)
    # then the good ones are created, the bad ones refused with their field, in order
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["created"], body["failed"]) == (3, 3)
    assert [i["index"] for i in body["items"]] == list(range(6))
    assert [i["status"] for i in body["items"]] == [201, 422, 201, 422, 422, 201]
    fields = [[e["field"] for e in i["problem"].get("errors", [])] for i in body["items"][1:5:2]]
    assert fields[0] == ["cron"] and fields[1] == ["target.url"]
    assert body["items"][5]["schedule"]["paused"] is True
    # and exactly those exist, each readable as a single create's would be
    listed = (await api.get("/v1/schedules?limit=50", headers=tenant.auth)).json()["items"]
    assert sorted(s["name"] for s in listed) == ["a", "c", "f"]
    one = body["items"][0]["schedule"]
    got = await api.get(f"/v1/schedules/{one['id']}", headers=tenant.auth)
    assert got.json()["next_fire_at"] == one["next_fire_at"]


async def test_a_bulk_past_the_quota_creates_exactly_up_to_it(
    api: httpx.AsyncClient, store: Store
) -> None:
    t = await onboard(api, "small", limits={"max_schedules": 5})
    items = [schedule_body(name=f"s{i}") for i in range(8)]
    r = await api.post("/v1/schedules/bulk", json={"items": items}, headers=t.auth)
    body = r.json()
    assert (body["created"], body["failed"]) == (5, 3)
    assert sorted(i["status"] for i in body["items"]) == [201] * 5 + [422] * 3
    listed = (await api.get("/v1/schedules?limit=50", headers=t.auth)).json()["items"]
    assert len(listed) == 5


async def test_a_bulk_request_itself_is_checked(api: httpx.AsyncClient, tenant: Tenant) -> None:
    for bad in ({}, {"items": []}, {"items": [1]}, {"items": [{}] * 1001}):
        r = await api.post("/v1/schedules/bulk", json=bad, headers=tenant.auth)
        assert r.status_code == 422, (bad, r.text)
        assert r.headers["content-type"] == "application/problem+json"
