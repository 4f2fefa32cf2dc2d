"""The end-to-end flow shared by the process tests: a tenant, a schedule every second to a
loopback receiver, and the checks a receiver and an API user would make."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import httpx
from standardwebhooks.webhooks import Webhook

from app.ids import cron_fire_id
from tests.receiver import RecordedRequest

RFC3339_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def onboard(api: httpx.AsyncClient, admin_token: str) -> dict[str, Any]:
    r = await api.post(
        "/v1/tenants", json={"name": "e2e"}, headers={"Authorization": f"Bearer {admin_token}"}
    )
    assert r.status_code == 201, r.text
    tenant: dict[str, Any] = r.json()
    return tenant


async def every_second(api: httpx.AsyncClient, key: str, url: str) -> dict[str, Any]:
    r = await api.post(
        "/v1/schedules",
        headers={"Authorization": f"Bearer {key}"},
        json={
            "name": "every-second",
            "cron": "* * * * * *",
            "timezone": "UTC",
            "misfire": {"policy": "fire_all", "grace_seconds": 60},
            "target": {
                "url": url,
                "method": "POST",
                "headers": {"X-Custom": "yes"},
                "body": {"hello": "world"},
            },
        },
    )
    assert r.status_code == 201, r.text
    schedule: dict[str, Any] = r.json()
    return schedule


def check_delivery(hit: RecordedRequest, secret: str, schedule_id: str) -> datetime:
    """Everything the endpoint is promised (docs/architecture.md); returns the scheduled instant."""
    h = hit.headers
    Webhook(secret).verify(hit.body, dict(h))  # the official library accepts it
    assert hit.method == "POST"
    assert hit.body == b'{"hello":"world"}'
    assert h["content-type"] == "application/json"
    assert h["x-custom"] == "yes"
    assert h["idempotency-key"] == h["webhook-id"]
    assert h["cronhook-schedule-id"] == schedule_id
    assert h["cronhook-attempt"] == "1"
    assert "cronhook" in h["user-agent"]
    assert RFC3339_MS.match(h["cronhook-scheduled-at"]), h["cronhook-scheduled-at"]
    at = datetime.fromisoformat(h["cronhook-scheduled-at"].replace("Z", "+00:00"))
    assert at.microsecond == 0  # a whole second, as the cron says
    assert h["webhook-id"] == cron_fire_id(schedule_id, int(at.timestamp() * 1000))
    assert abs(int(h["webhook-timestamp"]) - hit.arrived_at) < 5
    return at


async def check_fires_via_api(
    api: httpx.AsyncClient, key: str, schedule_id: str, delivered_ids: set[str]
) -> None:
    auth = {"Authorization": f"Bearer {key}"}
    r = await api.get(f"/v1/schedules/{schedule_id}/fires", headers=auth)
    assert r.status_code == 200, r.text
    listed = {f["id"]: f for f in r.json()["items"]}
    assert delivered_ids <= set(listed)
    some = sorted(delivered_ids)[0]
    r = await api.get(f"/v1/fires/{some}", headers=auth)
    assert r.status_code == 200, r.text
    fire = r.json()
    assert fire["status"] == "succeeded"
    assert fire["schedule_id"] == schedule_id
    [attempt] = fire["attempts"]
    assert attempt["number"] == 1 and attempt["status_code"] == 200
    assert attempt["error"] is None and attempt["duration_ms"] >= 0
    assert attempt["response_excerpt"] == "ok"
