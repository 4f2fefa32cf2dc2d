"""The foundation's API promises, on both store backends: problem+json naming the field,
hashed keys, and tenant isolation (another tenant's ids answer 404)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.api import create_app
from app.ids import api_key_hash
from app.settings import Settings
from app.store import Store

ADMIN = "admin-token-for-tests"


@pytest.fixture
async def api(store: Store) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store, Settings(admin_token=ADMIN, allow_private_targets=True))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
        yield client


async def _tenant(api: httpx.AsyncClient, name: str = "t") -> dict[str, Any]:
    r = await api.post(
        "/v1/tenants", json={"name": name}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def _auth(tenant: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tenant['api_key']}"}


SCHEDULE = {
    "name": "s",
    "cron": "*/5 * * * * *",
    "target": {"url": "http://127.0.0.1:9/hook", "body": {"a": 1}},
}


async def test_api_keys_are_stored_only_as_hashes(api: httpx.AsyncClient, store: Store) -> None:
    tenant = await _tenant(api)
    assert tenant["signing_secret"].startswith("whsec_")
    assert await store.records.resolve_api_key(api_key_hash(tenant["api_key"])) is not None
    async for key in store.client.scan_iter(match=f"{store.keys.prefix}:*"):
        value = await store.client.dump(key)
        assert tenant["api_key"].encode() not in (value or b""), key


async def test_another_tenants_ids_answer_404(api: httpx.AsyncClient) -> None:
    # given a schedule of tenant A
    a, b = await _tenant(api, "a"), await _tenant(api, "b")
    r = await api.post("/v1/schedules", json=SCHEDULE, headers=_auth(a))
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    # then tenant B sees none of it, and cannot delete it
    for path in (f"/v1/schedules/{sid}", f"/v1/schedules/{sid}/fires"):
        r = await api.get(path, headers=_auth(b))
        assert r.status_code == 404, (path, r.text)
        assert r.headers["content-type"] == "application/problem+json"
    assert (await api.delete(f"/v1/schedules/{sid}", headers=_auth(b))).status_code == 404
    assert (await api.get("/v1/schedules", headers=_auth(b))).json()["items"] == []
    assert (await api.get(f"/v1/schedules/{sid}", headers=_auth(a))).status_code == 200


async def test_a_tenant_key_cannot_onboard_tenants_and_no_key_is_401(
    api: httpx.AsyncClient,
) -> None:
    a = await _tenant(api)
    r = await api.post("/v1/tenants", json={"name": "x"}, headers=_auth(a))
    assert r.status_code == 403
    r = await api.post("/v1/tenants", json={"name": "x"})
    assert r.status_code == 401 and "WWW-Authenticate" in r.headers
    r = await api.get("/v1/schedules", headers={"Authorization": "Bearer chk_nope"})
    assert r.status_code == 401
    r = await api.get("/v1/schedules", headers={"Authorization": f"Bearer {ADMIN}"})
    assert r.status_code == 403


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "* * *"}, "cron"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"name": ""}, "name"),
        ({"surprise": 1}, "surprise"),
        ({"id": "sch_mine"}, "id"),
        ({"target": {"url": "ftp://example.com/x"}}, "target.url"),
        ({"target": {"url": "http://user:pw@example.com/x"}}, "target.url"),
        (
            {"target": {"url": "https://example.com", "headers": {"Host": "evil"}}},
            "target.headers.Host",
        ),
        (
            {"target": {"url": "https://example.com", "headers": {"webhook-id": "x"}}},
            "target.headers.webhook-id",
        ),
        (
            {"target": {"url": "https://example.com", "headers": {"X-A": "a\r\nB: c"}}},
            "target.headers.X-A",
        ),
        (
            {"target": {"url": "https://example.com", "headers": {"X-A": "a\x01"}}},
            "target.headers.X-A",
        ),
        ({"target": {"url": "https://example.com", "method": "TRACE"}}, "target.method"),
        (
            {"target": {"url": "https://example.com", "timeout_seconds": 0}},
            "target.timeout_seconds",
        ),
        ({"retry": {"max_attempts": 0}}, "retry.max_attempts"),
        ({"start_at": "2026-01-01T00:00:00Z", "end_at": "2025-01-01T00:00:00Z"}, "end_at"),
        ({"start_at": "yesterday"}, "start_at"),
    ],
)
async def test_bad_input_is_a_422_naming_the_field_and_writes_nothing(
    api: httpx.AsyncClient, change: dict[str, Any], field: str
) -> None:
    a = await _tenant(api)
    r = await api.post("/v1/schedules", json=SCHEDULE | change, headers=_auth(a))
    assert r.status_code == 422, r.text
    problem = r.json()
    assert r.headers["content-type"] == "application/problem+json"
    assert problem["status"] == 422 and problem["type"].endswith("/validation")
    assert field in [e["field"] for e in problem["errors"]], problem
    assert (await api.get("/v1/schedules", headers=_auth(a))).json()["items"] == []


async def test_missing_fields_are_named_one_by_one(api: httpx.AsyncClient) -> None:
    a = await _tenant(api)
    r = await api.post("/v1/schedules", json={"target": {}}, headers=_auth(a))
    assert r.status_code == 422
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"name", "cron", "target.url"} <= fields


@pytest.mark.parametrize(
    ("body", "ctype", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[]", "application/json", 422),
        (b"name=x", "application/x-www-form-urlencoded", 415),
        (b'{"name": "' + b"x" * 2_000_000 + b'"}', "application/json", 413),
    ],
)
async def test_malformed_requests_are_4xx_problems(
    api: httpx.AsyncClient, body: bytes, ctype: str, status: int
) -> None:
    a = await _tenant(api)
    r = await api.post("/v1/schedules", content=body, headers=_auth(a) | {"Content-Type": ctype})
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_unknown_routes_and_methods_are_problems_too(api: httpx.AsyncClient) -> None:
    r = await api.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["status"] == 404
    r = await api.put("/v1/tenants")
    assert r.status_code == 405 and r.json()["status"] == 405


async def test_a_created_schedule_reads_back_with_its_next_fire(api: httpx.AsyncClient) -> None:
    a = await _tenant(api)
    r = await api.post("/v1/schedules", json=SCHEDULE, headers=_auth(a))
    created = r.json()
    assert r.headers["location"] == f"/v1/schedules/{created['id']}"
    assert created["next_fire_at"].endswith("Z")
    got = (await api.get(f"/v1/schedules/{created['id']}", headers=_auth(a))).json()
    assert got == created
