"""A schedule or message may fan out (docs/fanout.md): the setting round-trips and patches
like any field, the tenant's quota on shards is checked with a 422 naming the field, and
a parent's shard list exists only for a fan-out."""

from __future__ import annotations

import httpx

from tests.api.conftest import ADMIN, Tenant, onboard

URL = "https://jobs.example.com/shard"


async def test_a_fanout_round_trips_and_patches(api: httpx.AsyncClient) -> None:
    t: Tenant = await onboard(api, "fan")
    body = {"name": "n", "cron": "0 2 * * *", "target": {"url": URL},
            "fanout": {"shards": 64, "max_failed_shards": 2}}  # fmt: skip
    r = await api.post("/v1/schedules", json=body, headers=t.auth)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    got = (await api.get(f"/v1/schedules/{sid}", headers=t.auth)).json()
    assert got["fanout"] == {"shards": 64, "params": None, "max_failed_shards": 2}
    # params instead of shards (a merge patch: null removes shards)
    patch = {"fanout": {"shards": None, "params": [{"r": "eu"}, {"r": "us"}]}}
    r = await api.patch(f"/v1/schedules/{sid}", json=patch, headers=t.auth)
    assert r.status_code == 200, r.text
    assert r.json()["fanout"] == {"shards": 2, "params": [{"r": "eu"}, {"r": "us"}],
                                  "max_failed_shards": 2}  # fmt: skip
    r = await api.patch(f"/v1/schedules/{sid}", json={"fanout": None}, headers=t.auth)
    assert r.status_code == 200, r.text
    assert r.json()["fanout"] is None


async def test_more_shards_than_the_quota_is_refused_naming_the_field(
    api: httpx.AsyncClient,
) -> None:
    t: Tenant = await onboard(api, "fan")
    target = {"url": URL}
    r = await api.post(
        "/v1/messages", json={"target": target, "fanout": {"shards": 1001}}, headers=t.auth
    )
    assert r.status_code == 422, r.text
    [error] = r.json()["errors"]
    assert error["field"] == "fanout.shards" and "max_fanout_shards" in error["message"]
    params = {"params": [{"n": i} for i in range(1001)]}
    body = {"name": "n", "cron": "0 2 * * *", "target": target, "fanout": params}
    r = await api.post("/v1/schedules", json=body, headers=t.auth)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["fanout.params"]
    both = {"shards": 2, "params": [1, 2]}
    r = await api.post("/v1/messages", json={"target": target, "fanout": both}, headers=t.auth)
    assert [e["field"] for e in r.json()["errors"]] == ["fanout"]
    # when the operator raises the quota, the same fan-out is taken
    limits = {"limits": {"max_fanout_shards": 2000}}
    r = await api.patch(f"/v1/tenants/{t.id}", json=limits, headers=ADMIN)
    assert r.status_code == 200 and r.json()["limits"]["max_fanout_shards"] == 2000
    r = await api.post(
        "/v1/messages", json={"target": target, "fanout": {"shards": 1001}}, headers=t.auth
    )
    assert r.status_code == 202, r.text


async def test_a_new_parent_shows_its_fanout_and_lists_no_shard_yet(
    api: httpx.AsyncClient,
) -> None:
    t: Tenant = await onboard(api, "fan")
    r = await api.post(
        "/v1/messages", json={"target": {"url": URL}, "fanout": {"shards": 3}}, headers=t.auth
    )
    fid = r.json()["id"]
    assert r.json()["fanout"] == {"shards": 3, "max_failed_shards": 0, "made": 0,
                                  "succeeded": 0, "failed": 0, "open": 3}  # fmt: skip
    r = await api.get(f"/v1/fires/{fid}/shards", headers=t.auth)
    assert r.status_code == 200 and r.json() == {"items": [], "next_cursor": None}
    r = await api.get(f"/v1/fires/{fid}/shards?cursor=nope", headers=t.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "cursor"
    plain = await api.post("/v1/messages", json={"target": {"url": URL}}, headers=t.auth)
    r = await api.get(f"/v1/fires/{plain.json()['id']}/shards", headers=t.auth)
    assert r.status_code == 404
    r = await api.post(f"/v1/fires/{fid}/replay", headers=t.auth)
    assert r.status_code == 409  # a parent still running replays nothing
