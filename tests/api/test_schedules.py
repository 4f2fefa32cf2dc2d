"""Schedules through the API: pages, filters, partial updates, pause and resume, triggers,
previews with DST labels, and the tenant's quotas and limits."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import httpx
import pytest

from app.keys import fire_item, schedule_item
from app.models import parse_rfc3339, to_ms
from app.store import Store
from app.store.skips import Skip
from tests.api.conftest import ADMIN, Tenant, make_schedule, onboard, schedule_body


async def _all_pages(api: httpx.AsyncClient, t: Tenant, query: str, limit: int) -> list[str]:
    seen: list[str] = []
    cursor = None
    for _ in range(100):
        q = f"?limit={limit}{query}" + (f"&cursor={cursor}" if cursor else "")
        r = await api.get(f"/v1/schedules{q}", headers=t.auth)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["items"]) <= limit
        seen += [s["id"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


async def test_pagination_walks_every_schedule_once_newest_first(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    made = [(await make_schedule(api, tenant, name=f"n{i}"))["id"] for i in range(7)]
    seen = await _all_pages(api, tenant, "", 3)
    assert seen == list(reversed(made))


async def test_filters_hold_across_pages(api: httpx.AsyncClient, tenant: Tenant) -> None:
    # given 9 schedules: names a0..a4 and b0..b3, every third one paused
    ids: dict[str, dict[str, Any]] = {}
    for i, name in enumerate([*(f"a{i}" for i in range(5)), *(f"b{i}" for i in range(4))]):
        s = await make_schedule(api, tenant, name=name, paused=i % 3 == 0)
        ids[s["id"]] = s

    # then each filter returns exactly its matches, newest first, over small pages
    def want(pred: Any) -> list[str]:
        return [i for i, s in reversed(ids.items()) if pred(s)]

    assert await _all_pages(api, tenant, "&paused=true", 2) == want(lambda s: s["paused"])
    assert await _all_pages(api, tenant, "&paused=false", 2) == want(lambda s: not s["paused"])
    got = await _all_pages(api, tenant, "&name_prefix=b&paused=false", 1)
    assert got == want(lambda s: s["name"].startswith("b") and not s["paused"])


@pytest.mark.parametrize(
    "query", ["limit=0", "limit=201", "limit=x", "paused=yes", "cursor=bm9wZQ", "surprise=1"]
)
async def test_bad_query_parameters_are_422_naming_them(
    api: httpx.AsyncClient, tenant: Tenant, query: str
) -> None:
    r = await api.get(f"/v1/schedules?{query}", headers=tenant.auth)
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["field"] == query.split("=")[0]


async def test_patch_merges_bumps_the_version_and_retimes(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    s = await make_schedule(
        api, tenant, target={"url": "http://127.0.0.1:9/x", "headers": {"X-A": "1", "X-B": "2"}}
    )
    # when the cron and one header change, another header is removed
    r = await api.patch(
        f"/v1/schedules/{s['id']}",
        json={"cron": "0 0 3 * * *", "target": {"headers": {"X-A": None, "X-C": "3"}}},
        headers=tenant.auth,
    )
    assert r.status_code == 200, r.text
    new = r.json()
    # then the rest stays, the version grows, and the next fire follows the new cron
    assert new["target"]["headers"] == {"X-B": "2", "X-C": "3"}
    assert new["target"]["url"] == s["target"]["url"] and new["name"] == s["name"]
    assert new["version"] == s["version"] + 1 and new["created_at"] == s["created_at"]
    assert new["next_fire_at"].endswith("T03:00:00.000Z")
    due = await store.time.due_at(schedule_item(s["id"]))
    assert due == to_ms(parse_rfc3339(new["next_fire_at"]))
    assert (await api.get(f"/v1/schedules/{s['id']}", headers=tenant.auth)).json() == new


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"cron": "70 * * * *"}, "cron"),
        ({"id": "sch_other"}, "id"),
        ({"next_fire_at": "2030-01-01T00:00:00Z"}, "next_fire_at"),
        ({"target": {"url": "file:///etc/passwd"}}, "target.url"),
        ({"target": {"headers": {"Content-Length": "1"}}}, "target.headers.Content-Length"),
        ({"target": {"headers": {"cronhook-attempt": "9"}}}, "target.headers.cronhook-attempt"),
        ({"target": {"headers": {"X-Ok": "a\nb"}}}, "target.headers.X-Ok"),
        ({"target": {"headers": {"X-Ok": "a\x01b"}}}, "target.headers.X-Ok"),
        ({"target": {"headers": {"X-Ok": "a\x7fb"}}}, "target.headers.X-Ok"),
        ({"target": {"content_type": "text/plain\x1b"}}, "target.content_type"),
        ({"callback_url": "http://user:pw@example.com/"}, "callback_url"),
        (
            {"retry": {"min_backoff_seconds": 100, "max_backoff_seconds": 10}},
            "retry.max_backoff_seconds",
        ),
        ({"timezone": "Nowhere/City"}, "timezone"),
    ],
)
async def test_a_bad_patch_is_a_422_and_changes_nothing(
    api: httpx.AsyncClient, tenant: Tenant, store: Store, patch: dict[str, Any], field: str
) -> None:
    s = await make_schedule(api, tenant)
    due = await store.time.due_at(schedule_item(s["id"]))
    r = await api.patch(f"/v1/schedules/{s['id']}", json=patch, headers=tenant.auth)
    assert r.status_code == 422, r.text
    assert field in [e["field"] for e in r.json()["errors"]], r.json()
    assert (await api.get(f"/v1/schedules/{s['id']}", headers=tenant.auth)).json() == s
    assert await store.time.due_at(schedule_item(s["id"])) == due


async def test_pause_takes_the_schedule_out_of_time_and_resume_brings_it_back(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    s = await make_schedule(api, tenant)
    r = await api.post(f"/v1/schedules/{s['id']}/pause", headers=tenant.auth)
    assert r.json()["paused"] is True and r.json()["next_fire_at"] is None
    assert await store.time.due_at(schedule_item(s["id"])) is None
    r = await api.post(f"/v1/schedules/{s['id']}/pause", headers=tenant.auth)
    assert r.status_code == 200  # idempotent
    r = await api.post(f"/v1/schedules/{s['id']}/resume", headers=tenant.auth)
    resumed = r.json()
    assert resumed["paused"] is False and resumed["version"] == s["version"] + 2
    assert await store.time.due_at(schedule_item(s["id"])) == to_ms(
        parse_rfc3339(resumed["next_fire_at"])
    )


async def test_pausing_a_paused_or_resuming_an_active_schedule_changes_nothing(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    # given an active schedule and a paused one
    active = await make_schedule(api, tenant, name="on")
    paused = await make_schedule(api, tenant, name="off", paused=True)
    due = await store.time.due_at(schedule_item(active["id"]))
    await asyncio.sleep(0.01)
    # when each gets the call that asks for the state it is already in
    r_on = await api.post(f"/v1/schedules/{active['id']}/resume", headers=tenant.auth)
    r_off = await api.post(f"/v1/schedules/{paused['id']}/pause", headers=tenant.auth)
    # then both answer 200 with the schedule as it was: same version, same updated_at
    assert r_on.status_code == 200 and r_off.status_code == 200
    for before, r in ((active, r_on), (paused, r_off)):
        got = r.json()
        assert (got["version"], got["updated_at"]) == (before["version"], before["updated_at"])
        stored = (await api.get(f"/v1/schedules/{before['id']}", headers=tenant.auth)).json()
        assert (stored["version"], stored["updated_at"]) == (
            before["version"],
            before["updated_at"],
        )
    assert await store.time.due_at(schedule_item(active["id"])) == due


async def test_trigger_returns_a_manual_fire_due_now(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    s = await make_schedule(api, tenant, paused=True)
    before = await store.now_ms()
    r = await api.post(f"/v1/schedules/{s['id']}/trigger", headers=tenant.auth)
    assert r.status_code == 202, r.text
    fire = r.json()
    assert fire["kind"] == "manual" and fire["schedule_id"] == s["id"]
    assert fire["status"] == "scheduled" and fire["attempts"] == []
    assert r.headers["location"] == f"/v1/fires/{fire['id']}"
    due = await store.time.due_at(fire_item(fire["id"]))
    assert due is not None and before - 1000 <= due <= await store.now_ms()
    # the same path as retries: an f: item naming the fire and attempt 1
    shard = store.keys.shard_for(fire_item(fire["id"]))
    payload = json.loads(await store.client.hget(shard.items, fire_item(fire["id"])))
    assert payload == {
        "k": "f",
        "t": tenant.id,
        "f": fire["id"],
        "a": 1,
        "at": payload["at"],
        "r": False,
    }
    listed = (await api.get(f"/v1/schedules/{s['id']}/fires", headers=tenant.auth)).json()
    assert [f["id"] for f in listed["items"]] == [fire["id"]]


async def test_preview_shows_utc_local_and_the_dst_rule_that_applied(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    s = await make_schedule(api, tenant, cron="30 2 * * *", timezone="America/New_York")
    q = "count=3&after=2030-03-09T12:00:00Z"
    r = await api.get(f"/v1/schedules/{s['id']}/preview?{q}", headers=tenant.auth)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    # 02:30 does not exist on 2030-03-10 in New York: it fires at 03:00 EDT, flagged "gap"
    assert items == [
        {"at": "2030-03-10T07:00:00.000Z", "local": "2030-03-10T03:00:00.000-04:00", "dst": "gap"},
        {"at": "2030-03-11T06:30:00.000Z", "local": "2030-03-11T02:30:00.000-04:00", "dst": None},
        {"at": "2030-03-12T06:30:00.000Z", "local": "2030-03-12T02:30:00.000-04:00", "dst": None},
    ]
    r = await api.get(f"/v1/schedules/{s['id']}/preview?after=soon", headers=tenant.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "after"


async def test_preview_stops_at_end_at(api: httpx.AsyncClient, tenant: Tenant) -> None:
    s = await make_schedule(
        api,
        tenant,
        cron="0 0 * * *",
        start_at="2030-01-01T00:00:00Z",
        end_at="2030-01-03T00:00:00Z",
    )
    r = await api.get(f"/v1/schedules/{s['id']}/preview?count=10", headers=tenant.auth)
    assert [i["at"] for i in r.json()["items"]] == [
        "2030-01-01T00:00:00.000Z",
        "2030-01-02T00:00:00.000Z",
        "2030-01-03T00:00:00.000Z",
    ]


async def test_max_schedules_holds_under_concurrent_creates(
    api: httpx.AsyncClient, store: Store
) -> None:
    t = await onboard(api, limits={"max_schedules": 3})
    await asyncio.gather(*(store.client.ping() for _ in range(20)))  # really side by side
    results = await asyncio.gather(
        *(
            api.post("/v1/schedules", json=schedule_body(name=f"c{i}"), headers=t.auth)
            for i in range(12)
        )
    )
    codes = sorted(r.status_code for r in results)
    assert codes == [201] * 3 + [422] * 9
    refused = next(r for r in results if r.status_code == 422).json()
    assert refused["errors"] == [{"field": "max_schedules", "message": refused["detail"]}]
    assert await store.records.count_schedules(t.id) == 3
    # raising the quota lets the next one in
    await api.patch(f"/v1/tenants/{t.id}", json={"limits": {"max_schedules": 4}}, headers=ADMIN)
    r = await api.post("/v1/schedules", json=schedule_body(), headers=t.auth)
    assert r.status_code == 201


async def test_min_interval_refuses_crons_that_fire_too_often(api: httpx.AsyncClient) -> None:
    t = await onboard(api, limits={"min_interval_seconds": 60})
    for cron in ("* * * * * *", "*/30 * * * * *", "every 59s"):
        r = await api.post("/v1/schedules", json=schedule_body(cron=cron), headers=t.auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cron", cron
    for cron in ("* * * * *", "0 */5 * * * *", "every 60s"):
        r = await api.post("/v1/schedules", json=schedule_body(cron=cron), headers=t.auth)
        assert r.status_code == 201, (cron, r.text)


async def test_max_body_bytes_is_the_tenants(api: httpx.AsyncClient) -> None:
    t = await onboard(api, limits={"max_body_bytes": 100})
    big = {"url": "http://127.0.0.1:9/x", "body": "x" * 101}
    r = await api.post("/v1/schedules", json=schedule_body(target=big), headers=t.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "target.body"
    r = await api.post("/v1/messages", json={"target": big}, headers=t.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "target.body"
    ok = big | {"body": "x" * 100}
    assert (
        await api.post("/v1/schedules", json=schedule_body(target=ok), headers=t.auth)
    ).status_code == 201


async def test_private_targets_need_the_tenants_permission(store: Store) -> None:
    from app.api import create_app
    from app.settings import Settings
    from tests.api.conftest import ADMIN_TOKEN, client_for

    # given an API that does not allow private targets by default
    app = create_app(store, Settings(admin_token=ADMIN_TOKEN))
    async with client_for(app) as api:
        closed, opened = (
            await onboard(api, "c"),
            await onboard(api, "o", limits={"allowed_private_targets": True}),
        )
        for url in (
            "http://127.0.0.1/x",
            "http://10.0.0.1/x",
            "http://[::1]/x",
            "http://169.254.169.254/latest",
        ):
            body = schedule_body(target={"url": url})
            r = await api.post("/v1/schedules", json=body, headers=closed.auth)
            assert r.status_code == 422 and r.json()["errors"][0]["field"] == "target.url", url
            r = await api.post("/v1/schedules", json=body, headers=opened.auth)
            assert r.status_code == 201, (url, r.text)


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"cron": "0 0 12 * * * 1999"}, "never fire again"),
        ({"cron": "at 2001-01-01T00:00:00Z"}, "never fire again"),
        ({"cron": "0 0 12 * * * 2027", "start_at": "2028-01-01T00:00:00Z"}, "never fire again"),
        ({"cron": "0 0 12 31 2 ?"}, "never"),
    ],
)
async def test_a_cron_that_can_never_fire_again_is_refused_with_the_reason(
    api: httpx.AsyncClient, tenant: Tenant, changes: dict[str, Any], words: str
) -> None:
    r = await api.post("/v1/schedules", json=schedule_body(**changes), headers=tenant.auth)
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "cron" and words in error["message"], error
    assert (await api.get("/v1/schedules", headers=tenant.auth)).json()["items"] == []


async def test_a_schedule_past_its_last_instant_can_still_be_renamed(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    # given a schedule whose cron has no instant left (stored as it was once accepted)
    s = await make_schedule(api, tenant)
    stored = await store.records.get_schedule(tenant.id, s["id"])
    assert stored is not None
    await store.records.put_schedule(stored.evolve(cron="0 0 12 * * * 2001"), None)
    # when only its name changes, then that is fine; a new cron must still fire again
    r = await api.patch(f"/v1/schedules/{s['id']}", json={"name": "x"}, headers=tenant.auth)
    assert r.status_code == 200, r.text
    r = await api.patch(
        f"/v1/schedules/{s['id']}", json={"cron": "0 0 12 * * * 2002"}, headers=tenant.auth
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cron"


_RFC3339 = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}(Z|[+-]\d\d:\d\d)$"


@pytest.mark.parametrize(
    ("timezone", "after"),
    [
        ("Europe/Amsterdam", "1890-01-01T00:00:00Z"),  # LMT +00:19:32, then AMT until 1937
        ("Africa/Monrovia", "1960-01-01T00:00:00Z"),  # -00:44:30 until 1972
        ("Asia/Kolkata", "1850-06-01T00:00:00Z"),
        ("UTC", "0001-01-01T00:00:00Z"),
    ],
)
async def test_preview_in_a_local_mean_time_era_shows_valid_rfc3339_offsets(
    api: httpx.AsyncClient, tenant: Tenant, timezone: str, after: str
) -> None:
    s = await make_schedule(api, tenant, cron="0 0 12 * * *", timezone=timezone)
    r = await api.get(f"/v1/schedules/{s['id']}/preview?count=3&after={after}", headers=tenant.auth)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert len(items) == 3
    for item in items:
        # a valid RFC 3339 offset (hours and minutes), naming the very same instant
        assert re.match(_RFC3339, item["local"]), item
        assert parse_rfc3339(item["local"]) == parse_rfc3339(item["at"])


@pytest.mark.parametrize(
    ("cron", "weekday"),
    [("quartz:0 0 12 ? * 6#3", 4), ("0 0 12 ? * 5#3", 4), ("0 0 12 ? * 6#3", 5)],
)
async def test_day_of_week_numbers_preview_as_documented(
    api: httpx.AsyncClient, tenant: Tenant, cron: str, weekday: int
) -> None:
    s = await make_schedule(api, tenant, cron=cron)
    r = await api.get(f"/v1/schedules/{s['id']}/preview?count=4", headers=tenant.auth)
    days = {parse_rfc3339(i["at"]).weekday() for i in r.json()["items"]}
    assert days == {weekday}  # Python: Monday = 0, Friday = 4


async def test_next_fire_at_shows_while_a_dispatcher_holds_the_instant(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    # given an hourly schedule whose next instant a dispatcher claimed ahead of time
    s = await make_schedule(api, tenant, cron="0 * * * *")
    due = await store.time.due_at(schedule_item(s["id"]))
    assert due is not None and s["next_fire_at"] is not None
    claim = await store.time.claim("d1:x", 30_000, 1000, lookahead_ms=2 * 3_600_000)
    assert schedule_item(s["id"]) in [c.item for c in claim.items]
    # then the schedule, read alone or listed, still shows that instant
    one = (await api.get(f"/v1/schedules/{s['id']}", headers=tenant.auth)).json()
    listed = (await api.get("/v1/schedules", headers=tenant.auth)).json()["items"]
    assert one["next_fire_at"] == s["next_fire_at"]
    assert [i["next_fire_at"] for i in listed if i["id"] == s["id"]] == [s["next_fire_at"]]


async def test_a_schedule_shows_the_instants_it_skipped(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    s = await make_schedule(api, tenant)
    assert s["skipped"] == {"misfire": 0, "overlap": 0, "last_skipped_at": None}
    # when the dispatchers skip instants of it (misfire policy, overlap forbid)
    skips = [Skip(tenant.id, s["id"], "misfire", 7), Skip(tenant.id, s["id"], "overlap")]
    await store.skips.count(skips, to_ms(parse_rfc3339("2030-01-01T00:00:00Z")))
    # then reading it, listing it and changing it show them
    one = (await api.get(f"/v1/schedules/{s['id']}", headers=tenant.auth)).json()
    listed = (await api.get("/v1/schedules", headers=tenant.auth)).json()["items"]
    r = await api.patch(f"/v1/schedules/{s['id']}", json={"name": "y"}, headers=tenant.auth)
    want = {"misfire": 7, "overlap": 1, "last_skipped_at": "2030-01-01T00:00:00.000Z"}
    assert one["skipped"] == listed[0]["skipped"] == r.json()["skipped"] == want
