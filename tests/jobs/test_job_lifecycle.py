"""Long jobs end to end on the real Redis and RabbitMQ: the endpoint answers 202, the job
reports from a separate task through the API, and the fire follows."""

from __future__ import annotations

import asyncio

import pytest

from app.models import RetrySettings
from cronhook import ConflictError, Webhook
from cronhook import Fire as SdkFire
from cronhook._codec import decode
from cronhook.jobs import AsyncJobReporter, JobTicket
from tests.jobs.rig import JobRig
from tests.receiver import Reply

pytestmark = pytest.mark.external_service

ONE_TRY = RetrySettings(max_attempts=1, min_backoff_seconds=0.2, max_backoff_seconds=0.3)


async def test_a_202_runs_and_the_reported_success_ends_the_fire(rig: JobRig) -> None:
    # given a job target whose endpoint answers 202
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant)
    d = await rig.delivery(1)
    assert d.fire_id == fire.id and d.attempt == 1
    assert d.url.endswith(f"/v1/fires/{fire.id}/job")
    await rig.status(tenant, fire.id, "running")

    # when the job reports progress, then its success, from its own task
    async def job() -> None:
        r = await rig.report(d, "progress", {"percent": 40, "message": "rows", "data": {"n": 4}})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "running"
        view = await rig.view(tenant, fire.id)
        assert view["status"] == "running"
        assert view["job"]["progress"]["percent"] == 40
        assert view["job"]["progress"]["data"] == {"n": 4}
        r = await rig.report(d, "complete", {"status": "succeeded", "result": {"rows": 10}})
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "succeeded"

    await asyncio.create_task(job())

    # then the fire succeeded with one attempt that shows the 202 and the result
    await rig.status(tenant, fire.id, "succeeded")
    view = await rig.view(tenant, fire.id)
    assert [(a["number"], a["status_code"], a["outcome"]) for a in view["attempts"]] == [
        (1, 202, "success")
    ]
    assert view["job"]["state"] == "succeeded"
    assert view["job"]["result"] == {"rows": 10}
    assert view["job"]["heartbeats"] == 1
    assert len(rig.receiver.requests_to("/job")) == 1


async def test_a_reported_failure_retries_with_the_same_webhook_id(rig: JobRig) -> None:
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant)
    first = await rig.delivery(1)
    await rig.status(tenant, fire.id, "running")
    r = await rig.report(first, "complete", {"status": "failed", "result": {"why": "disk"}})
    assert r.status_code == 200, r.text

    second = await rig.delivery(2)
    assert (second.fire_id, second.attempt) == (fire.id, 2)
    assert second.request.headers["webhook-id"] == first.request.headers["webhook-id"]
    assert second.token != first.token
    await rig.status(tenant, fire.id, "running")
    r = await rig.report(second, "complete", {"status": "succeeded"})
    assert r.status_code == 200, r.text

    await rig.status(tenant, fire.id, "succeeded")
    view = await rig.view(tenant, fire.id)
    assert [(a["number"], a["outcome"], a["error"]) for a in view["attempts"]] == [
        (1, "retry", "job_failed"),
        (2, "success", None),
    ]


async def test_a_failure_without_retry_fails_for_good(rig: JobRig) -> None:
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant)
    d = await rig.delivery(1)
    await rig.status(tenant, fire.id, "running")
    r = await rig.report(d, "complete", {"status": "failed", "retry": False})
    assert r.status_code == 200, r.text
    await rig.status(tenant, fire.id, "failed")
    dead = await rig.w.store.fires.list_dead(tenant.id, 10, None)
    assert dead.items == [fire.id]
    await asyncio.sleep(0.5)
    assert len(rig.receiver.requests_to("/job")) == 1


async def test_silence_times_out_and_retries_with_the_next_attempt(rig: JobRig) -> None:
    # given a job that answers 202 and then never reports
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant, job_timeout=1.0)
    first = await rig.delivery(1)
    await rig.status(tenant, fire.id, "running")

    # then after its timeout it is delivered again: same webhook-id, attempt 2
    second = await rig.delivery(2, within=10)
    assert second.fire_id == fire.id and second.attempt == 2
    timed_out = await rig.w.fire(tenant.id, fire.id)
    assert [(a.number, a.error, a.outcome) for a in timed_out.attempts] == [
        (1, "job_timeout", "retry")
    ]
    assert timed_out.attempts[0].duration_ms >= 1000

    # and a late completion of attempt 1 is refused (409) and recorded, attempt 2 unharmed
    r = await rig.report(first, "complete", {"status": "succeeded"})
    assert r.status_code == 409, r.text
    r = await rig.report(second, "complete", {"status": "succeeded"})
    assert r.status_code == 200, r.text
    await rig.status(tenant, fire.id, "succeeded")
    view = await rig.view(tenant, fire.id)
    assert view["job"]["attempt"] == 2
    late = view["job"]["late_completions"]
    assert [(x["attempt"], x["status"]) for x in late] == [(1, "succeeded")]


