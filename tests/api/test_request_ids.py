"""Every answer names its request: the caller's `X-Request-Id` when it is a sane token,
else one the API makes up; errors carry it too, and the SDK reports it."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import Tenant


async def test_every_answer_carries_a_request_id(api: httpx.AsyncClient, tenant: Tenant) -> None:
    ok = await api.get("/v1/schedules", headers=tenant.auth)
    missing = await api.get("/v1/schedules/sch_nope", headers=tenant.auth)
    anonymous = await api.get("/v1/schedules")
    ids = [r.headers.get("x-request-id") for r in (ok, missing, anonymous)]
    assert (ok.status_code, missing.status_code, anonymous.status_code) == (200, 404, 401)
    assert all(i and i.startswith("req_") for i in ids) and len(set(ids)) == 3, ids


async def test_the_callers_request_id_is_echoed(api: httpx.AsyncClient, tenant: Tenant) -> None:
    r = await api.get("/v1/schedules/sch_nope", headers=tenant.auth | {"X-Request-Id": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"


@pytest.mark.parametrize("bad", ["", "x" * 201, "a b", "é", "a\tb"])
async def test_a_request_id_that_is_not_a_sane_token_is_replaced(
    api: httpx.AsyncClient, tenant: Tenant, bad: str
) -> None:
    headers = {**tenant.auth, "X-Request-Id": bad.encode()}
    r = await api.get("/v1/schedules", headers=headers)
    assert r.status_code == 200 and r.headers["x-request-id"].startswith("req_")
