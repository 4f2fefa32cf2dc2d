"""The job metrics move as jobs run, on the real Redis and RabbitMQ: ``cronhook_jobs_running``
(a fleet-wide gauge read from Redis by whichever process refreshes its gauges),
``cronhook_jobs_started_total``, ``cronhook_jobs_ended_total{outcome}`` and
``cronhook_job_duration_seconds{outcome}`` (the invoker that ends the attempt)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from app.jobs.state import RUNNING_LEFTOVER_MS
from app.metrics import SystemMetrics
from app.models import RetrySettings
from app.observe import refresh_gauges
from app.store import Store, open_store
from tests.delivery.world import now_ms
from tests.jobs.rig import JobRig

pytestmark = pytest.mark.external_service

ONE_TRY = RetrySettings(max_attempts=1, min_backoff_seconds=0.2, max_backoff_seconds=0.3)


def sample(metric: object, name: str, **labels: str) -> float:
    """The value of one sample of a prometheus_client metric (0 when it has none yet)."""
    for family in metric.collect():  # type: ignore[attr-defined]
        for s in family.samples:
            if s.name == name and s.labels == labels:
                return float(s.value)
    return 0.0


@pytest.fixture
async def elsewhere(rig: JobRig, redis_url: str) -> AsyncIterator[Store]:
    """Another process's view of the same Redis: its own client, no invoker of its own."""
    prefix = rig.w.settings.prefix
    store = open_store(redis_url, prefix=prefix, shards=4, retention_s=3600, timeout=2)
    try:
        yield store
    finally:
        await store.aclose()


async def running_gauge(store: Store) -> float:
    gauges = SystemMetrics()
    await refresh_gauges(gauges, store, None)
    return sample(gauges.jobs_running, "cronhook_jobs_running")


def ended(rig: JobRig, outcome: str) -> tuple[float, float, float]:
    """(ended, duration count, duration sum) over the world's invokers for ``outcome``."""
    totals = [0.0, 0.0, 0.0]
    for inv in rig.w.invokers:
        m = inv.metrics
        totals[0] += sample(m.jobs_ended, "cronhook_jobs_ended_total", outcome=outcome)
        h = m.job_duration
        totals[1] += sample(h, "cronhook_job_duration_seconds_count", outcome=outcome)
        totals[2] += sample(h, "cronhook_job_duration_seconds_sum", outcome=outcome)
    return totals[0], totals[1], totals[2]


def started(rig: JobRig) -> float:
    return sum(
        sample(i.metrics.jobs_started, "cronhook_jobs_started_total") for i in rig.w.invokers
    )


async def test_a_job_that_runs_and_completes_moves_the_gauge_counters_and_duration(
    rig: JobRig, elsewhere: Store
) -> None:
    # given two tenants, each with a job that answered 202 and runs
    one, two = await rig.tenant(), await rig.tenant()
    first = await rig.job_fire(one, path="/a")
    second = await rig.job_fire(two, path="/b")
    d1, d2 = await rig.delivery(1, path="/a"), await rig.delivery(1, path="/b")
    await rig.status(one, first.id, "running")
    await rig.status(two, second.id, "running")

    # then every process sees both running, whichever invoker started them
    assert await running_gauge(elsewhere) == 2
    assert await running_gauge(rig.w.store) == 2
    assert started(rig) == 2
    assert ended(rig, "succeeded") == (0, 0, 0)

    # when the first job completes
    r = await rig.report(d1, "complete", {"status": "succeeded"})
    assert r.status_code == 200, r.text
    done = await rig.status(one, first.id, "succeeded")

    # then one runs, one ended as succeeded, its duration observed as the attempt recorded
    assert await running_gauge(elsewhere) == 1
    count, n, total = ended(rig, "succeeded")
    assert (count, n) == (1, 1)
    assert total == pytest.approx(done.attempts[0].duration_ms / 1000, abs=0.002)
    assert ended(rig, "timeout") == (0, 0, 0)

    # and a second completion of the same attempt moves nothing
    again = await rig.report(d1, "complete", {"status": "succeeded"})
    assert again.status_code == 200
    r = await rig.report(d2, "complete", {"status": "failed", "retry": False})
    assert r.status_code == 200, r.text
    await rig.status(two, second.id, "failed")
    assert await running_gauge(elsewhere) == 0
    assert ended(rig, "succeeded")[:2] == (1, 1)
    assert ended(rig, "failed")[:2] == (1, 1)
    assert started(rig) == 2


async def test_a_job_that_times_out_leaves_the_gauge_and_counts_as_a_timeout(
    rig: JobRig, elsewhere: Store
) -> None:
    # given a job with a 1 s timeout and no retry, that answers 202 and goes silent
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant, job_timeout=1.0, retry=ONE_TRY)
    await rig.delivery(1)
    await rig.status(tenant, fire.id, "running")
    assert await running_gauge(elsewhere) == 1

    # when its timeout passes
    failed = await rig.status(tenant, fire.id, "failed", within=10)

    # then it no longer runs, and it ended once, as a timeout of at least its timeout
    assert [a.error for a in failed.attempts] == ["job_timeout"]
    assert await running_gauge(elsewhere) == 0
    count, n, total = ended(rig, "timeout")
    assert (count, n) == (1, 1)
    assert total >= 1.0
    assert total == pytest.approx(failed.attempts[0].duration_ms / 1000, abs=0.002)
    assert ended(rig, "succeeded") == (0, 0, 0)
    name = "cronhook_invoker_attempt_errors_total"
    invokers = rig.w.invokers
    errors = sum(sample(i.metrics.attempt_errors, name, error="job_timeout") for i in invokers)
    assert errors == 1


async def test_a_timed_out_attempt_retried_counts_once_per_running_attempt(rig: JobRig) -> None:
    # given a silent job with a 1 s timeout and retries: attempt 1 times out, 2 runs
    tenant = await rig.tenant()
    fire = await rig.job_fire(tenant, job_timeout=1.0)
    await rig.delivery(1)
    second = await rig.delivery(2, within=10)
    await rig.status(tenant, fire.id, "running")
    # then only the running attempt counts (not the timed-out one beside it)
    assert await running_gauge(rig.w.store) == 1
    assert ended(rig, "timeout")[:2] == (1, 1)
    r = await rig.report(second, "complete", {"status": "succeeded"})
    assert r.status_code == 200, r.text
    await rig.status(tenant, fire.id, "succeeded")
    assert await running_gauge(rig.w.store) == 0
    assert started(rig) == 2


async def test_a_deleted_tenant_and_a_leftover_of_an_expired_job_count_for_nothing(
    rig: JobRig,
) -> None:
    # given a tenant with a running job, and a leftover entry of a job whose hash expired
    # long after its total timeout
    tenant, gone = await rig.tenant(), await rig.tenant()
    fire = await rig.job_fire(gone)
    await rig.delivery(1)
    await rig.status(gone, fire.id, "running")
    store = rig.w.store
    old = now_ms() - RUNNING_LEFTOVER_MS - 1000
    await store.client.sadd(store.keys.job_tenants, tenant.id)
    await store.client.zadd(store.keys.jobs_running(tenant.id), {"fire_expired": old})
    assert await running_gauge(store) == 1

    # when the running job's tenant is deleted
    assert await store.records.delete_tenant(gone.id)

    # then nothing is counted, and the deleted tenant is no longer read
    assert await running_gauge(store) == 0
    assert gone.id not in await store.client.smembers(store.keys.job_tenants)
