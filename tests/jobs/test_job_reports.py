"""Who may report for a job, and what a bad report gets: a token works for its own fire,
attempt and tenant only; bad bodies get a problem naming the field; nothing half-written."""

from __future__ import annotations

import asyncio

import pytest

from app.models import JobSettings, RetrySettings, Target
from tests.jobs.rig import Delivery, JobRig
from tests.receiver import Reply

pytestmark = pytest.mark.external_service


async def _running(rig: JobRig, tenant_limits: dict[str, object] | None = None) -> Delivery:
    tenant = await rig.tenant(**(tenant_limits or {}))
    fire = await rig.job_fire(tenant)
    d = await rig.delivery(len(rig.receiver.requests_to("/job")) + 1)
    await rig.status(tenant, fire.id, "running")
    return d


async def test_a_token_does_not_work_for_another_fire(rig: JobRig) -> None:
    one = await _running(rig)
    two = await _running(rig)
    stolen = Delivery(two.fire_id, two.attempt, two.url, one.token, two.request)
    r = await rig.report(stolen, "complete", {"status": "failed"})
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    r = await rig.report(stolen, "progress", {})
    assert r.status_code == 404
    # neither job changed
    for d in (one, two):
        job = await rig.w.store.jobs.get(d.token.split(".")[1], d.fire_id)
        assert job is not None and job.state == "running" and job.beats == 0


async def test_a_token_does_not_work_for_another_tenant(rig: JobRig) -> None:
    d = await _running(rig)
    other = await rig.tenant()
    forged = d.token.replace(d.token.split(".")[1], other.id)
    r = await rig.report(d, "progress", {}, token=forged)
    assert r.status_code == 404


async def test_a_missing_fire_answers_as_a_wrong_token_does(rig: JobRig) -> None:
    d = await _running(rig)
    nobody = "fire_0000000000000000000000000"
    gone = Delivery(nobody, 1, d.url.replace(d.fire_id, nobody), d.token, d.request)
    missing = await rig.report(gone, "progress", {})
    wrong_secret = await rig.report(d, "progress", {}, token=d.token[:-4] + "AAAA")
    assert missing.status_code == wrong_secret.status_code == 404
    assert missing.json()["detail"] == wrong_secret.json()["detail"]


@pytest.mark.parametrize("token", ["", "chk_notajobtoken", "cjt.ten_x.1.short", "cjt..."])
async def test_a_malformed_token_is_unauthorized(rig: JobRig, token: str) -> None:
    d = await _running(rig)
    path = d.url.split("api.test", 1)[-1].split("8080", 1)[-1] + "/progress"
    r = await rig.api.post(path, headers={"Authorization": f"Bearer {token}"}, json={})
    assert r.status_code == 401
    assert "WWW-Authenticate" in r.headers


async def test_progress_over_the_cap_is_413_and_changes_nothing(rig: JobRig) -> None:
    d = await _running(rig)
    r = await rig.report(d, "progress", {"message": "x" * 900, "data": {"blob": "y" * 17_000}})
    assert r.status_code == 413
    job = await rig.w.store.jobs.get(d.token.split(".")[1], d.fire_id)
    assert job is not None and job.progress is None and job.beats == 0


async def test_an_unknown_status_is_422_naming_the_field(rig: JobRig) -> None:
    d = await _running(rig)
    r = await rig.report(d, "complete", {"status": "done"})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["status"]
    r = await rig.report(d, "progress", {"percent": 101})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["percent"]
    job = await rig.w.store.jobs.get(d.token.split(".")[1], d.fire_id)
    assert job is not None and job.state == "running"


async def test_a_job_reporting_after_its_tenant_was_deleted_gets_404(rig: JobRig) -> None:
    d = await _running(rig)
    assert await rig.w.store.records.delete_tenant(d.token.split(".")[1])
    r = await rig.report(d, "complete", {"status": "succeeded"})
    assert r.status_code == 404


async def test_overlap_forbid_counts_a_running_job_as_running(rig: JobRig) -> None:
    # given a schedule firing every second whose first fire runs as a job
    tenant = await rig.tenant()
    url = rig.receiver.url("/nightly")
    rig.receiver.script("/nightly", *[Reply(202)] * 20)
    s = await rig.w.schedule(
        tenant,
        url,
        cron="* * * * * *",
        overlap="forbid",
        retry=RetrySettings(max_attempts=1, min_backoff_seconds=0.2, max_backoff_seconds=0.3),
        target=Target(url=url, timeout_seconds=5, job=JobSettings(30)),
    )
    first = await rig.delivery(1, path="/nightly")
    # when it runs for over two more instants
    await asyncio.sleep(2.5)
    # then no other fire of the schedule was delivered, and its instants were skipped
    assert len(rig.receiver.requests_to("/nightly")) == 1
    page = await rig.w.store.fires.list_for_schedule(tenant.id, s.id, 50, None)
    fires = await rig.w.store.fires.get_many(tenant.id, page.items)
    statuses = {f.id: f.status for f in fires}
    assert statuses[first.fire_id] == "running"
    assert "skipped" in statuses.values()
    # and once it completes, the next instant is delivered again
    r = await rig.report(first, "complete", {"status": "succeeded"})
    assert r.status_code == 200
    second = await rig.delivery(2, path="/nightly", within=5)
    assert second.fire_id != first.fire_id
