"""The forecast routes: a tenant sees its own load, the operator everyone's, exactly."""

from __future__ import annotations

import httpx

from app.models import from_ms, rfc3339
from app.store import Store
from tests.api.conftest import ADMIN, make_schedule, onboard


async def test_forecasts_count_each_minute_exactly_per_tenant_and_in_total(
    api: httpx.AsyncClient, store: Store
) -> None:
    a, b = await onboard(api, "a"), await onboard(api, "b")
    await make_schedule(api, a, cron="*/15 * * * * *")  # 4 a minute
    await make_schedule(api, a, cron="30 7 * * * *")  # once an hour, at minute 7
    await make_schedule(api, a, cron="* * * * * *", paused=True)  # not counted
    await make_schedule(api, b, cron="0 */2 * * * *")  # every other minute
    now = await store.now_ms()
    start = now - now % 3_600_000 + 3_600_000  # the next whole hour
    q = f"?hours=2&start={rfc3339(from_ms(start + 42_000))}"  # seconds are truncated
    mine = (await api.get(f"/v1/forecast{q}", headers=a.auth)).json()
    assert mine["start"] == rfc3339(from_ms(start)) and len(mine["minutes"]) == 120
    assert mine["schedules"] == 2
    assert [m["fires"] for m in mine["minutes"]] == [5 if i % 60 == 7 else 4 for i in range(120)]
    assert mine["total"] == 482 and mine["peak"] == 5
    theirs = (await api.get(f"/v1/forecast{q}", headers=b.auth)).json()
    assert [m["fires"] for m in theirs["minutes"]] == [1 - i % 2 for i in range(120)]
    everyone = (await api.get(f"/v1/admin/forecast{q}", headers=ADMIN)).json()
    assert everyone["total"] == mine["total"] + theirs["total"]
    assert everyone["schedules"] == 3


async def test_a_forecast_start_far_away_is_refused(api: httpx.AsyncClient) -> None:
    t = await onboard(api)
    for start in ("2001-01-01T00:00:00Z", "2999-01-01T00:00:00Z", "tomorrow"):
        r = await api.get(f"/v1/forecast?start={start}", headers=t.auth)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "start", start
    r = await api.get("/v1/forecast?hours=25", headers=t.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "hours"
