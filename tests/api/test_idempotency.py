"""Idempotency-Key on POST: one effect per key, the first response replayed, a different
request with the same key refused, concurrent twins serialised."""

from __future__ import annotations

import asyncio

import httpx

from app.store import Store
from tests.api.conftest import ADMIN, Tenant, onboard, schedule_body


def _key(k: str) -> dict[str, str]:
    return {"Idempotency-Key": k}


async def test_the_same_key_and_body_replays_the_first_response(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    body = schedule_body(name="once")
    first = await api.post("/v1/schedules", json=body, headers=tenant.auth | _key("k-1"))
    assert first.status_code == 201 and "idempotent-replayed" not in first.headers
    # the same JSON with other key order and spacing is the same request
    again = await api.post(
        "/v1/schedules",
        content=_reordered(body),
        headers=tenant.auth | _key("k-1") | {"Content-Type": "application/json"},
    )
    assert again.status_code == 201
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert again.headers["location"] == first.headers["location"]
    assert await store.records.count_schedules(tenant.id) == 1


def _reordered(body: dict[str, object]) -> str:
    import json

    return json.dumps(dict(reversed(list(body.items()))), indent=2)


async def test_the_same_key_with_another_request_is_refused(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    await api.post("/v1/schedules", json=schedule_body(name="a"), headers=tenant.auth | _key("k"))
    r = await api.post(
        "/v1/schedules", json=schedule_body(name="b"), headers=tenant.auth | _key("k")
    )
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    # another path is another request too
    r = await api.post(
        "/v1/messages",
        json={"target": {"url": "http://127.0.0.1:9/x"}},
        headers=tenant.auth | _key("k"),
    )
    assert r.status_code == 422
    assert await store.records.count_schedules(tenant.id) == 1


async def test_keys_are_scoped_to_the_tenant(api: httpx.AsyncClient) -> None:
    a, b = await onboard(api, "a"), await onboard(api, "b")
    ra = await api.post("/v1/schedules", json=schedule_body(), headers=a.auth | _key("shared"))
    rb = await api.post("/v1/schedules", json=schedule_body(), headers=b.auth | _key("shared"))
    assert ra.status_code == rb.status_code == 201
    assert ra.json()["id"] != rb.json()["id"]
    assert "idempotent-replayed" not in rb.headers


async def test_a_failed_request_does_not_pin_its_key(
    api: httpx.AsyncClient, tenant: Tenant
) -> None:
    bad = schedule_body(cron="nonsense")
    r = await api.post("/v1/schedules", json=bad, headers=tenant.auth | _key("retry-me"))
    assert r.status_code == 422
    r = await api.post(
        "/v1/schedules", json=schedule_body(), headers=tenant.auth | _key("retry-me")
    )
    assert r.status_code == 201 and "idempotent-replayed" not in r.headers


async def test_concurrent_twins_make_one_effect(
    api: httpx.AsyncClient, tenant: Tenant, store: Store
) -> None:
    # given ten identical requests racing with one key (the connection pool warmed up, so
    # they really run side by side)
    await asyncio.gather(*(store.client.ping() for _ in range(20)))
    rs = await asyncio.gather(
        *(
            api.post("/v1/schedules", json=schedule_body(), headers=tenant.auth | _key("race"))
            for _ in range(10)
        )
    )
    # then one schedule exists; every 201 carries it; the others were told to retry (409)
    assert await store.records.count_schedules(tenant.id) == 1
    created = {r.json()["id"] for r in rs if r.status_code == 201}
    assert len(created) == 1
    assert {r.status_code for r in rs} == {201, 409}  # the race really happened
    for r in rs:
        if r.status_code == 409:
            assert r.headers["retry-after"] == "1"


async def test_every_post_honours_the_key(api: httpx.AsyncClient, tenant: Tenant) -> None:
    sid = (await api.post("/v1/schedules", json=schedule_body(), headers=tenant.auth)).json()["id"]
    one = await api.post(f"/v1/schedules/{sid}/trigger", headers=tenant.auth | _key("t"))
    two = await api.post(f"/v1/schedules/{sid}/trigger", headers=tenant.auth | _key("t"))
    assert one.json()["id"] == two.json()["id"]
    msg = {"target": {"url": "http://127.0.0.1:9/x"}}
    one = await api.post("/v1/messages", json=msg, headers=tenant.auth | _key("m"))
    two = await api.post("/v1/messages", json=msg, headers=tenant.auth | _key("m"))
    assert one.json()["id"] == two.json()["id"]
    one = await api.post("/v1/signing-secret/rotate", headers=tenant.auth | _key("r"))
    two = await api.post("/v1/signing-secret/rotate", headers=tenant.auth | _key("r"))
    assert one.json()["signing_secret"] == two.json()["signing_secret"]
    one = await api.post("/v1/tenants", json={"name": "x"}, headers=ADMIN | _key("o"))
    two = await api.post("/v1/tenants", json={"name": "x"}, headers=ADMIN | _key("o"))
    assert one.json()["id"] == two.json()["id"]


async def test_a_malformed_key_is_a_422(api: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await api.post("/v1/schedules", json=schedule_body(), headers=tenant.auth | _key("x" * 256))
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "Idempotency-Key"
