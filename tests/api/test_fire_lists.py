"""`GET /v1/fires`: every fire of the tenant (one-off messages included), newest first,
filtered by status, kind, schedule and scheduled time, cursor-paginated; and `?status=`
on a schedule's fires."""

from __future__ import annotations

from typing import Any

import httpx

from app.models import from_ms, rfc3339
from app.store import Store
from tests.api.conftest import Tenant, onboard

TARGET = {"url": "http://127.0.0.1:9/hook", "body": {"n": 1}}
DAY = 86_400_000


async def _walk(api: httpx.AsyncClient, t: Tenant, path: str, limit: int = 2) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        sep = "&" if "?" in path else "?"
        q = f"{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        r = await api.get(path + q, headers=t.auth)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        seen += [f["id"] for f in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


async def _message(api: httpx.AsyncClient, t: Tenant, at_ms: int) -> dict[str, Any]:
    body = {"target": TARGET, "deliver_at": rfc3339(from_ms(at_ms))}
    r = await api.post("/v1/messages", json=body, headers=t.auth)
    assert r.status_code == 202, r.text
    fire: dict[str, Any] = r.json()
    return fire


async def test_the_tenants_fires_are_listed_and_filtered(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    # given three messages a day apart, and two manual fires of a schedule
    now = await store.now_ms()
    msgs = [await _message(api, tenant, now + (i + 1) * DAY) for i in range(3)]
    body = {"name": "x", "cron": "0 0 1 1 *", "target": TARGET}
    sid = (await api.post("/v1/schedules", json=body, headers=tenant.auth)).json()["id"]
    manual = [
        (await api.post(f"/v1/schedules/{sid}/trigger", headers=tenant.auth)).json()
        for _ in range(2)
    ]
    # and one fire that failed for good
    await store.fires.set_status(tenant.id, manual[0]["id"], "failed", now)
    # then every fire is listed once, newest scheduled first
    every = await _walk(api, tenant, "/v1/fires")
    assert sorted(every) == sorted(f["id"] for f in msgs + manual)
    assert every[:3] == [m["id"] for m in reversed(msgs)]
    # and each filter keeps what it says
    assert await _walk(api, tenant, "/v1/fires?kind=message") == [m["id"] for m in reversed(msgs)]
    assert sorted(await _walk(api, tenant, f"/v1/fires?schedule_id={sid}")) == sorted(
        f["id"] for f in manual
    )
    assert await _walk(api, tenant, "/v1/fires?status=failed") == [manual[0]["id"]]
    since, until = rfc3339(from_ms(now + DAY + DAY // 2)), rfc3339(from_ms(now + 3 * DAY))
    got = await _walk(api, tenant, f"/v1/fires?since={since}&until={until}", limit=1)
    assert got == [msgs[2]["id"], msgs[1]["id"]]  # since excluded, until included
    kinds = await _walk(api, tenant, f"/v1/fires?kind=manual&status=scheduled&schedule_id={sid}")
    assert kinds == [manual[1]["id"]]
    # and a schedule's fires take ?status= too
    assert await _walk(api, tenant, f"/v1/schedules/{sid}/fires?status=failed") == [manual[0]["id"]]


async def test_another_tenants_fires_are_not_listed(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    other = await onboard(api, "b")
    await _message(api, other, await store.now_ms() + DAY)
    assert await _walk(api, tenant, "/v1/fires") == []


async def test_bad_fire_filters_are_422_naming_them(api: httpx.AsyncClient, tenant: Tenant) -> None:
    for query, field in [
        ("status=gone", "status"),
        ("kind=cronjob", "kind"),
        ("since=yesterday", "since"),
        ("schedule_id=nope", "schedule_id"),
    ]:
        r = await api.get(f"/v1/fires?{query}", headers=tenant.auth)
        assert r.status_code == 422, (query, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field], r.text
