"""Onboarding: tenants, their limits, API keys (several, shown once, revocable), the
tenant's own view, secret rotation, and deleting a tenant with everything it owns."""

from __future__ import annotations

import httpx

from app.keys import schedule_item
from app.store import Store
from tests.api.conftest import ADMIN, make_schedule, onboard


async def test_a_tenant_is_created_read_listed_and_patched(api: httpx.AsyncClient) -> None:
    # given a tenant onboarded with some limits
    t = await onboard(api, "acme", limits={"max_schedules": 5, "rate_limit": {"burst": 9}})
    got = (await api.get(f"/v1/tenants/{t.id}", headers=ADMIN)).json()
    assert got["limits"]["max_schedules"] == 5
    assert got["limits"]["rate_limit"] == {"per_second": 50.0, "burst": 9}
    assert got["usage"] == {"schedules": 0, "paused_schedules": 0, "api_keys": 1, "dead_letters": 0}
    # when the operator patches one nested limit and the metadata
    r = await api.patch(
        f"/v1/tenants/{t.id}",
        json={"limits": {"rate_limit": {"per_second": 5}}, "metadata": {"plan": "pro"}},
        headers=ADMIN,
    )
    # then only those change
    assert r.status_code == 200, r.text
    limits = r.json()["limits"]
    assert limits["rate_limit"] == {"per_second": 5, "burst": 9}
    assert limits["max_schedules"] == 5
    assert r.json()["metadata"] == {"plan": "pro"}
    r = await api.patch(f"/v1/tenants/{t.id}", json={"metadata": {"plan": None}}, headers=ADMIN)
    assert r.json()["metadata"] == {}
    listed = (await api.get("/v1/tenants", headers=ADMIN)).json()["items"]
    assert t.id in [x["id"] for x in listed]


async def test_tenant_writes_refuse_unknown_and_read_only_fields(api: httpx.AsyncClient) -> None:
    t = await onboard(api)
    for body, field in (
        ({"name": "x", "id": "ten_mine"}, "id"),
        ({"name": "x", "limits": {"max_schedules": -1}}, "limits.max_schedules"),
        ({"name": "x", "limits": {"surprise": 1}}, "limits.surprise"),
    ):
        r = await api.post("/v1/tenants", json=body, headers=ADMIN)
        assert r.status_code == 422 and field in [e["field"] for e in r.json()["errors"]], r.text
    r = await api.patch(f"/v1/tenants/{t.id}", json={"created_at": "x"}, headers=ADMIN)
    assert r.status_code == 422
    assert r.json()["errors"] == [{"field": "created_at", "message": "is read-only"}]


async def test_api_keys_are_several_shown_once_and_revoked_at_once(
    api: httpx.AsyncClient,
) -> None:
    t = await onboard(api)
    # given a second key
    r = await api.post(f"/v1/tenants/{t.id}/api-keys", json={"name": "ci"}, headers=ADMIN)
    assert r.status_code == 201
    second = r.json()
    assert second["api_key"].startswith(second["prefix"]) and second["name"] == "ci"
    auth2 = {"Authorization": f"Bearer {second['api_key']}"}
    assert (await api.get("/v1/tenant", headers=auth2)).json()["api_key_id"] == second["id"]
    # the list shows prefixes, never keys
    listed = (await api.get(f"/v1/tenants/{t.id}/api-keys", headers=ADMIN)).json()["items"]
    assert {k["id"] for k in listed} >= {second["id"]} and len(listed) == 2
    assert all("api_key" not in k for k in listed)
    # when it is revoked, it stops working at once; the first key still works
    r = await api.delete(f"/v1/tenants/{t.id}/api-keys/{second['id']}", headers=ADMIN)
    assert r.status_code == 204
    assert (await api.get("/v1/tenant", headers=auth2)).status_code == 401
    assert (await api.get("/v1/tenant", headers=t.auth)).status_code == 200
    r = await api.delete(f"/v1/tenants/{t.id}/api-keys/{second['id']}", headers=ADMIN)
    assert r.status_code == 404


