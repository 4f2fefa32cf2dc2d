"""A schedule's target may be a long job: stored, shown and changed like any field, and
checked (heartbeat within the timeout)."""

from __future__ import annotations

import httpx

from tests.api.conftest import Tenant, onboard


async def test_a_job_target_round_trips_and_a_patch_removes_it(api: httpx.AsyncClient) -> None:
    t: Tenant = await onboard(api, "jobs")
    body = {
        "name": "report",
        "cron": "0 2 * * *",
        "target": {
            "url": "https://jobs.example.com/report",
            "job": {"timeout_seconds": 3600, "heartbeat_seconds": 60},
        },
    }
    r = await api.post("/v1/schedules", json=body, headers=t.auth)
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    got = (await api.get(f"/v1/schedules/{sid}", headers=t.auth)).json()
    assert got["target"]["job"] == {"timeout_seconds": 3600, "heartbeat_seconds": 60}
    r = await api.patch(f"/v1/schedules/{sid}", json={"target": {"job": None}}, headers=t.auth)
    assert r.status_code == 200, r.text
    assert r.json()["target"]["job"] is None


async def test_a_heartbeat_longer_than_the_timeout_is_refused(api: httpx.AsyncClient) -> None:
    t: Tenant = await onboard(api, "jobs")
    target = {
        "url": "https://jobs.example.com/",
        "job": {"timeout_seconds": 60, "heartbeat_seconds": 61},
    }
    r = await api.post(
        "/v1/schedules", json={"name": "x", "cron": "0 2 * * *", "target": target}, headers=t.auth
    )
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["target.job.heartbeat_seconds"]
    r = await api.post("/v1/messages", json={"target": {**target, "job": {}}}, headers=t.auth)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["target.job"]  # needs timeout_seconds
