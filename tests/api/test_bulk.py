"""Many schedules in one request: each item checked like a single create, answered on its
own, written whole or not at all, within the tenant's quota."""

from __future__ import annotations

from typing import Any

import httpx

from app.keys import schedule_item
from app.store import Store
from tests.api.conftest import Tenant, onboard, schedule_body


async def _bulk(api: httpx.AsyncClient, t: Tenant, items: list[Any]) -> httpx.Response:
    return await api.post("/v1/schedules:bulk", json={"items": items}, headers=t.auth)


async def _count(api: httpx.AsyncClient, t: Tenant) -> int:
    r = await api.get("/v1/schedules?limit=200", headers=t.auth)
    return len(r.json()["items"])


async def test_good_items_are_created_and_bad_ones_name_their_fields(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    # given a batch mixing good items with a bad cron, an ftp URL and a missing name
    items = [
        schedule_body(name="ok-0"),
        schedule_body(name="bad-cron", cron="61 * * * *"),
        schedule_body(name="ok-2"),
        schedule_body(name="bad-url", target={"url": "ftp://example.com/x"}),
        {"cron": "* * * * *", "target": {"url": "http://127.0.0.1:9/"}},
    ]
    # when it is sent in one request
    r = await _bulk(api, tenant, items)
    # then the good ones are created and each bad one says which field, in words
    assert r.status_code == 200, r.text
    result = r.json()
    assert (result["created"], result["failed"]) == (2, 3)
    assert [x["index"] for x in result["items"]] == [0, 1, 2, 3, 4]
    ok = [x["schedule"] for x in result["items"] if "schedule" in x]
    assert [s["name"] for s in ok] == ["ok-0", "ok-2"]
    fields = {
        x["index"]: [e["field"] for e in x["problem"]["errors"]]
        for x in result["items"]
        if "problem" in x
    }
    assert fields == {1: ["items.1.cron"], 3: ["items.3.target.url"], 4: ["items.4.name"]}
    for x in result["items"]:
        if "problem" in x:
            assert x["problem"]["status"] == 422 and x["problem"]["detail"]
    # and the created ones are whole: readable, listed, and due in the time index
    for s in ok:
        got = await api.get(f"/v1/schedules/{s['id']}", headers=tenant.auth)
        assert got.status_code == 200 and got.json()["next_fire_at"] == s["next_fire_at"]
        assert await store.time.due_at(schedule_item(s["id"])) is not None
    assert await _count(api, tenant) == 2


async def test_a_bulk_item_means_what_the_same_single_create_means(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    body = schedule_body(
        name="same", cron="0 30 2 * * *", timezone="Europe/Berlin", retry={"max_attempts": 3}
    )
    single = (await api.post("/v1/schedules", json=body, headers=tenant.auth)).json()
    [item] = (await _bulk(api, tenant, [body])).json()["items"]
    volatile = {"id", "created_at", "updated_at"}
    assert {k: v for k, v in item["schedule"].items() if k not in volatile} == {
        k: v for k, v in single.items() if k not in volatile
    }


async def test_the_quota_holds_across_a_bulk_request(api: httpx.AsyncClient) -> None:
    # given a tenant that may have 3 schedules and has 1
    t = await onboard(api, limits={"max_schedules": 3})
    r = await api.post("/v1/schedules", json=schedule_body(), headers=t.auth)
    assert r.status_code == 201
    # when it sends 5 more at once
    result = (await _bulk(api, t, [schedule_body(name=f"n{i}") for i in range(5)])).json()
    # then exactly 2 are created and the rest are refused naming the quota
    assert (result["created"], result["failed"]) == (2, 3)
    refused = [x["problem"] for x in result["items"] if "problem" in x]
    assert all(p["errors"][0]["field"] == "max_schedules" for p in refused)
    assert await _count(api, t) == 3


async def test_a_malformed_bulk_request_is_refused_whole(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    cases: list[tuple[Any, str]] = [
        ({"items": []}, "items"),
        ({"items": [schedule_body()] * 1001}, "items"),
        ({"items": [schedule_body(), "not an object"]}, "items.1"),
        ({}, "items"),
        ({"items": [schedule_body()], "extra": 1}, "extra"),
    ]
    for body, field in cases:
        r = await api.post("/v1/schedules:bulk", json=body, headers=tenant.auth)
        assert r.status_code == 422, (body if len(str(body)) < 200 else field, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        assert field in [e["field"] for e in r.json()["errors"]]
    assert await _count(api, tenant) == 0


async def test_a_tenant_key_is_needed_and_schedules_land_in_its_own_tenant(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    other = await onboard(api, name="other")
    r = await api.post("/v1/schedules:bulk", json={"items": [schedule_body()]})
    assert r.status_code == 401
    result = (await _bulk(api, tenant, [schedule_body(name="mine")])).json()
    sid = result["items"][0]["schedule"]["id"]
    assert (await api.get(f"/v1/schedules/{sid}", headers=other.auth)).status_code == 404
    assert await _count(api, other) == 0
