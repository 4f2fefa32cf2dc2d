"""The API rate limit per key: a burst passes, the next request is a 429 with Retry-After,
other keys are not charged, and the limit recovers at its rate."""

from __future__ import annotations

import asyncio

import httpx

from tests.api.conftest import ADMIN, onboard


async def test_a_key_over_its_limit_gets_429_with_retry_after(api: httpx.AsyncClient) -> None:
    # given a tenant allowed one request every 2 seconds with bursts of 3
    t = await onboard(api, limits={"api_rate_limit": {"per_second": 0.5, "burst": 3}})
    r = await api.post(f"/v1/tenants/{t.id}/api-keys", json={}, headers=ADMIN)
    second = {"Authorization": f"Bearer {r.json()['api_key']}"}
    # when one key makes 4 requests at once
    codes = [(await api.get("/v1/schedules", headers=t.auth)).status_code for _ in range(3)]
    over = await api.get("/v1/schedules", headers=t.auth)
    # then the burst passes and the 4th is refused, saying when to come back
    assert codes == [200, 200, 200]
    assert over.status_code == 429 and over.headers["retry-after"] in ("1", "2")
    assert over.json()["type"].endswith("/rate-limited")
    # another key of the same tenant is not charged for it
    assert (await api.get("/v1/schedules", headers=second)).status_code == 200
    # a refused request costs nothing, and two seconds later one more fits
    await asyncio.sleep(2.1)
    assert (await api.get("/v1/schedules", headers=t.auth)).status_code == 200
    assert (await api.get("/v1/schedules", headers=t.auth)).status_code == 429


async def test_the_operator_is_not_rate_limited(api: httpx.AsyncClient) -> None:
    await onboard(api, limits={"api_rate_limit": {"per_second": 1, "burst": 1}})
    codes = {(await api.get("/v1/tenants", headers=ADMIN)).status_code for _ in range(20)}
    assert codes == {200}