async def test_a_completion_after_the_deadline_is_late_and_the_attempt_times_out(
    rig: JobRig,
) -> None:
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant, job_timeout=30, heartbeat=1.0, retry=ONE_TRY)
    d = await rig.delivery(1)
    await rig.status(tenant, fire.id, "running")
    # stop the watch from acting first: the report itself finds the deadline passed
    await rig.w.store.time.retime(f"j:{fire.id}:1", -1)
    await asyncio.sleep(1.2)
    r = await rig.report(d, "complete", {"status": "succeeded"})
    assert r.status_code == 409, r.text
    assert "timed out" in r.json()["detail"]
    failed = await rig.status(tenant, fire.id, "failed")
    assert [(a.number, a.error) for a in failed.attempts] == [(1, "job_timeout")]


async def test_heartbeats_keep_a_job_alive_past_its_heartbeat_interval(rig: JobRig) -> None:
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant, job_timeout=20, heartbeat=1.0)
    d = await rig.delivery(1)
    await rig.status(tenant, fire.id, "running")
    for i in range(8):  # 3.2 s: over three heartbeat intervals
        r = await rig.report(d, "progress", {"percent": i * 10})
        assert r.status_code == 200, r.text
        await asyncio.sleep(0.4)
    assert (await rig.w.fire(tenant.id, fire.id)).status == "running"
    r = await rig.report(d, "complete", {"status": "succeeded"})
    assert r.status_code == 200, r.text
    done = await rig.status(tenant, fire.id, "succeeded")
    assert [a.number for a in done.attempts] == [1]
    assert len(rig.receiver.requests_to("/job")) == 1


async def test_heartbeats_never_push_past_the_total_timeout(rig: JobRig) -> None:
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant, job_timeout=1.5, heartbeat=1.0, retry=ONE_TRY)
    d = await rig.delivery(1)
    await rig.status(tenant, fire.id, "running")
    answers = []
    for _ in range(10):
        answers.append((await rig.report(d, "progress", {})).status_code)
        await asyncio.sleep(0.25)
    assert answers[0] == 200 and answers[-1] == 409
    failed = await rig.status(tenant, fire.id, "failed")
    assert failed.attempts[0].error == "job_timeout"


async def test_the_same_completion_twice_answers_the_same_and_another_is_refused(
    rig: JobRig,
) -> None:
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant)
    d = await rig.delivery(1)
    await rig.status(tenant, fire.id, "running")
    body = {"status": "succeeded", "result": {"a": 1}}
    first = await rig.report(d, "complete", body)
    again = await rig.report(d, "complete", body)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    other = await rig.report(d, "complete", {"status": "failed"})
    assert other.status_code == 409
    done = await rig.status(tenant, fire.id, "succeeded")
    assert len(done.attempts) == 1
    view = await rig.view(tenant, fire.id)
    assert view["job"]["result"] == {"a": 1}
    assert [x["status"] for x in view["job"]["late_completions"]] == ["failed"]


async def test_a_2xx_other_than_202_completes_at_once(rig: JobRig) -> None:
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant, replies=(Reply(200),))
    d = await rig.delivery(1)
    done = await rig.status(tenant, fire.id, "succeeded")
    assert [(a.status_code, a.outcome) for a in done.attempts] == [(200, "success")]
    r = await rig.report(d, "complete", {"status": "failed"})
    assert r.status_code == 409
    r = await rig.report(d, "progress", {"percent": 1})
    assert r.status_code == 409


async def test_a_completion_before_the_202_arrives_stands(rig: JobRig) -> None:
    # the endpoint completes the job itself, then answers 202 (slowly)
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant, replies=(Reply(202, delay=1.0),))
    d = await rig.delivery(1)
    r = await rig.report(d, "complete", {"status": "succeeded", "result": "fast"})
    assert r.status_code == 200, r.text
    done = await rig.status(tenant, fire.id, "succeeded")
    assert [(a.number, a.status_code, a.outcome) for a in done.attempts] == [(1, 202, "success")]


async def test_the_sdk_reports_for_a_verified_delivery(rig: JobRig) -> None:
    # given a job delivery, verified with the tenant's secret by the SDK's receiver helper
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant)
    d = await rig.delivery(1)
    ticket = JobTicket.verify(
        Webhook(tenant.secrets[0].secret),
        d.request.body,
        d.request.headers,
        api_base_url=rig.w.settings.api_base_url(),
    )
    await rig.status(tenant, fire.id, "running")

    # when the job reports through the SDK, from its own task
    async def job() -> None:
        async with AsyncJobReporter(ticket, http=rig.api) as reporter:
            running = await reporter.progress(percent=50, message="half")
            assert running.status == "running" and running.deadline_at is not None
            done = await reporter.succeed({"ok": True})
            assert done.status == "succeeded"
            with pytest.raises(ConflictError):
                await reporter.fail()

    await asyncio.create_task(job())

    # then the fire succeeded, and the SDK's client model reads it with its job
    await rig.status(tenant, fire.id, "succeeded")
    view = decode(SdkFire, await rig.view(tenant, fire.id))
    assert view.job is not None
    assert (view.job.state, view.job.result, view.job.percent) == ("succeeded", {"ok": True}, 50)
    assert [x.status for x in view.job.late_completions] == ["failed"]
