"""Tenant isolation, walked over every operation of openapi.yaml: tenant B's key on tenant
A's ids answers 404 and changes nothing; a tenant key on an admin route answers 403; the
admin token on a tenant route answers 403; lists and views show B only B's data."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from app.store import Store
from tests.api.conftest import ADMIN, Tenant, make_schedule, onboard
from tests.spec import operations

ADMIN_PATHS = ("/v1/tenants", "/v1/admin")
STREAMING = {"streamEvents"}  # an endless response: covered by the SSE test


def _example_body(op: dict[str, Any]) -> Any:
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return None
    if "example" in content:
        return content["example"]
    return {}


def _fill(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{([a-z_]+)\}", lambda m: ids[m.group(1)], path)


async def _world(api: httpx.AsyncClient, store: Store) -> tuple[Tenant, Tenant, dict[str, str]]:
    a, b = await onboard(api, "a"), await onboard(api, "b")
    s = await make_schedule(api, a, name="a-only")
    fire = (await api.post(f"/v1/schedules/{s['id']}/trigger", headers=a.auth)).json()
    key_id = (await api.get("/v1/tenant", headers=a.auth)).json()["api_key_id"]
    ids = {"schedule_id": s["id"], "fire_id": fire["id"], "tenant_id": a.id, "key_id": key_id}
    return a, b, ids


def _walk() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (m, p, op)
        for m, p, op in operations()
        if op.get("security") != [] and op["operationId"] not in STREAMING
    ]


@pytest.mark.parametrize(("method", "path", "op"), _walk(), ids=lambda x: str(x)[:50])
async def test_every_route_keeps_tenants_apart(
    api: httpx.AsyncClient, store: Store, method: str, path: str, op: dict[str, Any]
) -> None:
    a, b, ids = await _world(api, store)
    url = _fill(path, ids)
    body = _example_body(op)
    kwargs: dict[str, Any] = {} if body is None else {"json": body}
    before = await _snapshot(api, a, ids)
    if op.get("security") == [{"jobToken": []}]:
        # a long job's report takes its attempt's job token only: no API key, not even the
        # owner's, and not the admin token
        for auth in (ADMIN, b.auth, a.auth):
            r = await api.request(method, url, headers=auth, **kwargs)
            assert r.status_code == 401, r.text
    elif path.startswith(ADMIN_PATHS):
        # a tenant key is refused on operator routes, whoever's id is in the path
        r = await api.request(method, url, headers=b.auth, **kwargs)
        assert r.status_code == 403, r.text
        r = await api.request(method, url, headers=a.auth, **kwargs)
        assert r.status_code == 403, r.text
    else:
        r = await api.request(method, url, headers=ADMIN, **kwargs)
        assert r.status_code == 403, r.text
        r = await api.request(method, url, headers=b.auth, **kwargs)
        if "{" in path:
            assert r.status_code == 404, (url, r.text)
        else:
            assert r.status_code < 300, r.text
            assert not _leaks(r.json(), ids), r.text
    assert await _snapshot(api, a, ids) == before


def _leaks(doc: Any, ids: dict[str, str]) -> bool:
    text = repr(doc)
    return any(v in text for k, v in ids.items() if k != "key_id")


async def _snapshot(api: httpx.AsyncClient, a: Tenant, ids: dict[str, str]) -> Any:
    sched = (await api.get(f"/v1/schedules/{ids['schedule_id']}", headers=a.auth)).json()
    fire = (await api.get(f"/v1/fires/{ids['fire_id']}", headers=a.auth)).json()
    me = (await api.get("/v1/tenant", headers=a.auth)).json()
    fires = (await api.get(f"/v1/schedules/{ids['schedule_id']}/fires", headers=a.auth)).json()
    return sched, fire, me["signing_secrets"], me["usage"], fires


async def test_every_tenant_route_answers_401_without_a_valid_key(
    api: httpx.AsyncClient,
) -> None:
    for method, path, op in _walk():
        url = _fill(path, dict.fromkeys(("schedule_id", "fire_id", "tenant_id", "key_id"), "x_1"))
        body = _example_body(op)
        kwargs: dict[str, Any] = {} if body is None else {"json": body}
        for headers in ({}, {"Authorization": "Bearer chk_unknown"}, {"Authorization": "Basic x"}):
            r = await api.request(method, url, headers=headers, **kwargs)
            assert r.status_code == 401, (method, url, r.text)
            assert "www-authenticate" in r.headers