async def test_a_key_cannot_be_revoked_through_another_tenant(api: httpx.AsyncClient) -> None:
    a, b = await onboard(api, "a"), await onboard(api, "b")
    key_a = (await api.get("/v1/tenant", headers=a.auth)).json()["api_key_id"]
    r = await api.delete(f"/v1/tenants/{b.id}/api-keys/{key_a}", headers=ADMIN)
    assert r.status_code == 404
    assert (await api.get("/v1/tenant", headers=a.auth)).status_code == 200


async def test_the_tenant_sees_its_quotas_and_usage(api: httpx.AsyncClient) -> None:
    t = await onboard(api, limits={"max_schedules": 3})
    s = await make_schedule(api, t)
    await make_schedule(api, t)
    await api.post(f"/v1/schedules/{s['id']}/pause", headers=t.auth)
    me = (await api.get("/v1/tenant", headers=t.auth)).json()
    assert me["id"] == t.id and me["limits"]["max_schedules"] == 3
    assert me["usage"] == {"schedules": 2, "paused_schedules": 1, "api_keys": 1, "dead_letters": 0}
    assert [s["prefix"] for s in me["signing_secrets"]] == [t.secret[:10]]


async def test_rotation_keeps_the_old_secret_signing_for_the_overlap(
    api: httpx.AsyncClient, store: Store
) -> None:
    t = await onboard(api)
    # when the secret is rotated
    r = await api.post("/v1/signing-secret/rotate", headers=t.auth)
    assert r.status_code == 200
    new = r.json()["signing_secret"]
    assert new.startswith("whsec_") and new != t.secret
    # then both sign, the old one until about a day from now
    tenant = await store.records.get_tenant(t.id)
    assert tenant is not None
    now = await store.now_ms()
    assert tenant.active_secrets(now) == [new, t.secret]
    old = tenant.secrets[1]
    assert old.expires_at is not None and abs(old.expires_at - now - 86_400_000) < 60_000
    assert tenant.active_secrets(old.expires_at) == [new]
    # and a rotation with no overlap drops every previous secret at once
    r = await api.post("/v1/signing-secret/rotate", json={"overlap_seconds": 0}, headers=t.auth)
    newest = r.json()["signing_secret"]
    tenant = await store.records.get_tenant(t.id)
    assert tenant is not None and tenant.active_secrets(await store.now_ms()) == [newest]
    assert [s["expires_at"] for s in r.json()["signing_secrets"]] == [None]


async def test_deleting_a_tenant_stops_its_schedules_and_removes_its_data(
    api: httpx.AsyncClient, store: Store
) -> None:
    # given a tenant with schedules, a pending message and fires, and a bystander tenant
    t, other = await onboard(api, "doomed"), await onboard(api, "bystander")
    s1, s2 = await make_schedule(api, t), await make_schedule(api, t)
    fire = (await api.post(f"/v1/schedules/{s1['id']}/trigger", headers=t.auth)).json()
    msg = {"target": {"url": "http://127.0.0.1:9/x"}, "delay_seconds": 60}
    await api.post("/v1/messages", json=msg, headers=t.auth)
    kept = await make_schedule(api, other)
    # when the operator deletes it
    assert (await api.delete(f"/v1/tenants/{t.id}", headers=ADMIN)).status_code == 204
    # then its keys stop working, its schedules are out of the time index, no key of its
    # slot is left, and the bystander is untouched
    assert (await api.get("/v1/tenant", headers=t.auth)).status_code == 401
    assert (await api.get(f"/v1/tenants/{t.id}", headers=ADMIN)).status_code == 404
    for sid in (s1["id"], s2["id"]):
        assert await store.time.due_at(schedule_item(sid)) is None
    left = [k async for k in store.client.scan_iter(match=store.keys.tenant_pattern(t.id))]
    assert left == []
    assert await store.time.due_at(schedule_item(kept["id"])) is not None
    assert (await api.get(f"/v1/schedules/{kept['id']}", headers=other.auth)).status_code == 200
    # a fire item that was already waiting is harmless: its record is gone, it is dropped
    assert await store.fires.get(t.id, fire["id"]) is None
    assert (await api.delete(f"/v1/tenants/{t.id}", headers=ADMIN)).status_code == 404
